//! Resolving the signed-in session from a request (spec §4.5): the signed `session_token`
//! cookie, the row and its user in one lookup, expiry, and the sliding refresh. Every
//! authenticated endpoint goes through here, so any of them may refresh the session and set
//! a cookie, as in Better Auth.

use super::Ctx;
use crate::auth::session;
use crate::error::{codes, ApiError};
use crate::http::{cookies, Request};
use crate::storage::models::{Session, User};

/// A valid session and its user.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub session: Session,
    pub user: User,
    /// The session was created with rememberMe=false.
    pub dont_remember: bool,
}

/// The session token from the signed cookie, if present and correctly signed.
pub fn session_token(ctx: &Ctx<'_>, req: &Request) -> Option<String> {
    let header = req.cookie_header();
    ctx.app
        .cookies
        .read_signed(ctx.secret(), header.as_deref(), "session_token")
}

/// The current session, refreshing it when due unless `disable_refresh`. A bad signature is
/// "no session" with no cookie changes; a missing or expired row clears the cookies (and an
/// expired row is deleted).
pub fn resolve(ctx: &Ctx<'_>, req: &Request, disable_refresh: bool) -> Result<Option<SignedIn>, ApiError> {
    expire_cookie_cache(ctx, req);
    let Some(token) = session_token(ctx, req) else {
        return Ok(None);
    };
    let header = req.cookie_header();
    let dont_remember_cookie = ctx
        .app
        .cookies
        .read_signed(ctx.secret(), header.as_deref(), "dont_remember")
        .is_some();
    let Some((session, user)) = ctx.storage().find_session_with_user(&token)? else {
        ctx.expire_session_cookies();
        return Ok(None);
    };
    // The row decides; Better Auth's cookie can only shorten (a Better Auth row has no flag).
    let dont_remember = dont_remember_cookie || session.dont_remember_me;
    if session::is_expired(&session, ctx.now) {
        ctx.storage().delete_session(&token)?;
        ctx.expire_session_cookies();
        return Ok(None);
    }
    if dont_remember || disable_refresh || !session::needs_refresh(&session, ctx.now, ctx.config()) {
        return Ok(Some(SignedIn {
            session,
            user,
            dont_remember,
        }));
    }
    let expires_at = ctx.now + time::Duration::seconds(ctx.config().session_expires_in);
    match ctx.storage().refresh_session(&token, expires_at, ctx.now)? {
        Some(session) => {
            ctx.set_session_cookie(&session.token, false);
            Ok(Some(SignedIn {
                session,
                user,
                dont_remember,
            }))
        }
        None => {
            ctx.expire_session_cookies();
            Err(ApiError::new(401, codes::FAILED_TO_GET_SESSION))
        }
    }
}

/// Sesame keeps no cookie cache, so a `session_data` cookie (or its `.N` chunks) left behind by
/// a Better Auth deployment that had the cache on is expired, as Better Auth does whenever its
/// cache is off.
fn expire_cookie_cache(ctx: &Ctx<'_>, req: &Request) {
    let Some(header) = req.cookie_header() else {
        return;
    };
    let base = ctx.app.cookies.name("session_data");
    let stale: Vec<String> = cookies::names(&header)
        .filter_map(|name| {
            let suffix = name.strip_prefix(base.as_str())?;
            let is_chunk = suffix.strip_prefix('.').is_some_and(|n| {
                !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && (n == "0" || !n.starts_with('0'))
            });
            (suffix.is_empty() || is_chunk).then(|| format!("session_data{suffix}"))
        })
        .collect();
    for short in stale {
        ctx.add_cookie(ctx.app.cookies.expire(&short));
    }
}

/// A session is required: 401 `UNAUTHORIZED` without one.
pub fn require(ctx: &Ctx<'_>, req: &Request) -> Result<SignedIn, ApiError> {
    resolve(ctx, req, false)?.ok_or_else(ApiError::unauthorized)
}

/// A fresh session is required: 403 `SESSION_NOT_FRESH` when it is older than `freshAge`.
pub fn require_fresh(ctx: &Ctx<'_>, req: &Request) -> Result<SignedIn, ApiError> {
    let signed_in = require(ctx, req)?;
    if !session::is_fresh(&signed_in.session, ctx.now, ctx.config().session_fresh_age) {
        return Err(ApiError::new(403, codes::SESSION_NOT_FRESH));
    }
    Ok(signed_in)
}
