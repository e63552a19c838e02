//! Better Auth's after hook that ends a guest when they sign in or up another way: on a
//! successful answer of a sign-in-like route that sets a new session cookie, while the request
//! carried a guest's session, the guest user (with their sessions) is deleted, unless the new
//! session is the guest's own or another guest's, or `SESAME_ANONYMOUS_DISABLE_DELETE` is set.
//!
//! The routes are matched by prefix, as Better Auth matches them, so a plugin's sign-in route
//! (`/sign-in/email-otp`, `/email-otp/verify-email`, `/magic-link/verify`, …) is covered
//! without naming it here. A two-factor challenge sets no session cookie, so a guest whose
//! sign-in still waits for a second factor stays (Better Auth skips the hook then too).
//!
//! Better Auth keeps nothing of the guest (its `onLinkAccount` callback is where an app moves
//! data across); neither does Sesame, which offers no such callback.

use crate::endpoint::{current, Ctx};
use crate::http::{Request, Response};
use crate::storage::models::{Session, User};

/// Better Auth's `ctx.path?.startsWith(…)` list.
const SIGN_IN_PREFIXES: &[&str] = &[
    "/sign-in",
    "/sign-up",
    "/callback",
    "/magic-link/verify",
    "/email-otp/verify-email",
    "/one-tap/callback",
    "/passkey/verify-authentication",
    "/phone-number/verify",
    "/verify-email",
];

pub(super) fn after_sign_in(ctx: &Ctx<'_>, req: &Request, resp: &Response) {
    let path = req
        .path
        .strip_prefix(ctx.config().base_path.as_str())
        .unwrap_or(&req.path);
    if !SIGN_IN_PREFIXES.iter().any(|p| path.starts_with(p)) {
        return;
    }
    let Some(new_token) = new_session_token(ctx, resp) else {
        return;
    };
    let Some((guest, guest_session)) = guest_of(ctx, req) else {
        return;
    };
    if guest_session.token == new_token || ctx.config().anonymous.disable_delete {
        return;
    }
    let new_user = match ctx.storage().find_session_with_user(&new_token) {
        Ok(Some((_, user))) => user,
        Ok(None) => return,
        Err(e) => {
            tracing::error!("reading the new session after a guest's sign-in: {e}");
            return;
        }
    };
    if new_user.id == guest.id || new_user.is_anonymous {
        return;
    }
    if let Err(e) = ctx.storage().delete_user(&guest.id) {
        // As Better Auth: the sign-in stands; the guest is left for a later clean-up.
        tracing::error!("deleting the guest user {} after they signed in: {e}", guest.id);
    }
}

/// The session token of the cookie the handler set, if it set one.
fn new_session_token(ctx: &Ctx<'_>, resp: &Response) -> Option<String> {
    let name = ctx.app.cookies.name("session_token");
    let cookie = resp
        .cookies
        .iter()
        .rev()
        .find(|c| c.name == name && !c.is_deletion() && !c.value.is_empty())?;
    let value = percent_encoding::percent_decode_str(&cookie.value).decode_utf8_lossy();
    let token = value.split('.').next().unwrap_or_default();
    (!token.is_empty()).then(|| token.to_string())
}

/// The guest the request's session cookie stands for: a live session of an anonymous user.
/// Read straight from storage, with no refresh and no cookie changes (the answer's cookies are
/// already the new session's).
fn guest_of(ctx: &Ctx<'_>, req: &Request) -> Option<(User, Session)> {
    let token = current::session_token(ctx, req)?;
    match ctx.storage().find_session_with_user(&token) {
        Ok(Some((session, user))) if user.is_anonymous && session.expires_at > ctx.now => Some((user, session)),
        Ok(_) => None,
        Err(e) => {
            tracing::error!("reading the session of a sign-in: {e}");
            None
        }
    }
}
