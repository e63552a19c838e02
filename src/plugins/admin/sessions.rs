//! `/admin/ban-user`, `/admin/unban-user`, `/admin/list-user-sessions`,
//! `/admin/revoke-user-session` and `/admin/revoke-user-sessions`.

use serde_json::{json, Value};

use super::ops;
use super::users::UserWrapped;
use super::*;
use crate::endpoint::answers::{SessionAnswer, SuccessAnswer};
use crate::endpoint::{Kind, NoInput, Typed};
use crate::error::codes;

crate::input! {
    /// The body of `POST /admin/ban-user`.
    pub struct BanUserBody {
        user_id: Option<Value> = "userId" as Kind::Any,
        ban_reason: Option<String> = "banReason" as Kind::String,
        /// Seconds until the ban lifts itself.
        ban_expires_in: Option<f64> = "banExpiresIn" as Kind::Number,
    }
}

pub static BAN_USER: Typed<BanUserBody, NoInput, UserWrapped> = Typed::post("/admin/ban-user", "banUser", ban_user)
    .summary("Ban a user")
    .errors(&[
        codes::UNAUTHORIZED,
        YOU_ARE_NOT_ALLOWED_TO_BAN_USERS,
        codes::USER_NOT_FOUND,
        YOU_CANNOT_BAN_YOURSELF,
    ]);

/// The longest ban end Sesame stores: 100 years (Better Auth takes any number of seconds).
const MAX_BAN_SECONDS: f64 = 100.0 * 365.0 * 86_400.0;

fn ban_user(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let body: BanUserBody = ctx.input()?;
    let s = caller(ctx, req)?;
    require(ctx, &s, &[("user", &["ban"])], YOU_ARE_NOT_ALLOWED_TO_BAN_USERS)?;
    let user_id = coerce(&body.user_id);
    ops::existing(ctx.storage(), &user_id)?;
    if user_id == s.user.id {
        return Err(ApiError::bad_request(YOU_CANNOT_BAN_YOURSELF));
    }
    // `banExpiresIn: 0` is falsy in Better Auth: a ban without end.
    let expires = body.ban_expires_in.filter(|n| *n != 0.0).map(|secs| {
        let ms = (secs.clamp(-MAX_BAN_SECONDS, MAX_BAN_SECONDS) * 1000.0) as i64;
        ctx.now + time::Duration::milliseconds(ms)
    });
    let user = ops::ban(ctx.storage(), &user_id, body.ban_reason, expires, ctx.now)?;
    Ok(Response::json(&json!({ "user": ctx.user_json(&user) })))
}

crate::input! {
    /// The body of `/admin/unban-user`, `/admin/list-user-sessions` and
    /// `/admin/revoke-user-sessions`.
    pub struct UserIdBody {
        user_id: Option<Value> = "userId" as Kind::Any,
    }
}

pub static UNBAN_USER: Typed<UserIdBody, NoInput, UserWrapped> =
    Typed::post("/admin/unban-user", "unbanUser", unban_user)
        .summary("Unban a user")
        .errors(&[
            codes::UNAUTHORIZED,
            YOU_ARE_NOT_ALLOWED_TO_BAN_USERS,
            codes::USER_NOT_FOUND,
        ]);

fn unban_user(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let body: UserIdBody = ctx.input()?;
    let s = caller(ctx, req)?;
    require(ctx, &s, &[("user", &["ban"])], YOU_ARE_NOT_ALLOWED_TO_BAN_USERS)?;
    let user = ops::unban(ctx.storage(), &coerce(&body.user_id), ctx.now)?;
    Ok(Response::json(&json!({ "user": ctx.user_json(&user) })))
}

/// `{sessions}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SessionList {
    pub sessions: Vec<SessionAnswer>,
}

pub static LIST_USER_SESSIONS: Typed<UserIdBody, NoInput, SessionList> =
    Typed::post("/admin/list-user-sessions", "listUserSessions", list_user_sessions)
        .summary("List user sessions")
        .errors(&[codes::UNAUTHORIZED, YOU_ARE_NOT_ALLOWED_TO_LIST_USERS_SESSIONS]);

fn list_user_sessions(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let body: UserIdBody = ctx.input()?;
    let s = caller(ctx, req)?;
    require(
        ctx,
        &s,
        &[("session", &["list"])],
        YOU_ARE_NOT_ALLOWED_TO_LIST_USERS_SESSIONS,
    )?;
    let sessions: Vec<Value> = ctx
        .storage()
        .list_user_sessions(&coerce(&body.user_id))?
        .iter()
        .filter(|s| s.expires_at > ctx.now)
        .map(|s| ctx.session_json(s))
        .collect();
    Ok(Response::json(&json!({ "sessions": sessions })))
}

crate::input! {
    /// The body of `POST /admin/revoke-user-session`.
    pub struct RevokeUserSessionBody {
        session_token: String = "sessionToken" as Kind::String,
    }
}

pub static REVOKE_USER_SESSION: Typed<RevokeUserSessionBody, NoInput, SuccessAnswer> =
    Typed::post("/admin/revoke-user-session", "revokeUserSession", revoke_user_session)
        .summary("Revoke a user session")
        .errors(&[codes::UNAUTHORIZED, YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS]);

fn revoke_user_session(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let RevokeUserSessionBody { session_token } = ctx.input()?;
    let s = caller(ctx, req)?;
    require(
        ctx,
        &s,
        &[("session", &["revoke"])],
        YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS,
    )?;
    ctx.storage().delete_session(&session_token)?;
    Ok(Response::json(&json!({ "success": true })))
}

pub static REVOKE_USER_SESSIONS: Typed<UserIdBody, NoInput, SuccessAnswer> = Typed::post(
    "/admin/revoke-user-sessions",
    "revokeUserSessions",
    revoke_user_sessions,
)
.summary("Revoke all user sessions")
.errors(&[codes::UNAUTHORIZED, YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS]);

fn revoke_user_sessions(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let body: UserIdBody = ctx.input()?;
    let s = caller(ctx, req)?;
    require(
        ctx,
        &s,
        &[("session", &["revoke"])],
        YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS,
    )?;
    ops::revoke_sessions(ctx.storage(), &coerce(&body.user_id))?;
    Ok(Response::json(&json!({ "success": true })))
}
