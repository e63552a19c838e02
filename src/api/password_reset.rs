//! Password reset: `POST /request-password-reset` (and its alias
//! `POST /forget-password`, which Sesame keeps), `GET /reset-password/:token` (the emailed
//! link: a redirect to the app's form) and `POST /reset-password` (consumes the token).

use serde_json::json;

use crate::auth::email;
use crate::crypto;
use crate::endpoint::answers::StatusAnswer;
use crate::endpoint::mail::{self, Outgoing};
use crate::endpoint::session::{check_password_length, hash_password};
use crate::endpoint::{Ctx, Kind, NoInput, Produces, Transport, Typed};
use crate::error::{codes, ApiError};
use crate::http::js::encode_uri_component;
use crate::http::redirect::{check_query_callback, set_query_param};
use crate::http::{Request, Response};
use crate::mail::MailKind;
use crate::storage::models::Verification;
use crate::storage::ResetOutcome;

use crate::storage::RESET_PASSWORD_PREFIX as IDENTIFIER_PREFIX;
const SENT: &str = "If this email exists in our system, check your email for the reset link";

crate::input! {
    /// The body of `POST /request-password-reset`.
    pub struct RequestPasswordResetBody {
        email: String = "email" as Kind::Email,
        redirect_to: Option<String> = "redirectTo" as Kind::String,
    }
}

pub static REQUEST_PASSWORD_RESET: Typed<RequestPasswordResetBody, NoInput, StatusAnswer> = Typed::post(
    "/request-password-reset",
    "requestPasswordReset",
    request_password_reset,
)
.summary("Email a password reset link")
.errors(&[codes::INVALID_REDIRECT_URL]);

/// Better Auth's former name of [`REQUEST_PASSWORD_RESET`], which Sesame keeps; it shares
/// that endpoint's rate-limit rule and bucket.
pub static FORGET_PASSWORD: Typed<RequestPasswordResetBody, NoInput, StatusAnswer> =
    Typed::post("/forget-password", "forgetPassword", request_password_reset)
        .summary("Alias of /request-password-reset, kept by Sesame")
        .alias_of("/request-password-reset")
        .errors(&[codes::INVALID_REDIRECT_URL]);

crate::input! {
    /// The query of the emailed reset link.
    pub struct ResetPasswordLinkQuery {
        callback_url: String = "callbackURL" as Kind::String,
    }
}

pub static REQUEST_PASSWORD_RESET_CALLBACK: Typed<NoInput, ResetPasswordLinkQuery, serde_json::Value> = Typed::get(
    "/reset-password/:token",
    "requestPasswordResetCallback",
    reset_password_callback,
)
.summary("Open a password reset link: redirect to the app with the token")
.produces(Produces::Redirect)
.errors(&[codes::INVALID_CALLBACK_URL]);

crate::input! {
    /// The body of `POST /reset-password`: the token comes here or in the query.
    pub struct ResetPasswordBody {
        new_password: String = "newPassword" as Kind::String,
        token: Option<String> = "token" as Kind::String,
    }
}

crate::input! {
    /// The query of `POST /reset-password`.
    pub struct ResetPasswordQuery {
        token: Option<String> = "token" as Kind::String,
    }
}

pub static RESET_PASSWORD: Typed<ResetPasswordBody, ResetPasswordQuery, StatusAnswer> =
    Typed::post("/reset-password", "resetPassword", reset_password)
        .summary("Set a new password with a reset token")
        .hashing()
        .errors(&[
            codes::INVALID_TOKEN,
            codes::PASSWORD_TOO_SHORT,
            codes::PASSWORD_TOO_LONG,
            codes::USER_NOT_FOUND,
        ]);

