//! `POST /sign-in/username` and `POST /is-username-available`.

use serde_json::json;

use super::{check, normalize, INVALID_USERNAME, INVALID_USERNAME_OR_PASSWORD};
use crate::endpoint::session::{password_sign_in, Attempt};
use crate::endpoint::validate::Fields;
use crate::endpoint::{Ctx, Transport};
use crate::error::{codes, ApiError};
use crate::http::{origin, Request, Response};

pub fn sign_in_username(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let mut f = Fields::body(ctx.body.as_ref());
    let username = f.string("username");
    let pass = f.string("password");
    let callback_url = f.opt_string("callbackURL");
    let remember = f.opt_bool("rememberMe");
    f.finish()?;
    if ctx.transport == Transport::Http {
        origin::check_login_csrf(&ctx.app.trusted, req)?;
    }
    let invalid = || ApiError::new(401, INVALID_USERNAME_OR_PASSWORD);
    if username.is_empty() || pass.is_empty() {
        return Err(invalid());
    }
    if let Some(code) = check(&username) {
        return Err(ApiError::new(422, code));
    }
    if crate::auth::password::length(&pass) > ctx.config().max_password_length {
        return Err(ApiError::bad_request(codes::PASSWORD_TOO_LONG));
    }
    let username = normalize(&username);
    let found = ctx.storage().find_user_with_credential_by_username(&username)?;
    let attempt = Attempt {
        path: "/sign-in/username",
        who: format!("username:{username}"),
    };
    password_sign_in(ctx, req, found, &attempt, &pass, callback_url, remember, invalid())
}

pub fn is_username_available(ctx: &Ctx<'_>, _req: &Request) -> Result<Response, ApiError> {
    let mut f = Fields::body(ctx.body.as_ref());
    let username = f.string("username");
    f.finish()?;
    if username.is_empty() {
        return Err(ApiError::new(422, INVALID_USERNAME));
    }
    if let Some(code) = check(&username) {
        return Err(ApiError::new(422, code));
    }
    let taken = ctx
        .storage()
        .find_user_with_credential_by_username(&normalize(&username))?
        .is_some();
    Ok(Response::json(&json!({ "available": !taken })))
}
