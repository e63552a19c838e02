//! `POST /update-user` (spec §3.11): name and image only; answers `{"status":true}`.

use serde_json::Value;

use super::session::status_true;
use crate::endpoint::current;
use crate::endpoint::validate::{self, Fields};
use crate::endpoint::Ctx;
use crate::error::{codes, ApiError};
use crate::http::{Request, Response};
use crate::storage::models::UserUpdate;
use crate::storage::StorageError;

pub fn update_user(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    // The schema is `z.record(..)`: a non-object body fails validation before the handler's own
    // BODY_MUST_BE_AN_OBJECT check could run (observed on the reference server).
    let body = validate::record(ctx.body.as_ref())?;
    let mut f = Fields::body(ctx.body.as_ref());
    let name = f.opt_string("name");
    let image = match body.get("image") {
        Some(Value::Null) => Some(None),
        _ => f.opt_string("image").map(Some),
    };
    f.finish()?;
    let signed_in = current::require(ctx, req)?;
    // Better Auth tests `if (body.email)`: an empty or null email is simply ignored.
    if body.get("email").is_some_and(crate::http::js::truthy) {
        return Err(ApiError::bad_request(codes::EMAIL_CAN_NOT_BE_UPDATED));
    }
    let mut update = UserUpdate {
        name,
        image,
        ..UserUpdate::default()
    };
    for plugin in &ctx.app.plugins {
        plugin.hooks.before_user_update(ctx, &signed_in, &mut update)?;
    }
    if update.is_empty() {
        return Err(ApiError::bad_request(codes::NO_FIELDS_TO_UPDATE));
    }
    match ctx.storage().update_user(&signed_in.user.id, &update, ctx.now) {
        Ok(Some(_)) => {}
        Ok(None) => return Err(ApiError::bad_request(codes::USER_NOT_FOUND)),
        Err(StorageError::Conflict("user.username")) => {
            return Err(ApiError::bad_request(
                crate::plugins::username::USERNAME_IS_ALREADY_TAKEN,
            ))
        }
        Err(e) => return Err(e.into()),
    }
    ctx.set_session_cookie(&signed_in.session.token, signed_in.dont_remember);
    Ok(status_true())
}
