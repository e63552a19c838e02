//! The admin plugin (Better Auth's `admin`): user management under `/admin/…` for callers
//! whose role grants it, bans that end sessions and refuse every sign-in, and impersonation.
//! The operations themselves are in [`ops`], shared with the `sesame user` command; the
//! behaviour, learnt from Better Auth 1.7.25's plugin, is written down in
//! `docs/plugins/admin.md`.
//!
//! Schema: `user.role`, `user.banned`, `user.banReason`, `user.banExpires` and
//! `session.impersonatedBy`, added by the plugin's migration; with the plugin enabled they
//! appear in every user and session answer (before `id`, as Better Auth orders them).

pub mod access;
mod impersonate;
pub mod ops;
mod sessions;
mod users;

use serde_json::{Map, Value};

use super::{Hooks, Plugin};
use crate::endpoint::current::SignedIn;
use crate::endpoint::{Ctx, Transport};
use crate::error::{ApiError, ErrorCode};
use crate::http::{Request, Response};
use crate::storage::models::{FieldValue, Session, User, UserUpdate};

macro_rules! admin_codes {
    ($($name:ident => $msg:expr,)*) => {
        $(pub const $name: ErrorCode = ErrorCode { code: stringify!($name), message: $msg };)*
        const CODES: &[ErrorCode] = &[$($name),*];
    };
}

// Better Auth's `ADMIN_ERROR_CODES`, then the codes Sesame names where Better Auth answers a
// message without one.
admin_codes! {
    FAILED_TO_CREATE_USER => "Failed to create user",
    USER_ALREADY_EXISTS => "User already exists.",
    USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL => "User already exists. Use another email.",
    YOU_CANNOT_BAN_YOURSELF => "You cannot ban yourself",
    YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE => "You are not allowed to change users role",
    YOU_ARE_NOT_ALLOWED_TO_CREATE_USERS => "You are not allowed to create users",
    YOU_ARE_NOT_ALLOWED_TO_LIST_USERS => "You are not allowed to list users",
    YOU_ARE_NOT_ALLOWED_TO_LIST_USERS_SESSIONS => "You are not allowed to list users sessions",
    YOU_ARE_NOT_ALLOWED_TO_BAN_USERS => "You are not allowed to ban users",
    YOU_ARE_NOT_ALLOWED_TO_IMPERSONATE_USERS => "You are not allowed to impersonate users",
    YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS => "You are not allowed to revoke users sessions",
    YOU_ARE_NOT_ALLOWED_TO_DELETE_USERS => "You are not allowed to delete users",
    YOU_ARE_NOT_ALLOWED_TO_SET_USERS_PASSWORD => "You are not allowed to set users password",
    BANNED_USER => "You have been banned from this application",
    YOU_ARE_NOT_ALLOWED_TO_GET_USER => "You are not allowed to get user",
    NO_DATA_TO_UPDATE => "No data to update",
    YOU_ARE_NOT_ALLOWED_TO_UPDATE_USERS => "You are not allowed to update users",
    YOU_CANNOT_REMOVE_YOURSELF => "You cannot remove yourself",
    YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE => "You are not allowed to set a non-existent role value",
    YOU_CANNOT_IMPERSONATE_ADMINS => "You cannot impersonate admins",
    INVALID_ROLE_TYPE => "Invalid role type",
    YOU_ARE_NOT_ALLOWED_TO_SET_USERS_EMAIL => "You are not allowed to update users email",
    YOU_ARE_NOT_ALLOWED_TO_SET_USERS_PHONE_NUMBER => "You are not allowed to update users phone number",
    PASSWORD_CANNOT_BE_UPDATED_VIA_UPDATE_USER => "Password cannot be updated through update-user. Use the set-user-password endpoint instead",
    USER_ID_CANNOT_BE_UPDATED => "User id cannot be updated",
    NOT_IMPERSONATING => "You are not impersonating anyone",
    ADMIN_SESSION_NOT_FOUND => "Failed to find admin session",
    INVALID_PERMISSION_CHECK => "invalid permission check. no permission(s) were passed.",
    USER_ID_OR_ROLE_REQUIRED => "user id or role is required",
    PERMISSION_USER_NOT_FOUND => "user not found",
}

