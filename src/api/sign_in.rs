//! `POST /sign-in/email` (spec §3.2).

use crate::auth::{email, password};
use crate::endpoint::session::{password_sign_in, Attempt};
use crate::endpoint::validate::Fields;
use crate::endpoint::{Ctx, Transport};
use crate::error::{codes, ApiError};
use crate::http::{origin, Request, Response};

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
    let address = email::normalize(&address);
    let found = ctx.storage().find_user_with_credential(&address)?;
    let invalid = ApiError::new(401, codes::INVALID_EMAIL_OR_PASSWORD);
    let attempt = Attempt {
        path: "/sign-in/email",
        who: format!("email:{address}"),
    };
    password_sign_in(ctx, req, found, &attempt, &pass, callback_url, remember, invalid)
}
