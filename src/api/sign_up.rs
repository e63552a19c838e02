//! `POST /sign-up/email` (spec §3.1).

use serde_json::json;

use crate::auth::email;
use crate::clock::iso;
use crate::crypto;
use crate::endpoint::answers::TokenAnswer;
use crate::endpoint::session::{check_password_length, create_session, hash_password};
use crate::endpoint::{Ctx, Kind, NoInput, Transport, Typed};
use crate::error::{codes, ApiError};
use crate::http::{origin, Request, Response};
use crate::storage::models::{Account, User};
use crate::storage::StorageError;

crate::input! {
    /// The body of `POST /sign-up/email`. Other keys (plugin fields such as the username
    /// plugin's) are kept in `extra`.
    pub struct SignUpEmailBody {
        name: String = "name" as Kind::String,
        email: String = "email" as Kind::Email,
        password: String = "password" as Kind::NonEmpty,
        image: Option<String> = "image" as Kind::String,
        callback_url: Option<String> = "callbackURL" as Kind::String,
        remember_me: Option<bool> = "rememberMe" as Kind::Boolean,
    }
    rest: extra
}

pub static SIGN_UP_EMAIL: Typed<SignUpEmailBody, NoInput, TokenAnswer> =
    Typed::post("/sign-up/email", "signUpEmail", sign_up_email)
        .summary("Sign up with email and password")
        .object_and_record()
        .forms()
        .hashing()
        .errors(&[
            codes::EMAIL_PASSWORD_SIGN_UP_DISABLED,
            codes::INVALID_EMAIL,
            codes::PASSWORD_TOO_SHORT,
            codes::PASSWORD_TOO_LONG,
            codes::USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL,
            codes::CROSS_SITE_NAVIGATION_LOGIN_BLOCKED,
        ]);

fn sign_up_email(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let body: SignUpEmailBody = ctx.input()?;
    let SignUpEmailBody {
        name,
        email: address,
        password,
        image,
        callback_url,
        remember_me: remember,
        ..
    } = body;
    if ctx.transport == Transport::Http {
        origin::check_login_csrf(&ctx.app.trusted, req)?;
    }
    let config = ctx.config();
    if config.disable_sign_up {
        return Err(ApiError::bad_request(codes::EMAIL_PASSWORD_SIGN_UP_DISABLED));
    }
    if !email::is_valid(&address) {
        return Err(ApiError::bad_request(codes::INVALID_EMAIL));
    }
    check_password_length(ctx, &password)?;
    if config.email.send_on_sign_up {
        // Before the user exists: a sign-up refused for a full mail queue can be sent again.
        ctx.app.ensure_mail_room()?;
    }
    let address = email::normalize(&address);
    // With verification required or auto sign-in off, a taken email gets the same answer as a
    // free one, so sign-up cannot be used to find out who has an account.
    let generic_duplicates = config.require_email_verification || !config.auto_sign_in;

    if ctx.storage().find_user_by_email(&address)?.is_some() {
        return duplicate(ctx, generic_duplicates, &name, &address, image.as_deref(), &password);
    }
    let hash = hash_password(ctx, &password)?;
    let mut user = User::new(&name, &address, image.clone(), ctx.now);
    for plugin in &ctx.app.plugins {
        plugin.hooks.user_defaults(&mut user);
        plugin.hooks.before_user_create(ctx, &mut user)?;
    }
    let account = Account::credential(&user.id, hash, ctx.now);
    match ctx.storage().create_user_with_account(&user, &account) {
        Ok(()) => {}
        Err(StorageError::Conflict("user.username")) => {
            return Err(ApiError::bad_request(
                crate::plugins::username::USERNAME_IS_ALREADY_TAKEN,
            ))
        }
        // A concurrent sign-up won the race for this email.
        Err(StorageError::Conflict(_)) => {
            return duplicate(ctx, generic_duplicates, &name, &address, image.as_deref(), &password)
        }
        Err(e) => return Err(e.into()),
    }
    if config.email.send_on_sign_up {
        crate::endpoint::mail::send_verification(ctx, &user, callback_url.as_deref())?;
    }
    if generic_duplicates {
        return Ok(Response::json(&json!({ "token": null, "user": ctx.user_json(&user) })));
    }
    let session = create_session(ctx, req, &user.id, remember != Some(false))?;
    ctx.set_session_cookie(&session.token, remember == Some(false));
    Ok(Response::json(
        &json!({ "token": session.token, "user": ctx.user_json(&user) }),
    ))
}

/// The answer for an email that is already taken.
fn duplicate(
    ctx: &Ctx<'_>,
    generic: bool,
    name: &str,
    address: &str,
    image: Option<&str>,
    password: &str,
) -> Result<Response, ApiError> {
    if !generic {
        return Err(ApiError::new(422, codes::USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL));
    }
    // Hash anyway so the duplicate answer takes as long as a real sign-up.
    hash_password(ctx, password)?;
    let now = iso(ctx.now);
    let synthetic = json!({
        "name": name,
        "email": address,
        "emailVerified": false,
        "image": image,
        "createdAt": now,
        "updatedAt": now,
        "id": crypto::new_id(),
    });
    Ok(Response::json(&json!({ "token": null, "user": synthetic })))
}