/// Better Auth's default `bannedUserMessage`: what a banned user's sign-in answers.
pub const BANNED_USER_MESSAGE: &str =
    "You have been banned from this application. Please contact support if you believe this is an error.";

pub use impersonate::{SessionAndUser, IMPERSONATE_USER, STOP_IMPERSONATING};
pub use sessions::{
    BanUserBody, RevokeUserSessionBody, SessionList, UserIdBody, BAN_USER, LIST_USER_SESSIONS, REVOKE_USER_SESSION,
    REVOKE_USER_SESSIONS, UNBAN_USER,
};
pub use users::{
    user_query, AdminUpdateUserBody, CreateUserBody, GetUserQuery, HasPermissionBody, ListUsersQuery, PermissionAnswer,
    RemoveUserBody, SetRoleBody, SetUserPasswordBody, StatusOnly, UserList, UserWrapped, CREATE_USER, GET_USER,
    HAS_PERMISSION, LIST_USERS, REMOVE_USER, SET_ROLE, SET_USER_PASSWORD, UPDATE_USER,
};

pub const PLUGIN: Plugin = Plugin {
    id: "admin",
    endpoints: &[
        &SET_ROLE,
        &GET_USER,
        &CREATE_USER,
        &UPDATE_USER,
        &LIST_USERS,
        &LIST_USER_SESSIONS,
        &UNBAN_USER,
        &BAN_USER,
        &IMPERSONATE_USER,
        &STOP_IMPERSONATING,
        &REVOKE_USER_SESSION,
        &REVOKE_USER_SESSIONS,
        &REMOVE_USER,
        &SET_USER_PASSWORD,
        &HAS_PERMISSION,
    ],
    error_codes: CODES,
    migrations: &[crate::migration!("plugin_admin_0001", "plugins/admin")],
    hooks: &AdminHooks,
};

/// A user as the admin plugin's endpoints answer it (the core fields and the admin fields),
/// for callers without a request (`sesame user … --json`).
pub fn user_json(user: &User) -> Value {
    let mut fields = Map::new();
    user.admin.write_json(&mut fields);
    crate::endpoint::ctx::with_fields_before_id(user.to_json(), fields)
}

/// The caller's session, or 401 (Better Auth's `adminMiddleware`).
fn caller(ctx: &Ctx<'_>, req: &Request) -> Result<SignedIn, ApiError> {
    crate::endpoint::current::require(ctx, req)
}

/// Whether the caller may do `request`.
fn may(ctx: &Ctx<'_>, caller: &SignedIn, request: access::Permissions<'_>) -> bool {
    access::has_permission(
        &ctx.config().admin,
        &caller.user.id,
        caller.user.admin.role.as_deref(),
        request,
    )
}

/// 403 with `code` unless the caller may do `request`.
fn require(
    ctx: &Ctx<'_>,
    caller: &SignedIn,
    request: access::Permissions<'_>,
    code: ErrorCode,
) -> Result<(), ApiError> {
    if may(ctx, caller, request) {
        Ok(())
    } else {
        Err(ApiError::new(403, code))
    }
}

/// An in-process call without request headers: Better Auth's server-side `auth.api.*` call
/// with no `headers`, which create-user and has-permission allow without a session.
fn is_server_call(ctx: &Ctx<'_>, req: &Request) -> bool {
    ctx.transport == Transport::InProcess
        && req
            .headers
            .iter()
            .all(|(k, _)| k.eq_ignore_ascii_case("content-type") || k.eq_ignore_ascii_case("content-length"))
}

