//! Flows several endpoints share around sessions and passwords: creating a session for a
//! signed-in user, the password policy and hashing, counting a password attempt per account,
//! and a password sign-in (email and the username plugin's both end here).

use serde_json::{json, Map, Value};

use super::Ctx;
use crate::auth::password;
use crate::auth::session::new_session;
use crate::error::{codes, ApiError};
use crate::http::{Request, Response};
use crate::storage::models::{Account, Session, User};
use crate::storage::SessionChange;

/// Creates and stores a session for the user, recording the client address and user agent.
pub fn create_session(ctx: &Ctx<'_>, req: &Request, user_id: &str, remember: bool) -> Result<Session, ApiError> {
    create_session_with(ctx, req, user_id, remember, |_| {})
}

/// [`create_session`], with the row adjusted before it is stored (an impersonation's marker
/// and lifetime). Every enabled plugin may refuse the session first (a ban).
pub fn create_session_with(
    ctx: &Ctx<'_>,
    req: &Request,
    user_id: &str,
    remember: bool,
    adjust: impl FnOnce(&mut Session),
) -> Result<Session, ApiError> {
    admit(ctx, user_id)?;
    let user_agent = req.header("user-agent").unwrap_or_default().to_string();
    let mut session = new_session(user_id, ctx.now, ctx.config(), remember, ctx.client_ip(req), user_agent);
    adjust(&mut session);
    ctx.storage().create_session(&session)?;
    ctx.app.metrics.sessions_created.inc();
    Ok(session)
}

/// Every enabled plugin's say on a new session for the user (the admin plugin refuses a
/// banned user and lifts an expired ban).
pub fn admit(ctx: &Ctx<'_>, user_id: &str) -> Result<(), ApiError> {
    for p in &ctx.app.plugins {
        p.hooks.before_session_create(ctx, user_id)?;
    }
    Ok(())
}

/// The configured password length policy (UTF-16 units, as Better Auth counts).
pub fn check_password_length(ctx: &Ctx<'_>, password: &str) -> Result<(), ApiError> {
    let len = password::length(password);
    if len < ctx.config().min_password_length {
        return Err(ApiError::bad_request(codes::PASSWORD_TOO_SHORT));
    }
    if len > ctx.config().max_password_length {
        return Err(ApiError::bad_request(codes::PASSWORD_TOO_LONG));
    }
    Ok(())
}

/// Hashes a new password with the configured scheme.
pub fn hash_password(ctx: &Ctx<'_>, pass: &str) -> Result<String, ApiError> {
    ctx.hash_password(pass)
}

/// Counts a password attempt against the account's bucket before the password is checked
/// (`ratelimit::RateLimiter::check_password_attempt`): 429 when it is full, 503 when it cannot
/// be recorded. HTTP only: in-process calls are never limited.
pub fn count_password_attempt(ctx: &Ctx<'_>, path: &str, account: &str) -> Result<(), ApiError> {
    if ctx.transport != super::Transport::Http {
        return Ok(());
    }
    let now_ms = crate::ratelimit::RateLimiter::millis(ctx.now);
    ctx.app.rate_limiter.check_password_attempt(path, account, now_ms)
}

/// Which password attempt a sign-in is: its route (for the rule) and, for an unknown user,
/// what was asked for (a known user's bucket is keyed by their id, so sign-in by email and by
/// username share it).
pub struct Attempt {
    pub path: &'static str,
    pub who: String,
}

