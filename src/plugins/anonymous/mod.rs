//! The anonymous plugin (Better Auth's `anonymous`): `POST /sign-in/anonymous` makes a guest (a
//! user with `isAnonymous: true`, a generated address and no account) and signs them in;
//! `POST /delete-anonymous-user` removes the signed-in guest. When a guest signs in or up by any
//! other method, the after hook ([`link`]) deletes the guest user, as Better Auth's does.
//! Behaviour and the reasons for it: `docs/plugins/anonymous.md`.

mod link;
mod routes;

use super::{Hooks, Plugin};
use crate::endpoint::current::SignedIn;
use crate::endpoint::Ctx;
use crate::error::{codes, ApiError, ErrorCode};
use crate::http::{Request, Response};
use crate::storage::models::{FieldValue, User, UserUpdate};

macro_rules! anonymous_codes {
    ($($name:ident => $msg:expr,)*) => {
        $(pub const $name: ErrorCode = ErrorCode { code: stringify!($name), message: $msg };)*
        const CODES: &[ErrorCode] = &[$($name),*];
    };
}

// Better Auth's `ANONYMOUS_ERROR_CODES`. `INVALID_EMAIL_FORMAT` (a custom address generator's
// bad address) cannot happen here: the configured domain is checked at start-up.
anonymous_codes! {
    FAILED_TO_CREATE_USER => "Failed to create user",
    ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY => "Anonymous users cannot sign in again anonymously",
    FAILED_TO_DELETE_ANONYMOUS_USER => "Failed to delete anonymous user",
    USER_IS_NOT_ANONYMOUS => "User is not anonymous",
    DELETE_ANONYMOUS_USER_DISABLED => "Deleting anonymous users is disabled",
}

pub use routes::{DELETE_ANONYMOUS_USER, SIGN_IN_ANONYMOUS};

pub const PLUGIN: Plugin = Plugin {
    id: "anonymous",
    endpoints: &[&SIGN_IN_ANONYMOUS, &DELETE_ANONYMOUS_USER],
    error_codes: CODES,
    migrations: &[crate::migration!("plugin_anonymous_0001", "plugins/anonymous")],
    hooks: &AnonymousHooks,
};

struct AnonymousHooks;

impl Hooks for AnonymousHooks {
    /// `isAnonymous` is `input: false` with default `false`: sign-up always makes a real user.
    fn before_user_create(&self, _ctx: &Ctx<'_>, user: &mut User) -> Result<(), ApiError> {
        user.is_anonymous = false;
        Ok(())
    }

    /// Nobody turns themselves into a guest or out of one through update-user: a truthy
    /// `isAnonymous` is refused as Better Auth refuses an `input: false` field.
    fn before_user_update(&self, ctx: &Ctx<'_>, _current: &SignedIn, _update: &mut UserUpdate) -> Result<(), ApiError> {
        let given = ctx.body.as_ref().and_then(|b| b.get("isAnonymous"));
        if given.is_some_and(crate::http::js::truthy) {
            return Err(ApiError::with_message(
                400,
                codes::FIELD_NOT_ALLOWED,
                "isAnonymous is not allowed to be set",
            ));
        }
        Ok(())
    }

    fn user_fields<'a>(&self, user: &'a User, out: &mut dyn FnMut(&'static str, FieldValue<'a>)) {
        out("isAnonymous", FieldValue::Bool(Some(user.is_anonymous)));
    }

    fn after(&self, ctx: &Ctx<'_>, req: &Request, resp: &mut Response) {
        link::after_sign_in(ctx, req, resp);
    }
}