/// A `z.coerce.string()` field: a string as it is, anything else as JavaScript's `String()`
/// writes it (a missing one is `"undefined"`, which names no user).
fn coerce(value: &Option<Value>) -> String {
    match value {
        None => "undefined".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) => "null".into(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| coerce(&Some(v.clone())))
            .collect::<Vec<_>>()
            .join(","),
        Some(Value::Object(_)) => "[object Object]".into(),
        Some(other) => other.to_string(),
    }
}

/// The plugin's `input: false` fields: sign-up and update-user refuse a truthy value of any
/// of them (Better Auth's `FIELD_NOT_ALLOWED`), so nobody grants themselves a role or lifts
/// their own ban.
const SERVER_ONLY: [&str; 4] = ["role", "banned", "banReason", "banExpires"];

fn refuse_server_only(ctx: &Ctx<'_>) -> Result<(), ApiError> {
    let Some(body) = ctx.body.as_ref() else {
        return Ok(());
    };
    for key in SERVER_ONLY {
        if body.get(key).is_some_and(crate::http::js::truthy) {
            return Err(ApiError::with_message(
                400,
                crate::error::codes::FIELD_NOT_ALLOWED,
                format!("{key} is not allowed to be set"),
            ));
        }
    }
    Ok(())
}

struct AdminHooks;

impl Hooks for AdminHooks {
    fn before_user_create(&self, ctx: &Ctx<'_>, _user: &mut User) -> Result<(), ApiError> {
        refuse_server_only(ctx)
    }

    fn before_user_update(&self, ctx: &Ctx<'_>, _current: &SignedIn, _update: &mut UserUpdate) -> Result<(), ApiError> {
        refuse_server_only(ctx)
    }

    fn user_defaults(&self, user: &mut User) {
        user.admin.role.get_or_insert_with(|| "user".to_string());
        user.admin.banned.get_or_insert(false);
    }

    /// Better Auth's `session.create.before` hook: a banned user gets no session, by any
    /// method; a ban past its end is lifted instead.
    fn before_session_create(&self, ctx: &Ctx<'_>, user_id: &str) -> Result<(), ApiError> {
        let Some(user) = ctx.storage().find_user_by_id(user_id)? else {
            return Ok(());
        };
        if user.admin.banned != Some(true) {
            return Ok(());
        }
        if user.admin.is_banned(ctx.now) {
            return Err(ApiError::with_message(403, BANNED_USER, BANNED_USER_MESSAGE));
        }
        let lift = UserUpdate {
            banned: Some(Some(false)),
            ban_reason: Some(None),
            ban_expires: Some(None),
            ..UserUpdate::default()
        };
        ctx.storage().update_user(user_id, &lift, ctx.now)?;
        Ok(())
    }

    fn user_fields<'a>(&self, user: &'a User, out: &mut dyn FnMut(&'static str, FieldValue<'a>)) {
        user.admin.fields(out);
    }

    fn session_fields<'a>(&self, session: &'a Session, out: &mut dyn FnMut(&'static str, FieldValue<'a>)) {
        out("impersonatedBy", FieldValue::Str(session.impersonated_by.as_deref()));
    }

    /// Better Auth's after hook on `/list-sessions`: a user does not see the sessions an
    /// admin opened as them.
    fn after(&self, ctx: &Ctx<'_>, req: &Request, resp: &mut Response) {
        let path = req
            .path
            .strip_prefix(ctx.config().base_path.as_str())
            .unwrap_or(&req.path);
        if path != "/list-sessions" {
            return;
        }
        let Ok(Value::Array(sessions)) = serde_json::from_slice::<Value>(&resp.body) else {
            return;
        };
        let kept: Vec<Value> = sessions
            .into_iter()
            .filter(|s| s.get("impersonatedBy").is_none_or(Value::is_null))
            .collect();
        resp.body = Value::Array(kept).to_string().into_bytes();
    }
}
