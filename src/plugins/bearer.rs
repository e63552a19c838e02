//! The bearer plugin (Better Auth's `bearer`): `Authorization: Bearer <token>` authenticates
//! exactly like the session cookie, and answers that set a session cookie carry the signed
//! token in `set-auth-token` (listed in `Access-Control-Expose-Headers`), so curl, mobile apps
//! and other backends can use Sesame without cookies.
//!
//! The token may be the signed `token.signature` value from `set-auth-token` (verified) or the
//! raw session token from a sign-in body (signed here, as Better Auth does unless
//! `requireSignature`: with `SESAME_BEARER_REQUIRE_SIGNATURE` a raw token — one read from a
//! body, a log or a database dump — authenticates nothing). An existing session cookie wins
//! over the header.

use super::{Hooks, Plugin};
use crate::endpoint::Ctx;
use crate::error::ApiError;
use crate::http::cookies;
use crate::http::js::encode_uri_component;
use crate::http::{Request, Response};

pub const PLUGIN: Plugin = Plugin {
    id: "bearer",
    endpoints: &[],
    error_codes: &[],
    migrations: &[],
    hooks: &BearerHooks,
};

struct BearerHooks;

impl Hooks for BearerHooks {
    fn before(&self, ctx: &Ctx<'_>, req: &mut Request) -> Result<Option<Response>, ApiError> {
        let Some(token) = bearer_token(ctx, req) else {
            return Ok(None);
        };
        let name = ctx.app.cookies.name("session_token");
        let has_cookie = req.cookie_header().is_some_and(|h| cookies::get(&h, &name).is_some());
        if !has_cookie {
            let signed = encode_uri_component(&cookies::sign(ctx.secret(), &token));
            req.headers.push(("cookie".to_string(), format!("{name}={signed}")));
        }
        Ok(None)
    }

    fn after(&self, ctx: &Ctx<'_>, _req: &Request, resp: &mut Response) {
        let name = ctx.app.cookies.name("session_token");
        let value = resp
            .cookies
            .iter()
            .find(|c| c.name == name && !c.is_deletion() && !c.value.is_empty())
            .map(|c| {
                percent_encoding::percent_decode_str(&c.value)
                    .decode_utf8_lossy()
                    .into_owned()
            });
        if let Some(token) = value {
            resp.headers.push(("set-auth-token".to_string(), token));
            expose_header(resp, "set-auth-token");
        }
    }
}

/// The session token named by the `Authorization` header, if it is a bearer token that is
/// either unsigned or correctly signed.
fn bearer_token(ctx: &Ctx<'_>, req: &Request) -> Option<String> {
    let value = req.header("authorization")?;
    let raw = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?
        .trim();
    if raw.is_empty() {
        return None;
    }
    let decoded = percent_encoding::percent_decode_str(raw).decode_utf8().ok()?;
    if decoded.contains('.') {
        cookies::verify(ctx.secret(), &decoded)
    } else if !ctx.config().bearer_require_signature && decoded.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Some(decoded.into_owned())
    } else {
        None
    }
}

/// Adds `name` to `Access-Control-Expose-Headers`, keeping the names already there.
pub(super) fn expose_header(resp: &mut Response, name: &str) {
    let existing = resp
        .headers
        .iter()
        .position(|(k, _)| k.eq_ignore_ascii_case("access-control-expose-headers"));
    match existing {
        Some(i) => {
            if let Some((_, v)) = resp.headers.get_mut(i) {
                if !v.split(',').any(|h| h.trim().eq_ignore_ascii_case(name)) {
                    v.push_str(", ");
                    v.push_str(name);
                }
            }
        }
        None => resp
            .headers
            .push(("access-control-expose-headers".to_string(), name.to_string())),
    }
}
