//! Session endpoints: `GET /get-session`, `POST /update-session`, `GET /list-sessions`,
//! `POST /revoke-session`, `/revoke-sessions`, `/revoke-other-sessions`.

use serde_json::{json, Value};

use crate::endpoint::current;
use crate::endpoint::validate::{self, query_flag, Fields};
use crate::endpoint::Ctx;
use crate::error::{codes, ApiError};
use crate::http::{Request, Response};

pub fn get_session(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    // Sesame keeps no cookie cache, so `disableCookieCache` changes nothing.
    let disable_refresh = query_flag(req, "disableRefresh");
    let body = match current::resolve(ctx, req, disable_refresh)? {
        Some(s) => json!({ "session": s.session.to_json(), "user": s.user.to_json() }),
        None => Value::Null,
    };
    Ok(Response::json(&body)
        .with_header("cache-control", "no-store")
        .with_header("pragma", "no-cache"))
}

/// `POST /get-session` exists in Better Auth only with `deferSessionRefresh`, which Sesame
/// does not offer; it keeps Better Auth's answer.
pub fn get_session_post(_ctx: &Ctx<'_>, _req: &Request) -> Result<Response, ApiError> {
    Err(ApiError::new(405, codes::METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED).with_header("allow", "GET"))
}

/// `POST /update-session`: Better Auth writes the body's *additional session fields* (its
/// `session.additionalFields` and plugin session fields) and ignores every other key, core
/// fields such as `expiresAt` or `userId` included. Sesame's sessions have no additional
/// fields, so a signed-in caller always gets Better Auth's answer for that case: 400 "No
/// fields to update". The order of the checks is Better Auth's: the body must be an object
/// (400 `VALIDATION_ERROR`, before the session), then the session (401).
pub fn update_session(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    validate::record(ctx.body.as_ref())?;
    current::require(ctx, req)?;
    Err(ApiError::bad_request(codes::NO_FIELDS_TO_UPDATE))
}

pub fn list_sessions(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let signed_in = current::require_fresh(ctx, req)?;
    let sessions: Vec<Value> = ctx
        .storage()
        .list_user_sessions(&signed_in.user.id)?
        .iter()
        .filter(|s| s.expires_at > ctx.now)
        .map(|s| s.to_json())
        .collect();
    Ok(Response::json(&Value::Array(sessions)))
}

pub fn revoke_session(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let mut f = Fields::body(ctx.body.as_ref());
    let token = f.string("token");
    f.finish()?;
    let signed_in = current::require(ctx, req)?;
    // Always the same answer: an unknown or foreign token is not revealed.
    ctx.storage().delete_user_session(&signed_in.user.id, &token)?;
    if token == signed_in.session.token {
        ctx.expire_session_cookies();
    }
    Ok(status_true())
}

pub fn revoke_sessions(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let signed_in = current::require(ctx, req)?;
    ctx.storage().delete_user_sessions(&signed_in.user.id)?;
    // Better Auth 1.7.25 clears the cookies here (the spec, written for 1.7.1, says it does not).
    ctx.expire_session_cookies();
    Ok(status_true())
}

pub fn revoke_other_sessions(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let signed_in = current::require(ctx, req)?;
    ctx.storage()
        .delete_other_sessions(&signed_in.user.id, &signed_in.session.token)?;
    Ok(status_true())
}

pub(crate) fn status_true() -> Response {
    Response::json(&json!({ "status": true }))
}
