//! `POST /sign-in/username` and `POST /is-username-available`.

use serde_json::json;

use super::{check, normalize, INVALID_USERNAME, INVALID_USERNAME_OR_PASSWORD, USERNAME_TOO_LONG, USERNAME_TOO_SHORT};
use crate::endpoint::answers::SignInAnswer;
use crate::endpoint::session::{password_sign_in, Attempt};
use crate::endpoint::{Ctx, Kind, NoInput, Transport, Typed};
use crate::error::{codes, ApiError};
use crate::http::{origin, Request, Response};

crate::input! {
    /// The body of `POST /sign-in/username`.
    pub struct SignInUsernameBody {
        username: String = "username" as Kind::String,
        password: String = "password" as Kind::String,
        callback_url: Option<String> = "callbackURL" as Kind::String,
        remember_me: Option<bool> = "rememberMe" as Kind::Boolean,
    }
}

pub static SIGN_IN_USERNAME: Typed<SignInUsernameBody, NoInput, SignInAnswer> =
    Typed::post("/sign-in/username", "signInUsername", sign_in_username)
        .summary("Sign in with username and password")
        .hashing()
        .errors(&[
            INVALID_USERNAME_OR_PASSWORD,
            USERNAME_TOO_SHORT,
            USERNAME_TOO_LONG,
            INVALID_USERNAME,
            codes::PASSWORD_TOO_LONG,
            codes::EMAIL_NOT_VERIFIED,
        ]);

crate::input! {
    /// The body of `POST /is-username-available`.
    pub struct IsUsernameAvailableBody {
        username: String = "username" as Kind::String,
    }
}

/// `POST /is-username-available`'s answer.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AvailableAnswer {
    pub available: bool,
}

pub static IS_USERNAME_AVAILABLE: Typed<IsUsernameAvailableBody, NoInput, AvailableAnswer> =
    Typed::post("/is-username-available", "isUsernameAvailable", is_username_available)
        .summary("Whether a username is free")
        .errors(&[INVALID_USERNAME, USERNAME_TOO_SHORT, USERNAME_TOO_LONG]);

fn sign_in_username(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let SignInUsernameBody {
        username,
        password: pass,
        callback_url,
        remember_me: remember,
    } = ctx.input()?;
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

fn is_username_available(ctx: &Ctx<'_>, _req: &Request) -> Result<Response, ApiError> {
    let IsUsernameAvailableBody { username } = ctx.input()?;
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
