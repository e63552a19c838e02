//! The jwt plugin (Better Auth's `jwt`): `GET /token` answers `{"token": "<JWT>"}` for the
//! current session, `GET /jwks` publishes the public keys, and a signed-in `GET /get-session`
//! answer carries the same kind of token in `set-auth-jwt` (listed in
//! `Access-Control-Expose-Headers`). Other services verify the tokens against `/jwks`.
//!
//! Keys live in the `jwks` table (`storage::jwks`), generated on first use with
//! `SESAME_JWT_ALG` (EdDSA by default), the private half encrypted (`seal.rs`). Wire details
//! and the table format are in `docs/plugins/jwt.md`.

mod keys;
pub mod seal;
mod sign;

use serde_json::{json, Map, Value};

use super::{Hooks, Plugin};
use crate::endpoint::current;
use crate::endpoint::{Ctx, NoInput, Services, Typed};
use crate::error::{codes, ApiError};
use crate::http::{Method, Request, Response};

pub use crate::config::plugins::{JwtAlg, JwtConfig};

/// `GET /token`'s answer.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TokenAnswer {
    pub token: String,
}

/// `GET /jwks`'s answer: public JWKs, each with its `kid`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct JwksAnswer {
    pub keys: Vec<Value>,
}

pub static GET_TOKEN: Typed<NoInput, NoInput, TokenAnswer> = Typed::get("/token", "getToken", get_token)
    .summary("A JWT for the current session, signed with the key published at /jwks")
    .session()
    .errors(&[codes::UNAUTHORIZED]);

pub static GET_JWKS: Typed<NoInput, NoInput, JwksAnswer> = Typed::get("/jwks", "getJwks", get_jwks)
    .summary("The JSON Web Key Set that verifies the tokens of /token and set-auth-jwt");

pub const PLUGIN: Plugin = Plugin {
    id: "jwt",
    endpoints: &[&GET_TOKEN, &GET_JWKS],
    error_codes: &[],
    migrations: &[crate::migration!("plugin_jwt_0001", "plugins/jwt")],
    hooks: &JwtHooks,
};

fn get_token(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let signed_in = current::require(ctx, req)?;
    let token = sign::user_token(ctx.app, ctx.now, &ctx.user_json(&signed_in.user))?;
    Ok(Response::json(&json!({ "token": token })))
}

fn get_jwks(ctx: &Ctx<'_>, _req: &Request) -> Result<Response, ApiError> {
    Ok(Response::json(&sign::key_set(ctx.app, ctx.now)?))
}

struct JwtHooks;

impl Hooks for JwtHooks {
    /// A signed-in get-session answer gets `set-auth-jwt`. The user comes from the answer
    /// itself, so the token says exactly what get-session said.
    fn after(&self, ctx: &Ctx<'_>, req: &Request, resp: &mut Response) {
        if req.method != Method::Get || resp.status != 200 {
            return;
        }
        let is_get_session = req
            .path
            .strip_prefix(ctx.config().base_path.as_str())
            .is_some_and(|p| p == "/get-session");
        if !is_get_session {
            return;
        }
        let Some(body) = resp.body_json() else {
            return;
        };
        let (Some(_), Some(user)) = (body.get("session").filter(|s| s.is_object()), body.get("user")) else {
            return;
        };
        // The hook cannot fail the request: without a token get-session still answers, and
        // the cause is logged (ApiError's conversions log it with the request id).
        if let Ok(token) = sign::user_token(ctx.app, ctx.now, user) {
            resp.headers.push(("set-auth-jwt".to_string(), token));
            super::bearer::expose_header(resp, "set-auth-jwt");
        }
    }
}

/// Signs a payload as Better Auth's server-only `auth.api.signJWT` does: with the current key,
/// `exp`, `iss` and `aud` added unless present.
pub fn sign_jwt(app: &Services, payload: Map<String, Value>) -> Result<String, ApiError> {
    sign::sign(app, crate::clock::millis(app.clock.now()), payload)
}
