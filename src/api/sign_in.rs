//! `POST /sign-in/email`.

use crate::auth::{email, password};
use crate::endpoint::answers::SignInAnswer;
use crate::endpoint::session::{password_sign_in, Attempt};
use crate::endpoint::{Ctx, Kind, NoInput, Transport, Typed};
use crate::error::{codes, ApiError};
use crate::http::{origin, Request, Response};

crate::input! {
    /// The body of `POST /sign-in/email`.
    pub struct SignInEmailBody {
        email: String = "email" as Kind::String,
        password: String = "password" as Kind::String,
        callback_url: Option<String> = "callbackURL" as Kind::String,
        remember_me: Option<bool> = "rememberMe" as Kind::Boolean,
    }
}

pub static SIGN_IN_EMAIL: Typed<SignInEmailBody, NoInput, SignInAnswer> =
    Typed::post("/sign-in/email", "signInEmail", sign_in_email)
        .summary("Sign in with email and password")
        .forms()
        .hashing()
        .errors(&[
            codes::INVALID_EMAIL,
            codes::INVALID_EMAIL_OR_PASSWORD,
            codes::PASSWORD_TOO_LONG,
            codes::EMAIL_NOT_VERIFIED,
            codes::CROSS_SITE_NAVIGATION_LOGIN_BLOCKED,
        ]);

fn sign_in_email(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let SignInEmailBody {
        email: address,
        password: pass,
        callback_url,
        remember_me: remember,
    } = ctx.input()?;
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
