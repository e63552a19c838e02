//! Session endpoints: `GET /get-session`, `POST /update-session`, `GET /list-sessions`,
//! `POST /revoke-session`, `/revoke-sessions`, `/revoke-other-sessions`.

use serde_json::{json, Value};

use crate::endpoint::answers::{SessionAnswer, SignedInAnswer, StatusAnswer};
use crate::endpoint::validate::query_flag;
use crate::endpoint::{answer_json, current};
use crate::endpoint::{Ctx, Kind, NoInput, Typed};
use crate::error::{codes, ApiError};
use crate::http::{Request, Response};

crate::input! {
    /// The query of `GET /get-session`: flags Better Auth reads with JavaScript truthiness.
    pub struct GetSessionQuery {
        disable_cookie_cache: Option<Value> = "disableCookieCache" as Kind::Flag,
        disable_refresh: Option<Value> = "disableRefresh" as Kind::Flag,
    }
}

pub static GET_SESSION: Typed<NoInput, GetSessionQuery, Option<SignedInAnswer>> =
    Typed::get("/get-session", "getSession", get_session)
        .summary("The current session and user, or null")
        .errors(&[codes::FAILED_TO_GET_SESSION]);

pub static GET_SESSION_POST: Typed<NoInput, NoInput, Value> =
    Typed::post("/get-session", "getSessionPost", get_session_post)
        .summary("Refused: deferred session refresh is not enabled")
        .errors(&[codes::METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED]);

pub static UPDATE_SESSION: Typed<NoInput, NoInput, Value> =
    Typed::post("/update-session", "updateSession", update_session)
        .summary("Update the session's additional fields (Sesame's sessions have none)")
        .record()
        .session()
        .errors(&[codes::UNAUTHORIZED, codes::NO_FIELDS_TO_UPDATE]);

pub static LIST_SESSIONS: Typed<NoInput, NoInput, Vec<SessionAnswer>> =
    Typed::get("/list-sessions", "listSessions", list_sessions)
        .summary("The user's active sessions (fresh session)")
        .session()
        .errors(&[codes::UNAUTHORIZED, codes::SESSION_NOT_FRESH]);

crate::input! {
    /// The body of `POST /revoke-session`.
    pub struct RevokeSessionBody {
        token: String = "token" as Kind::String,
    }
}

pub static REVOKE_SESSION: Typed<RevokeSessionBody, NoInput, StatusAnswer> =
    Typed::post("/revoke-session", "revokeSession", revoke_session)
        .summary("Revoke one of the user's sessions")
        .session()
        .errors(&[codes::UNAUTHORIZED]);

pub static REVOKE_SESSIONS: Typed<NoInput, NoInput, StatusAnswer> =
    Typed::post("/revoke-sessions", "revokeSessions", revoke_sessions)
        .summary("Revoke every session of the user")
        .session()
        .errors(&[codes::UNAUTHORIZED]);

pub static REVOKE_OTHER_SESSIONS: Typed<NoInput, NoInput, StatusAnswer> =
    Typed::post("/revoke-other-sessions", "revokeOtherSessions", revoke_other_sessions)
        .summary("Revoke every other session of the user")
        .session()
        .errors(&[codes::UNAUTHORIZED]);

fn get_session(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    // Sesame keeps no cookie cache, so `disableCookieCache` changes nothing.
    let disable_refresh = query_flag(req, "disableRefresh");
    let signed_in = current::resolve(ctx, req, disable_refresh)?;
    let body = answer_json::get_session_body(ctx, signed_in.as_ref())
        .map_err(|e| ApiError::internal().with_cause("writing the session answer", &e.into()))?;
    Ok(Response::json_bytes(body)
        .with_header("cache-control", "no-store")
        .with_header("pragma", "no-cache"))
}

/// `POST /get-session` exists in Better Auth only with `deferSessionRefresh`, which Sesame
/// does not offer; it keeps Better Auth's answer.
fn get_session_post(_ctx: &Ctx<'_>, _req: &Request) -> Result<Response, ApiError> {
    Err(ApiError::new(405, codes::METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED).with_header("allow", "GET"))
}

/// `POST /update-session`: Better Auth writes the body's *additional session fields* (its
/// `session.additionalFields` and plugin session fields) and ignores every other key, core
/// fields such as `expiresAt` or `userId` included. Sesame's sessions have no additional
/// fields, so a signed-in caller always gets Better Auth's answer for that case: 400 "No
/// fields to update". The order of the checks is Better Auth's: the body must be an object
/// (400 `VALIDATION_ERROR`, before the session), then the session (401).
fn update_session(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    current::require(ctx, req)?;
    Err(ApiError::bad_request(codes::NO_FIELDS_TO_UPDATE))
}

fn list_sessions(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let signed_in = current::require_fresh(ctx, req)?;
    let sessions: Vec<Value> = ctx
        .storage()
        .list_user_sessions(&signed_in.user.id)?
        .iter()
        .filter(|s| s.expires_at > ctx.now)
        .map(|s| ctx.session_json(s))
        .collect();
    Ok(Response::json(&Value::Array(sessions)))
}

fn revoke_session(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let RevokeSessionBody { token } = ctx.input()?;
    let signed_in = current::require(ctx, req)?;
    // Always the same answer: an unknown or foreign token is not revealed.
    ctx.storage().delete_user_session(&signed_in.user.id, &token)?;
    if token == signed_in.session.token {
        ctx.expire_session_cookies();
    }
    Ok(status_true())
}

fn revoke_sessions(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let signed_in = current::require(ctx, req)?;
    ctx.storage().delete_user_sessions(&signed_in.user.id)?;
    // Better Auth 1.7.25 clears the cookies here (the spec, written for 1.7.1, says it does not).
    ctx.expire_session_cookies();
    Ok(status_true())
}

fn revoke_other_sessions(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let signed_in = current::require(ctx, req)?;
    ctx.storage()
        .delete_other_sessions(&signed_in.user.id, &signed_in.session.token)?;
    Ok(status_true())
}

pub(crate) fn status_true() -> Response {
    Response::json(&json!({ "status": true }))
}
