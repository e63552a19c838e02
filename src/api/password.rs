//! `POST /change-password` (spec §3.9) and `POST /verify-password` (spec §3.13).

use serde_json::json;

use super::session::status_true;
use crate::auth::password;
use crate::auth::session::new_session;
use crate::endpoint::current::{self, SignedIn};
use crate::endpoint::session::{check_password_length, hash_password};
use crate::endpoint::validate::Fields;
use crate::endpoint::Ctx;
use crate::error::{codes, ApiError};
use crate::http::{Request, Response};
use crate::storage::SessionChange;

pub fn change_password(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let mut f = Fields::body(ctx.body.as_ref());
    let new_password = f.string("newPassword");
    let current_password = f.string("currentPassword");
    let revoke_others = f.opt_bool("revokeOtherSessions").unwrap_or(false);
    f.finish()?;
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
            &json!({ "token": null, "user": signed_in.user.to_json() }),
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
        &json!({ "token": session.token, "user": signed_in.user.to_json() }),
    ))
}

pub fn verify_password(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let mut f = Fields::body(ctx.body.as_ref());
    let pass = f.string("password");
    f.finish()?;
    let signed_in = current::require(ctx, req)?;
    crate::endpoint::session::count_password_attempt(ctx, "/verify-password", &format!("user|{}", signed_in.user.id))?;
    match credential_hash(ctx, &signed_in)? {
        Some(hash) if password::verify(&pass, &hash) => Ok(status_true()),
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
    if !password::verify(current_password, &hash) {
        return Err(ApiError::bad_request(codes::INVALID_PASSWORD));
    }
    Ok(())
}
