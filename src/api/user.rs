//! `POST /update-user`: name and image (and plugin fields); answers `{"status":true}`.

use super::session::status_true;
use crate::endpoint::answers::StatusAnswer;
use crate::endpoint::current;
use crate::endpoint::declare::nullable;
use crate::endpoint::{Ctx, Kind, NoInput, Typed};
use crate::error::{codes, ApiError};
use crate::http::{Request, Response};
use crate::storage::models::UserUpdate;
use crate::storage::StorageError;

crate::input! {
    /// The body of `POST /update-user`: `image: null` clears the image (`Some(None)`). Other
    /// keys (plugin fields such as `username`) are kept in `extra`.
    pub struct UpdateUserBody {
        name: Option<String> = "name" as Kind::String,
        #[serde(default, deserialize_with = "nullable")]
        image: Option<Option<String>> = "image" as Kind::NullableString,
    }
    rest: extra
}

// The schema is `z.record(..)`: a non-object body fails validation before the handler's own
// BODY_MUST_BE_AN_OBJECT check could run (observed on the reference server).
pub static UPDATE_USER: Typed<UpdateUserBody, NoInput, StatusAnswer> =
    Typed::post("/update-user", "updateUser", update_user)
        .summary("Update the user's name or image")
        .record()
        .session()
        .errors(&[
            codes::UNAUTHORIZED,
            codes::BODY_MUST_BE_AN_OBJECT,
            codes::EMAIL_CAN_NOT_BE_UPDATED,
            codes::NO_FIELDS_TO_UPDATE,
        ]);

fn update_user(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let UpdateUserBody { name, image, extra } = ctx.input()?;
    let signed_in = current::require(ctx, req)?;
    // Better Auth tests `if (body.email)`: an empty or null email is simply ignored.
    if extra.get("email").is_some_and(crate::http::js::truthy) {
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
