//! Core endpoints, one feature per file (mirroring Better Auth's `api/routes`), and
//! [`CORE_ROUTES`], the table the router is built from. Handlers read top to bottom:
//! validate → check CSRF rules → resolve the session → act → respond.

mod account;
mod callback;
mod change_email;
mod delete_user;
mod email_verification;
mod ok;
mod password;
mod password_reset;
mod session;
mod sign_in;
mod sign_out;
mod sign_up;
mod social;
mod user;

use crate::endpoint::Route;

/// Every core route, in the order Better Auth's docs list them. Keys are `auth.api` keys.
pub const CORE_ROUTES: &[Route] = &[
    Route::post(
        "/sign-up/email",
        "signUpEmail",
        sign_up::sign_up_email,
        "Sign up with email and password",
    )
    .accepting_forms()
    .hashing(),
    Route::post(
        "/sign-in/email",
        "signInEmail",
        sign_in::sign_in_email,
        "Sign in with email and password",
    )
    .accepting_forms()
    .hashing(),
    Route::post(
        "/sign-in/social",
        "signInSocial",
        social::sign_in_social,
        "Sign in with a social provider (redirect URL or idToken)",
    ),
    Route::get(
        "/callback/:provider",
        "callbackOAuth",
        callback::callback_get,
        "OAuth redirect target: state, code exchange, session, 302",
    ),
    Route::post(
        "/callback/:provider",
        "callbackOAuthPost",
        callback::callback_post,
        "form_post OAuth callback: 302 to the GET form",
    )
    .accepting_forms(),
    Route::get(
        "/get-session",
        "getSession",
        session::get_session,
        "The current session and user, or null",
    ),
    Route::post(
        "/get-session",
        "getSessionPost",
        session::get_session_post,
        "Refused: deferred session refresh is not enabled",
    ),
    Route::post(
        "/sign-out",
        "signOut",
        sign_out::sign_out,
        "Sign out and clear the session cookies",
    ),
    Route::get(
        "/list-sessions",
        "listSessions",
        session::list_sessions,
        "The user's active sessions (fresh session)",
    ),
    Route::post(
        "/revoke-session",
        "revokeSession",
        session::revoke_session,
        "Revoke one of the user's sessions",
    ),
    Route::post(
        "/revoke-sessions",
        "revokeSessions",
        session::revoke_sessions,
        "Revoke every session of the user",
    ),
    Route::post(
        "/revoke-other-sessions",
        "revokeOtherSessions",
        session::revoke_other_sessions,
        "Revoke every other session of the user",
    ),
    Route::post(
        "/update-user",
        "updateUser",
        user::update_user,
        "Update the user's name or image",
    ),
    Route::post(
        "/update-session",
        "updateSession",
        session::update_session,
        "Update the session's additional fields (Sesame's sessions have none)",
    ),
    Route::post(
        "/change-password",
        "changePassword",
        password::change_password,
        "Change the password",
    )
    .hashing(),
    Route::post(
        "/verify-password",
        "verifyPassword",
        password::verify_password,
        "Check the current user's password",
    )
    .hashing(),
    Route::post(
        "/send-verification-email",
        "sendVerificationEmail",
        email_verification::send_verification_email,
        "Email a verification link",
    ),
    Route::get(
        "/verify-email",
        "verifyEmail",
        email_verification::verify_email,
        "Open a verification link (also the steps of an email change)",
    ),
    Route::post(
        "/request-password-reset",
        "requestPasswordReset",
        password_reset::request_password_reset,
        "Email a password reset link",
    ),
    Route::post(
        "/forget-password",
        "forgetPassword",
        password_reset::request_password_reset,
        "Alias of /request-password-reset, kept by Sesame",
    )
    .alias_of("/request-password-reset"),
    Route::get(
        "/reset-password/:token",
        "requestPasswordResetCallback",
        password_reset::reset_password_callback,
        "Open a password reset link: redirect to the app with the token",
    ),
    Route::post(
        "/reset-password",
        "resetPassword",
        password_reset::reset_password,
        "Set a new password with a reset token",
    )
    .hashing(),
    Route::post(
        "/change-email",
        "changeEmail",
        change_email::change_email,
        "Start changing the email address (SESAME_CHANGE_EMAIL)",
    ),
    Route::post(
        "/delete-user",
        "deleteUser",
        delete_user::delete_user,
        "Delete the account, or email a link that does (SESAME_DELETE_USER)",
    )
    .hashing(),
    Route::get(
        "/delete-user/callback",
        "deleteUserCallback",
        delete_user::delete_user_callback,
        "Open an account deletion link",
    ),
    Route::post(
        "/link-social",
        "linkSocialAccount",
        social::link_social,
        "Link a social account to the current user",
    ),
    Route::get(
        "/list-accounts",
        "listUserAccounts",
        account::list_accounts,
        "The user's accounts, without tokens",
    ),
    Route::post(
        "/unlink-account",
        "unlinkAccount",
        account::unlink_account,
        "Unlink an account (fresh session; never the last one)",
    ),
    Route::post(
        "/refresh-token",
        "refreshToken",
        account::refresh_token,
        "Refresh an account's provider tokens",
    ),
    Route::post(
        "/get-access-token",
        "getAccessToken",
        account::get_access_token,
        "A valid provider access token, refreshed when expired",
    ),
    Route::get(
        "/account-info",
        "accountInfo",
        account::account_info,
        "The provider's profile for an account",
    ),
    Route::get("/ok", "ok", ok::ok, "Health check"),
    Route::get("/error", "error", ok::error_page, "HTML error page"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::Router;
    use crate::http::Method;

    #[test]
    fn password_hashing_routes_run_on_the_slow_lane() {
        let router = Router::new(CORE_ROUTES.to_vec()).unwrap();
        for path in [
            "/sign-up/email",
            "/sign-in/email",
            "/change-password",
            "/reset-password",
            "/verify-password",
        ] {
            assert!(router.is_slow(&Method::Post, path), "{path}");
        }
        for (m, path) in [
            (Method::Get, "/get-session"),
            (Method::Post, "/sign-out"),
            (Method::Get, "/ok"),
        ] {
            assert!(!router.is_slow(&m, path), "{path}");
        }
        assert!(
            !router.is_slow(&Method::Get, "/sign-in/email"),
            "wrong method is not slow"
        );
    }
}
