//! `POST /change-password` and `POST /verify-password`.

use serde_json::json;

use super::session::status_true;
use crate::auth::password;
use crate::auth::session::new_session;
use crate::endpoint::answers::{StatusAnswer, TokenAnswer};
use crate::endpoint::current::{self, SignedIn};
use crate::endpoint::session::{check_password_length, hash_password};
use crate::endpoint::{Ctx, Kind, NoInput, Typed};
use crate::error::{codes, ApiError};
use crate::http::{Request, Response};
use crate::storage::SessionChange;

crate::input! {
    /// The body of `POST /change-password`.
    pub struct ChangePasswordBody {
        new_password: String = "newPassword" as Kind::String,
        current_password: String = "currentPassword" as Kind::String,
        revoke_other_sessions: Option<bool> = "revokeOtherSessions" as Kind::Boolean,
    }
}

pub static CHANGE_PASSWORD: Typed<ChangePasswordBody, NoInput, TokenAnswer> =
    Typed::post("/change-password", "changePassword", change_password)
        .summary("Change the password")
        .session()
        .hashing()
        .errors(&[
            codes::UNAUTHORIZED,
            codes::PASSWORD_TOO_SHORT,
            codes::PASSWORD_TOO_LONG,
            codes::CREDENTIAL_ACCOUNT_NOT_FOUND,
            codes::INVALID_PASSWORD,
        ]);

crate::input! {
    /// The body of `POST /verify-password`.
    pub struct VerifyPasswordBody {
        password: String = "password" as Kind::String,
    }
}

pub static VERIFY_PASSWORD: Typed<VerifyPasswordBody, NoInput, StatusAnswer> =
    Typed::post("/verify-password", "verifyPassword", verify_password)
        .summary("Check the current user's password")
        .session()
        .hashing()
        .errors(&[codes::UNAUTHORIZED, codes::INVALID_PASSWORD]);

fn change_password(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let ChangePasswordBody {
        new_password,
        current_password,
        revoke_other_sessions,
    } = ctx.input()?;
    let revoke_others = revoke_other_sessions.unwrap_or(false);
    let signed_in = current::require(ctx, req)?;
    check_password_length(ctx, &new_password)?;
    if password::length(&current_password) > ctx.config().max_password_length {
        return Err(ApiError::bad_request(codes::PASSWORD_TOO_LONG));
    }
    crate::endpoint::session::count_password_attempt(ctx, "/change-password", &format!("user|{}", signed_in.user.id))?;
    check_current_password(ctx, &signed_in, &current_password)?;
    let hash = hash_password(ctx, &new_password)?;
    // The storage ends every outstanding reset token with the change (`set_password`).
    if !revoke_others {
        ctx.storage()
            .set_password(&signed_in.user.id, &hash, ctx.now, &SessionChange::Keep, true)?;
        return Ok(Response::json(
            &json!({ "token": null, "user": ctx.user_json(&signed_in.user) }),
        ));
    }
    // Every session goes, the current one included; a new one replaces it in the same
    // transaction as the password change. A rememberMe=false session is replaced by another
    // one (Better Auth gives the new row the full lifetime and keeps only the browser-session
    // cookie; the short lifetime belongs to the row here).
    let user_agent = req.header("user-agent").unwrap_or_default().to_string();
    let session = new_session(
        &signed_in.user.id,
        ctx.now,
        ctx.config(),
        !signed_in.dont_remember,
        ctx.client_ip(req),
        user_agent,
    );
    ctx.storage().set_password(
        &signed_in.user.id,
        &hash,
        ctx.now,
        &SessionChange::RevokeAllAndCreate(session.clone()),
        true,
    )?;
    ctx.set_session_cookie(&session.token, signed_in.dont_remember);
    Ok(Response::json(
        &json!({ "token": session.token, "user": ctx.user_json(&signed_in.user) }),
    ))
}

fn verify_password(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let VerifyPasswordBody { password: pass } = ctx.input()?;
    let signed_in = current::require(ctx, req)?;
    crate::endpoint::session::count_password_attempt(ctx, "/verify-password", &format!("user|{}", signed_in.user.id))?;
    match credential_hash(ctx, &signed_in)? {
        Some(hash) if ctx.verify_password(&pass, &hash)? => Ok(status_true()),
        _ => Err(ApiError::bad_request(codes::INVALID_PASSWORD)),
    }
}

fn credential_hash(ctx: &Ctx<'_>, signed_in: &SignedIn) -> Result<Option<String>, ApiError> {
    Ok(ctx
        .storage()
        .find_credential_account(&signed_in.user.id)?
        .and_then(|a| a.password))
}

fn check_current_password(ctx: &Ctx<'_>, signed_in: &SignedIn, current_password: &str) -> Result<(), ApiError> {
    let Some(hash) = credential_hash(ctx, signed_in)? else {
        return Err(ApiError::bad_request(codes::CREDENTIAL_ACCOUNT_NOT_FOUND));
    };
    if !ctx.verify_password(current_password, &hash)? {
        return Err(ApiError::bad_request(codes::INVALID_PASSWORD));
    }
    Ok(())
}
