//! Core endpoints, one feature per file (mirroring Better Auth's `api/routes`): each file
//! declares its endpoints ([`crate::endpoint::Typed`]: method, path, key, input types and
//! rules, error codes, summary) next to their handlers, and [`CORE_ENDPOINTS`] lists them for
//! the app. Handlers read top to bottom: typed input (validated by the pipeline from the
//! declaration) → CSRF rules → session → act → respond. Each declaration is also the endpoint's
//! typed in-process function: `app.endpoint(&api::SIGN_UP_EMAIL)`.

mod account;
mod callback;
mod change_email;
mod delete_user;
mod email_verification;
mod ok;
mod password;
mod password_reset;
pub mod ready;
mod session;
mod sign_in;
mod sign_out;
mod sign_up;
mod social;
mod user;

pub use account::{
    AccountSelector, UnlinkAccountBody, ACCOUNT_INFO, GET_ACCESS_TOKEN, LIST_USER_ACCOUNTS, REFRESH_TOKEN,
    UNLINK_ACCOUNT,
};
pub use callback::{CallbackInput, CALLBACK_OAUTH, CALLBACK_OAUTH_POST};
pub use change_email::{ChangeEmailBody, CHANGE_EMAIL};
pub use delete_user::{DeleteUserBody, DELETE_USER, DELETE_USER_CALLBACK};
pub use email_verification::{SendVerificationEmailBody, SEND_VERIFICATION_EMAIL, VERIFY_EMAIL};
pub use ok::{ErrorPageQuery, ERROR, OK};
pub use password::{ChangePasswordBody, VerifyPasswordBody, CHANGE_PASSWORD, VERIFY_PASSWORD};
pub use password_reset::{
    RequestPasswordResetBody, ResetPasswordBody, ResetPasswordLinkQuery, ResetPasswordQuery, FORGET_PASSWORD,
    REQUEST_PASSWORD_RESET, REQUEST_PASSWORD_RESET_CALLBACK, RESET_PASSWORD,
};
pub use ready::{ReadyAnswer, READY};
pub use session::{
    GetSessionQuery, RevokeSessionBody, GET_SESSION, GET_SESSION_POST, LIST_SESSIONS, REVOKE_OTHER_SESSIONS,
    REVOKE_SESSION, REVOKE_SESSIONS, UPDATE_SESSION,
};
pub use sign_in::{SignInEmailBody, SIGN_IN_EMAIL};
pub use sign_out::{SignOutBody, SIGN_OUT};
pub use sign_up::{SignUpEmailBody, SIGN_UP_EMAIL};
pub use social::{IdTokenInput, SocialBody, LINK_SOCIAL_ACCOUNT, SIGN_IN_SOCIAL};
pub use user::{UpdateUserBody, UPDATE_USER};

use crate::endpoint::Declared;

/// Every core endpoint, in the order Better Auth's docs list them. Each is declared next to
/// its handler; this is the list the app mounts.
pub static CORE_ENDPOINTS: &[&dyn Declared] = &[
    &SIGN_UP_EMAIL,
    &SIGN_IN_EMAIL,
    &SIGN_IN_SOCIAL,
    &CALLBACK_OAUTH,
    &CALLBACK_OAUTH_POST,
    &GET_SESSION,
    &GET_SESSION_POST,
    &SIGN_OUT,
    &LIST_SESSIONS,
    &UPDATE_SESSION,
    &REVOKE_SESSION,
    &REVOKE_SESSIONS,
    &REVOKE_OTHER_SESSIONS,
    &UPDATE_USER,
    &CHANGE_PASSWORD,
    &VERIFY_PASSWORD,
    &SEND_VERIFICATION_EMAIL,
    &VERIFY_EMAIL,
    &REQUEST_PASSWORD_RESET,
    &FORGET_PASSWORD,
    &REQUEST_PASSWORD_RESET_CALLBACK,
    &RESET_PASSWORD,
    &CHANGE_EMAIL,
    &DELETE_USER,
    &DELETE_USER_CALLBACK,
    &LINK_SOCIAL_ACCOUNT,
    &LIST_USER_ACCOUNTS,
    &UNLINK_ACCOUNT,
    &REFRESH_TOKEN,
    &GET_ACCESS_TOKEN,
    &ACCOUNT_INFO,
    &OK,
    &READY,
    &ERROR,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::Router;
    use crate::http::Method;

    #[test]
    fn password_hashing_routes_are_declared_as_hashing() {
        let router = Router::new(CORE_ENDPOINTS.iter().map(|d| d.endpoint()).collect()).unwrap();
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