fn request_password_reset(ctx: &Ctx<'_>, _req: &Request) -> Result<Response, ApiError> {
    let RequestPasswordResetBody {
        email: address,
        redirect_to,
    } = ctx.input()?;
    // A full mail queue answers 503 before the lookup, whoever the address belongs to.
    ctx.app.ensure_mail_room()?;
    let token = crypto::random_string(24);
    let Some(user) = ctx.storage().find_user_by_email(&email::normalize(&address))? else {
        // The same work as a known address, minus the email: a verification lookup.
        ctx.storage().find_verification("dummy-verification-token")?;
        return Ok(sent());
    };
    // Over the recipient's mail limit: no email and no token row (the same answer).
    if !mail::admit(ctx, MailKind::ResetPassword, &user.email) {
        return Ok(sent());
    }
    let expires_in = ctx.config().email.reset_password_expires_in;
    ctx.storage().create_verification(&Verification {
        id: crypto::new_id(),
        identifier: format!("{IDENTIFIER_PREFIX}{token}"),
        value: user.id.clone(),
        expires_at: ctx.now + time::Duration::seconds(expires_in),
        created_at: ctx.now,
        updated_at: ctx.now,
    })?;
    // Without redirectTo the link carries an empty callbackURL, as in Better Auth; opening it
    // then lands on the error page.
    let url = format!(
        "{}/reset-password/{token}?callbackURL={}",
        ctx.config().base_url(),
        encode_uri_component(redirect_to.as_deref().unwrap_or_default())
    );
    mail::queue_admitted(
        ctx,
        Outgoing {
            kind: MailKind::ResetPassword,
            to: &user.email,
            url,
            token,
            expires_in,
            new_email: None,
        },
    )?;
    Ok(sent())
}

fn sent() -> Response {
    Response::json(&json!({ "status": true, "message": SENT }))
}

/// The emailed link: `302 <callbackURL>?token=…` while the token is valid (it is not
/// consumed), else `302 <callbackURL or <baseURL>/error>?error=INVALID_TOKEN`.
fn reset_password_callback(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let ResetPasswordLinkQuery { callback_url } = ctx.query(req)?;
    // After validation, as Better Auth's originCheck middleware runs.
    if ctx.transport == Transport::Http {
        check_query_callback(&ctx.app.trusted, req)?;
    }
    let token = req.param("token").unwrap_or_default();
    let base = ctx.config().base_url();
    let invalid = || {
        let target = if callback_url.is_empty() {
            format!("{base}/error")
        } else {
            callback_url.clone()
        };
        Ok(Response::redirect(&set_query_param(
            &base,
            &target,
            "error",
            "INVALID_TOKEN",
        )))
    };
    if token.is_empty() || callback_url.is_empty() {
        return invalid();
    }
    match ctx
        .storage()
        .find_verification(&format!("{IDENTIFIER_PREFIX}{token}"))?
    {
        Some(row) if row.expires_at > ctx.now => Ok(Response::redirect(&set_query_param(
            &base,
            &callback_url,
            "token",
            token,
        ))),
        _ => invalid(),
    }
}

fn reset_password(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let ResetPasswordBody {
        new_password,
        token: body_token,
    } = ctx.input()?;
    let ResetPasswordQuery { token: query_token } = ctx.query(req)?;
    let Some(token) = body_token
        .filter(|t| !t.is_empty())
        .or(query_token)
        .filter(|t| !t.is_empty())
    else {
        return Err(ApiError::bad_request(codes::INVALID_TOKEN));
    };
    check_password_length(ctx, &new_password)?;
    let identifier = format!("{IDENTIFIER_PREFIX}{token}");
    // A cheap look first, so an unknown token costs no password hashing; the row is consumed
    // atomically with the password change below, so of two concurrent resets one wins.
    match ctx.storage().find_verification(&identifier)? {
        Some(row) if row.expires_at > ctx.now => {}
        _ => return Err(ApiError::bad_request(codes::INVALID_TOKEN)),
    }
    let hash = hash_password(ctx, &new_password)?;
    let revoke = ctx.config().email.revoke_sessions_on_password_reset;
    match ctx.storage().reset_password(&identifier, ctx.now, &hash, revoke)? {
        ResetOutcome::Done(_) => Ok(Response::json(&json!({ "status": true }))),
        ResetOutcome::InvalidToken => Err(ApiError::bad_request(codes::INVALID_TOKEN)),
        ResetOutcome::UserNotFound => Err(ApiError::bad_request(codes::USER_NOT_FOUND)),
    }
}
