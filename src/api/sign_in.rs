//! `POST /sign-in/email` (spec §3.2).

use serde_json::{json, Map, Value};

use super::create_session;
use crate::app::{Ctx, Transport};
use crate::auth::{email, password};
use crate::error::{codes, ApiError};
use crate::http::{origin, validate::Fields, Request, Response};

pub fn sign_in_email(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let mut f = Fields::body(ctx.body.as_ref());
    let address = f.string("email");
    let pass = f.string("password");
    let callback_url = f.opt_string("callbackURL");
    let remember = f.opt_bool("rememberMe");
    f.finish()?;
    if ctx.transport == Transport::Http {
        origin::check_login_csrf(&ctx.app.trusted, req)?;
    }
    if !email::is_valid(&address) {
        return Err(ApiError::bad_request(codes::INVALID_EMAIL));
    }
    let invalid = || ApiError::new(401, codes::INVALID_EMAIL_OR_PASSWORD);
    let found = ctx.storage().find_user_with_credential(&email::normalize(&address))?;
    let stored_hash = found
        .as_ref()
        .and_then(|(_, account)| account.as_ref())
        .and_then(|a| a.password.clone());
    let Some(((user, _), hash)) = found.zip(stored_hash) else {
        // Unknown user, or no password: spend the same hashing time as a wrong password so
        // the answer does not reveal which addresses have accounts.
        password::verify(&pass, &ctx.app.dummy_hash);
        return Err(invalid());
    };
    if !password::verify(&pass, &hash) {
        return Err(invalid());
    }
    if ctx.config().require_email_verification && !user.email_verified {
        if ctx.config().email.send_on_sign_in {
            super::mail::send_verification(ctx, &user, callback_url.as_deref());
        }
        return Err(ApiError::new(403, codes::EMAIL_NOT_VERIFIED));
    }
    let dont_remember = remember == Some(false);
    let session = create_session(ctx, req, &user.id, !dont_remember)?;
    ctx.set_session_cookie(&session.token, dont_remember);

    let mut body = Map::new();
    body.insert("redirect".into(), Value::Bool(callback_url.is_some()));
    body.insert("token".into(), Value::String(session.token));
    if let Some(url) = &callback_url {
        body.insert("url".into(), json!(url));
    }
    body.insert("user".into(), user.to_json());
    let mut resp = Response::json(&Value::Object(body));
    if let Some(url) = callback_url {
        // Better Auth answers 200 with a Location header, not a 302.
        resp = resp.with_header("location", url);
    }
    Ok(resp)
}
