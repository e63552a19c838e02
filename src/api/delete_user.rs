//! `POST /delete-user` and `GET /delete-user/callback`, enabled by
//! `SESAME_DELETE_USER`. With `SESAME_DELETE_USER_VERIFICATION` (the default) deletion always
//! goes through an emailed link, even when the password is given. Deleting removes the user
//! with their sessions, accounts and pending verifications in one storage call, and expires
//! the cookies; the address is then free again.

use serde_json::json;

use crate::auth::{password, session};
use crate::crypto::{self, constant_time_eq};
use crate::endpoint::answers::SuccessAnswer;
use crate::endpoint::current::{self, SignedIn};
use crate::endpoint::mail::{self, LinkQuery, Outgoing};
use crate::endpoint::{Ctx, Kind, NoInput, Produces, Typed};
use crate::error::{codes, ApiError};
use crate::http::js::encode_uri_component;
use crate::http::{Request, Response};
use crate::mail::MailKind;
use crate::storage::models::{User, Verification};

const IDENTIFIER_PREFIX: &str = "delete-account-";
const LOWER_ALPHANUMERIC: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

fn deleted() -> Response {
    Response::json(&json!({ "success": true, "message": "User deleted" }))
}

crate::input! {
    /// The body of `POST /delete-user`.
    pub struct DeleteUserBody {
        callback_url: Option<String> = "callbackURL" as Kind::String,
        password: Option<String> = "password" as Kind::String,
        token: Option<String> = "token" as Kind::String,
    }
}

pub static DELETE_USER: Typed<DeleteUserBody, NoInput, SuccessAnswer> =
    Typed::post("/delete-user", "deleteUser", delete_user)
        .summary("Delete the account, or email a link that does (SESAME_DELETE_USER)")
        .session()
        .hashing()
        .errors(&[
            codes::NOT_FOUND,
            codes::CREDENTIAL_ACCOUNT_NOT_FOUND,
            codes::INVALID_PASSWORD,
            codes::SESSION_EXPIRED,
            codes::INVALID_TOKEN,
        ]);

pub static DELETE_USER_CALLBACK: Typed<NoInput, LinkQuery, SuccessAnswer> =
    Typed::get("/delete-user/callback", "deleteUserCallback", delete_user_callback)
        .summary("Open an account deletion link")
        .session()
        .produces(Produces::Redirect)
        .errors(&[
            codes::NOT_FOUND,
            codes::FAILED_TO_GET_USER_INFO,
            codes::INVALID_TOKEN,
            codes::INVALID_CALLBACK_URL,
        ]);

fn delete_user(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let DeleteUserBody {
        callback_url,
        password: pass,
        token,
    } = ctx.input()?;
    let pass = pass.filter(|p| !p.is_empty());
    let token = token.filter(|t| !t.is_empty());
    let signed_in = current::require(ctx, req)?;
    let config = &ctx.config().email;
    if !config.delete_user {
        return Err(ApiError::new(404, codes::NOT_FOUND));
    }
    if let Some(pass) = &pass {
        crate::endpoint::session::count_password_attempt(ctx, "/delete-user", &format!("user|{}", signed_in.user.id))?;
        check_password(ctx, &signed_in, pass)?;
    }
    if let Some(token) = token {
        delete_with_token(ctx, &signed_in.user, &token)?;
        return Ok(deleted());
    }
    if config.delete_user_verification {
        let sent = Response::json(&json!({ "success": true, "message": "Verification email sent" }));
        ctx.app.ensure_mail_room()?;
        // Over the recipient's mail limit: no email and no token row (the same answer).
        if !mail::admit(ctx, MailKind::DeleteAccount, &signed_in.user.email) {
            return Ok(sent);
        }
        let token = crypto::random_from(LOWER_ALPHANUMERIC, 32);
        let expires_in = config.delete_user_expires_in;
        ctx.storage().create_verification(&Verification {
            id: crypto::new_id(),
            identifier: format!("{IDENTIFIER_PREFIX}{token}"),
            value: signed_in.user.id.clone(),
            expires_at: ctx.now + time::Duration::seconds(expires_in),
            created_at: ctx.now,
            updated_at: ctx.now,
        })?;
        let callback = callback_url.as_deref().filter(|c| !c.is_empty()).unwrap_or("/");
        let url = format!(
            "{}/delete-user/callback?token={token}&callbackURL={}",
            ctx.config().base_url(),
            encode_uri_component(callback)
        );
        mail::queue_admitted(
            ctx,
            Outgoing {
                kind: MailKind::DeleteAccount,
                to: &signed_in.user.email,
                url,
                token,
                expires_in,
                new_email: None,
            },
        )?;
        return Ok(sent);
    }
    let fresh_age = ctx.config().session_fresh_age;
    if pass.is_none() && !session::is_fresh(&signed_in.session, ctx.now, fresh_age) {
        return Err(ApiError::bad_request(codes::SESSION_EXPIRED));
    }
    delete(ctx, &signed_in.user)?;
    Ok(deleted())
}

fn check_password(ctx: &Ctx<'_>, signed_in: &SignedIn, pass: &str) -> Result<(), ApiError> {
    if password::length(pass) > ctx.config().max_password_length {
        return Err(ApiError::bad_request(codes::PASSWORD_TOO_LONG));
    }
    let hash = ctx
        .storage()
        .find_credential_account(&signed_in.user.id)?
        .and_then(|a| a.password)
        .ok_or_else(|| ApiError::bad_request(codes::CREDENTIAL_ACCOUNT_NOT_FOUND))?;
    if !ctx.verify_password(pass, &hash)? {
        return Err(ApiError::bad_request(codes::INVALID_PASSWORD));
    }
    Ok(())
}

/// Consumes the token (a wrong owner's attempt burns it too) and deletes its user.
fn delete_with_token(ctx: &Ctx<'_>, user: &User, token: &str) -> Result<(), ApiError> {
    let row = ctx
        .storage()
        .consume_verification(&format!("{IDENTIFIER_PREFIX}{token}"))?;
    match row {
        Some(row) if row.expires_at > ctx.now && constant_time_eq(row.value.as_bytes(), user.id.as_bytes()) => {
            delete(ctx, user)
        }
        _ => Err(ApiError::new(404, codes::INVALID_TOKEN)),
    }
}

fn delete(ctx: &Ctx<'_>, user: &User) -> Result<(), ApiError> {
    ctx.storage().delete_user(&user.id)?;
    ctx.expire_session_cookies();
    Ok(())
}

/// The emailed link. It works only in a browser signed in as the same user.
fn delete_user_callback(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let (token, callback_url) = crate::endpoint::mail::link_query(ctx, req)?;
    if !ctx.config().email.delete_user {
        return Err(ApiError::new(404, codes::NOT_FOUND));
    }
    let Some(signed_in) = current::resolve(ctx, req, false)? else {
        return Err(ApiError::new(404, codes::FAILED_TO_GET_USER_INFO));
    };
    delete_with_token(ctx, &signed_in.user, &token)?;
    match callback_url {
        Some(cb) => Ok(Response::redirect(&cb)),
        None => Ok(deleted()),
    }
}
