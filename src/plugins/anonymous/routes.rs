//! `POST /sign-in/anonymous` and `POST /delete-anonymous-user`.

use serde_json::json;

use super::{
    ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY, DELETE_ANONYMOUS_USER_DISABLED, FAILED_TO_CREATE_USER,
    FAILED_TO_DELETE_ANONYMOUS_USER, USER_IS_NOT_ANONYMOUS,
};
use crate::endpoint::answers::{SuccessAnswer, TokenAnswer};
use crate::endpoint::current;
use crate::endpoint::session::create_session;
use crate::endpoint::{Ctx, NoInput, Typed};
use crate::error::{codes, ApiError};
use crate::http::{Request, Response};
use crate::storage::models::User;
use crate::storage::StorageError;

/// Better Auth's `createPlaceholderEmail` domain for guests (RFC 6761 `.invalid`: never routable).
const PLACEHOLDER_DOMAIN: &str = "anonymous.placeholder.invalid";

/// A guest's name (Better Auth's default; its `generateName` callback is not offered).
const NAME: &str = "Anonymous";

/// `{token, user}` with the new guest, and the session cookie.
pub static SIGN_IN_ANONYMOUS: Typed<NoInput, NoInput, TokenAnswer> =
    Typed::post("/sign-in/anonymous", "signInAnonymous", sign_in_anonymous)
        .summary("Sign in as a new guest")
        .errors(&[ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY, FAILED_TO_CREATE_USER]);

/// `{success: true}`; the guest, their sessions and cookies are gone.
pub static DELETE_ANONYMOUS_USER: Typed<NoInput, NoInput, SuccessAnswer> =
    Typed::post("/delete-anonymous-user", "deleteAnonymousUser", delete_anonymous_user)
        .summary("Delete the signed-in guest")
        .session()
        .errors(&[
            codes::UNAUTHORIZED,
            DELETE_ANONYMOUS_USER_DISABLED,
            USER_IS_NOT_ANONYMOUS,
            FAILED_TO_DELETE_ANONYMOUS_USER,
        ]);

/// A guest's address: `<id>@anonymous.placeholder.invalid`, or `temp-<id>@<domain>` with
/// `SESAME_ANONYMOUS_EMAIL_DOMAIN` (Better Auth's `emailDomainName`), lower-cased as stored.
fn guest_email(ctx: &Ctx<'_>) -> String {
    let id = crate::crypto::new_id().to_ascii_lowercase();
    match &ctx.config().anonymous.email_domain {
        Some(domain) => format!("temp-{id}@{domain}"),
        None => format!("{id}@{PLACEHOLDER_DOMAIN}"),
    }
}

fn sign_in_anonymous(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    // A guest stays one guest: a second guest would orphan the first (Better Auth's refusal).
    if current::resolve(ctx, req, true)?.is_some_and(|s| s.user.is_anonymous) {
        return Err(ApiError::bad_request(ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY));
    }
    let mut user = User {
        is_anonymous: true,
        ..User::new(NAME, &guest_email(ctx), None, ctx.now)
    };
    for plugin in &ctx.app.plugins {
        plugin.hooks.user_defaults(&mut user);
    }
    match ctx.storage().create_user(&user) {
        Ok(()) => {}
        // 32 random characters do not collide; if the address were ever taken, no guest.
        Err(StorageError::Conflict(_)) => return Err(ApiError::new(500, FAILED_TO_CREATE_USER)),
        Err(e) => return Err(e.into()),
    }
    let session = create_session(ctx, req, &user.id, true)?;
    ctx.set_session_cookie(&session.token, false);
    Ok(Response::json(
        &json!({ "token": session.token, "user": ctx.user_json(&user) }),
    ))
}

fn delete_anonymous_user(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let signed_in = current::require(ctx, req)?;
    if ctx.config().anonymous.disable_delete {
        return Err(ApiError::bad_request(DELETE_ANONYMOUS_USER_DISABLED));
    }
    if !signed_in.user.is_anonymous {
        return Err(ApiError::new(403, USER_IS_NOT_ANONYMOUS));
    }
    // The user with their sessions, in one transaction (Better Auth: sessions, then the user).
    match ctx.storage().delete_user(&signed_in.user.id) {
        Ok(_) => {}
        Err(StorageError::Other(cause)) => {
            return Err(ApiError::new(500, FAILED_TO_DELETE_ANONYMOUS_USER).with_cause("deleting a guest", &cause))
        }
        Err(e) => return Err(e.into()),
    }
    ctx.expire_session_cookies();
    Ok(Response::json(&json!({ "success": true })))
}