/// The part of a password sign-in shared by email and username: check the password (with
/// the same hashing cost when the user is unknown), the verification rule, then create the
/// session and answer `{redirect, token, url?, user}` (+ `Location` for a callbackURL).
#[allow(clippy::too_many_arguments)]
pub fn password_sign_in(
    ctx: &Ctx<'_>,
    req: &Request,
    found: Option<(User, Option<Account>)>,
    attempt: &Attempt,
    pass: &str,
    callback_url: Option<String>,
    remember: Option<bool>,
    invalid: ApiError,
) -> Result<Response, ApiError> {
    // Counted (written) before the password is checked: a database that cannot record the
    // attempt answers 503 whether the password is right or wrong.
    let who = found.as_ref().map_or(attempt.who.as_str(), |(u, _)| u.id.as_str());
    let account = format!("sign-in|{}|{who}", ctx.client_ip(req));
    count_password_attempt(ctx, attempt.path, &account)?;
    let stored_hash = found
        .as_ref()
        .and_then(|(_, account)| account.as_ref())
        .and_then(|a| a.password.clone());
    let Some(((user, _), hash)) = found.zip(stored_hash) else {
        // Unknown user, or no password: spend the same hashing time as a wrong password so
        // the answer does not reveal which addresses have accounts.
        ctx.verify_password(pass, ctx.app.dummy_hash())?;
        return Err(invalid);
    };
    if !ctx.verify_password(pass, &hash)? {
        return Err(invalid);
    }
    rehash_if_configured(ctx, &user.id, pass, &hash);
    if ctx.config().require_email_verification && !user.email_verified {
        if ctx.config().email.send_on_sign_in {
            crate::endpoint::mail::send_verification(ctx, &user, callback_url.as_deref())?;
        }
        return Err(ApiError::new(403, codes::EMAIL_NOT_VERIFIED));
    }
    let dont_remember = remember == Some(false);
    // An empty callbackURL is falsy in Better Auth: no redirect and no Location, but the
    // (empty) `url` is still echoed.
    let redirect_to = callback_url.as_deref().filter(|u| !u.is_empty()).map(str::to_string);
    // Better Auth creates the session (and its plugins refuse it, e.g. a ban) before the
    // two-factor hook replaces the answer with a challenge: a refused user gets no challenge.
    admit(ctx, &user.id)?;
    for plugin in &ctx.app.plugins {
        if let Some(body) = plugin.hooks.sign_in_challenge(ctx, req, &user, dont_remember)? {
            // Better Auth's hook replaces the body; the Location header stays.
            let resp = Response::json(&body);
            return Ok(match redirect_to {
                Some(url) => resp.with_header("location", url),
                None => resp,
            });
        }
    }
    let session = create_session(ctx, req, &user.id, !dont_remember)?;
    ctx.set_session_cookie(&session.token, dont_remember);

    let mut body = Map::new();
    body.insert("redirect".into(), Value::Bool(redirect_to.is_some()));
    body.insert("token".into(), Value::String(session.token));
    if let Some(url) = &callback_url {
        body.insert("url".into(), json!(url));
    }
    body.insert("user".into(), ctx.user_json(&user));
    let mut resp = Response::json(&Value::Object(body));
    if let Some(url) = redirect_to {
        // Better Auth answers 200 with a Location header, not a 302.
        resp = resp.with_header("location", url);
    }
    Ok(resp)
}

/// `SESAME_REHASH_ON_SIGN_IN`: moves a verified password to the configured scheme (e.g. Better
/// Auth's scrypt hashes to bcrypt after a take-over). Best effort: a failure is logged and the
/// sign-in goes on with the old hash still valid.
fn rehash_if_configured(ctx: &Ctx<'_>, user_id: &str, pass: &str, stored: &str) {
    let config = ctx.config();
    if !config.rehash_on_sign_in || !password::needs_rehash(stored, config.password_hash, config.bcrypt_cost) {
        return;
    }
    let result = ctx.hash_password(pass).map_err(|e| e.to_string()).and_then(|new_hash| {
        ctx.storage()
            .set_password(user_id, &new_hash, ctx.now, &SessionChange::Keep, false)
            .map_err(|e| e.to_string())
    });
    if let Err(e) = result {
        tracing::warn!("re-hashing the password on sign-in failed: {e}");
    }
}
