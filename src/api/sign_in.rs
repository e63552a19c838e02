//! `POST /sign-in/email` (spec §3.2).

use serde_json::{json, Map, Value};

use super::create_session;
use crate::app::{Ctx, Transport};
use crate::auth::models::{Account, User};
use crate::auth::{email, password};
use crate::error::{codes, ApiError};
use crate::http::{origin, validate::Fields, Request, Response};
use crate::storage::SessionChange;

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
    // Better Auth 1.7.25 refuses over-long passwords before the lookup (the reference server
    // answers 400 PASSWORD_TOO_LONG even for an unknown email).
    if password::length(&pass) > ctx.config().max_password_length {
        return Err(ApiError::bad_request(codes::PASSWORD_TOO_LONG));
    }
    let found = ctx.storage().find_user_with_credential(&email::normalize(&address))?;
    let invalid = ApiError::new(401, codes::INVALID_EMAIL_OR_PASSWORD);
    password_sign_in(ctx, req, found, &pass, callback_url, remember, invalid)
}

/// The part of a password sign-in shared by email and username: check the password (with
/// the same hashing cost when the user is unknown), the verification rule, then create the
/// session and answer `{redirect, token, url?, user}` (+ `Location` for a callbackURL).
pub(crate) fn password_sign_in(
    ctx: &Ctx<'_>,
    req: &Request,
    found: Option<(User, Option<Account>)>,
    pass: &str,
    callback_url: Option<String>,
    remember: Option<bool>,
    invalid: ApiError,
) -> Result<Response, ApiError> {
    let stored_hash = found
        .as_ref()
        .and_then(|(_, account)| account.as_ref())
        .and_then(|a| a.password.clone());
    let Some(((user, _), hash)) = found.zip(stored_hash) else {
        // Unknown user, or no password: spend the same hashing time as a wrong password so
        // the answer does not reveal which addresses have accounts.
        password::verify(pass, ctx.app.dummy_hash());
        return Err(invalid);
    };
    if !password::verify(pass, &hash) {
        return Err(invalid);
    }
    rehash_if_configured(ctx, &user.id, pass, &hash);
    if ctx.config().require_email_verification && !user.email_verified {
        if ctx.config().email.send_on_sign_in {
            super::mail::send_verification(ctx, &user, callback_url.as_deref());
        }
        return Err(ApiError::new(403, codes::EMAIL_NOT_VERIFIED));
    }
    let dont_remember = remember == Some(false);
    let session = create_session(ctx, req, &user.id, !dont_remember)?;
    ctx.set_session_cookie(&session.token, dont_remember);

    // An empty callbackURL is falsy in Better Auth: no redirect and no Location, but the
    // (empty) `url` is still echoed.
    let redirect_to = callback_url.as_deref().filter(|u| !u.is_empty()).map(str::to_string);
    let mut body = Map::new();
    body.insert("redirect".into(), Value::Bool(redirect_to.is_some()));
    body.insert("token".into(), Value::String(session.token));
    if let Some(url) = &callback_url {
        body.insert("url".into(), json!(url));
    }
    body.insert("user".into(), user.to_json());
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
    let result = password::hash(pass, config.password_hash, config.bcrypt_cost)
        .map_err(|e| e.to_string())
        .and_then(|new_hash| {
            ctx.storage()
                .set_password(user_id, &new_hash, ctx.now, &SessionChange::Keep)
                .map_err(|e| e.to_string())
        });
    if let Err(e) = result {
        let id = crate::http::request_id::current();
        crate::log::warn(&format!(
            "request_id={id} re-hashing the password on sign-in failed: {e}"
        ));
    }
}
