//! `/admin/create-user`, `/admin/list-users`, `/admin/get-user`, `/admin/update-user`,
//! `/admin/set-role`, `/admin/set-user-password`, `/admin/remove-user` and
//! `/admin/has-permission`, in Better Auth's order of checks: the session (401), the
//! permission (403), the input (400), the user (404).

use serde_json::{json, Map, Value};

use super::ops::{self, NewUser};
use super::*;
use crate::endpoint::answers::{SuccessAnswer, UserAnswer};
use crate::endpoint::{Kind, NoInput, Typed};
use crate::error::codes;
use crate::storage::admin::{parse_date, Condition, Direction, Op, UserField, UserQuery};

/// zod's message for a failed union (`role`: a string or an array of strings).
fn string_or_strings(v: &Value) -> Option<String> {
    let ok = match v {
        Value::String(_) => true,
        Value::Array(items) => items.iter().all(Value::is_string),
        _ => false,
    };
    (!ok).then(|| "Invalid input".to_string())
}

fn string_or_number(v: &Value) -> Option<String> {
    (!(v.is_string() || v.is_number())).then(|| "Invalid input".to_string())
}

fn one_of(v: &Value, options: &[&str]) -> Option<String> {
    if v.as_str().is_some_and(|s| options.contains(&s)) {
        return None;
    }
    let list: Vec<String> = options.iter().map(|o| format!("\"{o}\"")).collect();
    Some(format!("Invalid option: expected one of {}", list.join("|")))
}

fn search_field(v: &Value) -> Option<String> {
    one_of(v, &["email", "name"])
}

fn search_operator(v: &Value) -> Option<String> {
    one_of(v, &["contains", "starts_with", "ends_with"])
}

fn sort_direction(v: &Value) -> Option<String> {
    one_of(v, &["asc", "desc"])
}

fn filter_operator(v: &Value) -> Option<String> {
    one_of(v, &Op::NAMES)
}

/// `z.record(z.string(), z.array(z.string()))`.
fn permission_record(v: &Value) -> Option<String> {
    let ok = v.as_object().is_some_and(|m| {
        m.values()
            .all(|a| a.as_array().is_some_and(|a| a.iter().all(Value::is_string)))
    });
    (!ok).then(|| "Invalid input".to_string())
}

/// `{user}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UserWrapped {
    pub user: UserAnswer,
}

crate::input! {
    /// The body of `POST /admin/create-user`.
    pub struct CreateUserBody {
        email: String = "email" as Kind::String,
        password: Option<String> = "password" as Kind::String,
        name: String = "name" as Kind::String,
        role: Option<Value> = "role" as Kind::Any => string_or_strings,
        data: Option<Map<String, Value>> = "data" as Kind::Record,
    }
}

pub static CREATE_USER: Typed<CreateUserBody, NoInput, UserWrapped> =
    Typed::post("/admin/create-user", "createUser", create_user)
        .summary("Create a new user")
        .hashing()
        .errors(&[
            codes::UNAUTHORIZED,
            YOU_ARE_NOT_ALLOWED_TO_CREATE_USERS,
            YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE,
            YOU_ARE_NOT_ALLOWED_TO_BAN_USERS,
            INVALID_ROLE_TYPE,
            YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE,
            codes::INVALID_EMAIL,
            codes::PASSWORD_TOO_LONG,
            USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL,
        ]);

const BAN_FIELDS: [&str; 3] = ["banned", "banReason", "banExpires"];

fn create_user(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let body: CreateUserBody = ctx.input()?;
    let session = crate::endpoint::current::resolve(ctx, req, false)?;
    if session.is_none() && !is_server_call(ctx, req) {
        return Err(ApiError::unauthorized());
    }
    if let Some(s) = &session {
        require(ctx, s, &[("user", &["create"])], YOU_ARE_NOT_ALLOWED_TO_CREATE_USERS)?;
    }
    let mut data = body.data.unwrap_or_default();
    let data_role = data.remove("role");
    let role = match body.role.or(data_role) {
        None => None,
        Some(r) => {
            if let Some(s) = &session {
                require(
                    ctx,
                    s,
                    &[("user", &["set-role"])],
                    YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE,
                )?;
            }
            Some(ops::parse_roles(&r)?)
        }
    };
    let bans = BAN_FIELDS.iter().any(|k| data.contains_key(*k));
    if let (true, Some(s)) = (bans, &session) {
        require(ctx, s, &[("user", &["ban"])], YOU_ARE_NOT_ALLOWED_TO_BAN_USERS)?;
    }
    let fields = data_fields(&data)?;
    let new = NewUser {
        email: body.email,
        name: body.name,
        password: body.password,
        role,
        email_verified: fields.email_verified.unwrap_or(false),
        image: fields.image.flatten(),
    };
    let mut user = ops::create_user(ctx.storage(), ctx.config(), &|p| ctx.hash_password(p), new, ctx.now)?;
    if bans {
        let ban = UserUpdate {
            banned: fields.banned,
            ban_reason: fields.ban_reason,
            ban_expires: fields.ban_expires,
            ..UserUpdate::default()
        };
        user = ops::update(ctx.storage(), &user.id, &ban, ctx.now)?;
    }
    Ok(Response::json(&json!({ "user": ctx.user_json(&user) })))
}

/// The user fields a `data` object may set (create-user, update-user). Other keys are
/// ignored: Sesame has no other writable user field (`createdAt`, a disabled plugin's, …).
fn data_fields(data: &Map<String, Value>) -> Result<UserUpdate, ApiError> {
    let bad = |key: &str, expected: &str| {
        ApiError::validation(format!("[body.data.{key}] Invalid input: expected {expected}"))
    };
    let mut u = UserUpdate::default();
    for (key, value) in data {
        match (key.as_str(), value) {
            ("name", Value::String(s)) => u.name = Some(s.clone()),
            ("name", _) => return Err(bad(key, "string")),
            ("image", Value::String(s)) => u.image = Some(Some(s.clone())),
            ("image", Value::Null) => u.image = Some(None),
            ("image", _) => return Err(bad(key, "string or null")),
            ("emailVerified", Value::Bool(b)) => u.email_verified = Some(*b),
            ("emailVerified", _) => return Err(bad(key, "boolean")),
            ("banned", Value::Bool(b)) => u.banned = Some(Some(*b)),
            ("banned", Value::Null) => u.banned = Some(None),
            ("banned", _) => return Err(bad(key, "boolean")),
            ("banReason", Value::String(s)) => u.ban_reason = Some(Some(s.clone())),
            ("banReason", Value::Null) => u.ban_reason = Some(None),
            ("banReason", _) => return Err(bad(key, "string or null")),
            ("banExpires", Value::Null) => u.ban_expires = Some(None),
            ("banExpires", Value::String(s)) => match parse_date(s) {
                Some(t) => u.ban_expires = Some(Some(t)),
                None => return Err(bad(key, "date")),
            },
            ("banExpires", Value::Number(n)) => {
                let t = n
                    .as_i64()
                    .and_then(|ms| time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok())
                    .ok_or_else(|| bad(key, "date"))?;
                u.ban_expires = Some(Some(t));
            }
            ("banExpires", _) => return Err(bad(key, "date")),
            _ => {}
        }
    }
    Ok(u)
}

crate::input! {
    /// The query of `GET /admin/list-users`.
    pub struct ListUsersQuery {
        search_value: Option<String> = "searchValue" as Kind::String,
        search_field: Option<String> = "searchField" as Kind::String => search_field,
        search_operator: Option<String> = "searchOperator" as Kind::String => search_operator,
        limit: Option<Value> = "limit" as Kind::Any => string_or_number,
        offset: Option<Value> = "offset" as Kind::Any => string_or_number,
        sort_by: Option<String> = "sortBy" as Kind::String,
        sort_direction: Option<String> = "sortDirection" as Kind::String => sort_direction,
        filter_field: Option<String> = "filterField" as Kind::String,
        filter_value: Option<Value> = "filterValue" as Kind::Any,
        filter_operator: Option<String> = "filterOperator" as Kind::String => filter_operator,
    }
}

/// `GET /admin/list-users`'s answer.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UserList {
    pub users: Vec<UserAnswer>,
    pub total: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

pub static LIST_USERS: Typed<NoInput, ListUsersQuery, UserList> =
    Typed::get("/admin/list-users", "listUsers", list_users)
        .summary("List users")
        .errors(&[codes::UNAUTHORIZED, YOU_ARE_NOT_ALLOWED_TO_LIST_USERS]);

/// `Number(x) || undefined`, for a page size or start: a positive whole number, or none.
fn page_number(v: &Option<Value>) -> Option<u64> {
    let n = match v.as_ref()? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (n.is_finite() && n >= 1.0 && n.fract() == 0.0 && n < 9.0e15).then_some(n as u64)
}

/// The query Better Auth's handler builds, or `None` when it names a field or value the
/// table cannot answer (Better Auth's adapter then throws, and the handler answers an empty
/// list).
pub fn user_query(q: &ListUsersQuery) -> Option<UserQuery> {
    let mut conditions = Vec::new();
    if let Some(value) = q.search_value.as_ref().filter(|v| !v.is_empty()) {
        let field = UserField::from_name(q.search_field.as_deref().unwrap_or("email"))?;
        let op = Op::from_name(q.search_operator.as_deref().unwrap_or("contains"))?;
        conditions.push(Condition::new(field, op, &[Value::String(value.clone())])?);
    }
    if let Some(value) = &q.filter_value {
        let field = UserField::from_name(q.filter_field.as_deref().unwrap_or("email"))?;
        let op = Op::from_name(q.filter_operator.as_deref().unwrap_or("eq"))?;
        let values = match value {
            Value::Array(items) => items.clone(),
            one => vec![one.clone()],
        };
        conditions.push(Condition::new(field, op, &values)?);
    }
    let sort = match q.sort_by.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(name) => {
            let dir = match q.sort_direction.as_deref() {
                Some("desc") => Direction::Desc,
                _ => Direction::Asc,
            };
            Some((UserField::from_name(name)?, dir))
        }
    };
    Some(UserQuery {
        conditions,
        sort,
        limit: page_number(&q.limit),
        offset: page_number(&q.offset),
    })
}

fn list_users(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let q: ListUsersQuery = ctx.query(req)?;
    let s = caller(ctx, req)?;
    require(ctx, &s, &[("user", &["list"])], YOU_ARE_NOT_ALLOWED_TO_LIST_USERS)?;
    let Some(query) = user_query(&q) else {
        return Ok(Response::json(&json!({ "users": [], "total": 0 })));
    };
    let (users, total) = ops::list(ctx.storage(), &query)?;
    let mut out = Map::new();
    out.insert(
        "users".into(),
        Value::Array(users.iter().map(|u| ctx.user_json(u)).collect()),
    );
    out.insert("total".into(), json!(total));
    if let Some(l) = query.limit {
        out.insert("limit".into(), json!(l));
    }
    if let Some(o) = query.offset {
        out.insert("offset".into(), json!(o));
    }
    Ok(Response::json(&Value::Object(out)))
}

crate::input! {
    /// The query of `GET /admin/get-user`.
    pub struct GetUserQuery {
        id: String = "id" as Kind::String,
    }
}

pub static GET_USER: Typed<NoInput, GetUserQuery, UserAnswer> = Typed::get("/admin/get-user", "getUser", get_user)
    .summary("Get an existing user")
    .errors(&[
        codes::UNAUTHORIZED,
        YOU_ARE_NOT_ALLOWED_TO_GET_USER,
        codes::USER_NOT_FOUND,
    ]);

fn get_user(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let GetUserQuery { id } = ctx.query(req)?;
    let s = caller(ctx, req)?;
    require(ctx, &s, &[("user", &["get"])], YOU_ARE_NOT_ALLOWED_TO_GET_USER)?;
    let user = ops::existing(ctx.storage(), &id)?;
    Ok(Response::json(&ctx.user_json(&user)))
}

crate::input! {
    /// The body of `POST /admin/update-user`.
    pub struct AdminUpdateUserBody {
        user_id: Option<Value> = "userId" as Kind::Any,
        data: Map<String, Value> = "data" as Kind::Record,
    }
}

pub static UPDATE_USER: Typed<AdminUpdateUserBody, NoInput, UserAnswer> =
    Typed::post("/admin/update-user", "adminUpdateUser", update_user)
        .summary("Update a user")
        .errors(&[
            codes::UNAUTHORIZED,
            YOU_ARE_NOT_ALLOWED_TO_UPDATE_USERS,
            NO_DATA_TO_UPDATE,
            PASSWORD_CANNOT_BE_UPDATED_VIA_UPDATE_USER,
            USER_ID_CANNOT_BE_UPDATED,
            YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE,
            INVALID_ROLE_TYPE,
            YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE,
            YOU_ARE_NOT_ALLOWED_TO_BAN_USERS,
            YOU_CANNOT_BAN_YOURSELF,
            YOU_ARE_NOT_ALLOWED_TO_SET_USERS_EMAIL,
            codes::INVALID_EMAIL,
            USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL,
            YOU_ARE_NOT_ALLOWED_TO_SET_USERS_PHONE_NUMBER,
            codes::USER_NOT_FOUND,
        ]);

fn update_user(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let body: AdminUpdateUserBody = ctx.input()?;
    let s = caller(ctx, req)?;
    require(ctx, &s, &[("user", &["update"])], YOU_ARE_NOT_ALLOWED_TO_UPDATE_USERS)?;
    let user_id = coerce(&body.user_id);
    let mut data = body.data;
    if data.is_empty() {
        return Err(ApiError::bad_request(NO_DATA_TO_UPDATE));
    }
    if data.contains_key("password") {
        return Err(ApiError::bad_request(PASSWORD_CANNOT_BE_UPDATED_VIA_UPDATE_USER));
    }
    if data.contains_key("id") {
        return Err(ApiError::bad_request(USER_ID_CANNOT_BE_UPDATED));
    }
    let role = match data.remove("role") {
        None => None,
        Some(r) => {
            require(
                ctx,
                &s,
                &[("user", &["set-role"])],
                YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE,
            )?;
            Some(ops::parse_roles(&r)?)
        }
    };
    if BAN_FIELDS.iter().any(|k| data.contains_key(*k)) {
        require(ctx, &s, &[("user", &["ban"])], YOU_ARE_NOT_ALLOWED_TO_BAN_USERS)?;
        if data.get("banned") == Some(&Value::Bool(true)) && user_id == s.user.id {
            return Err(ApiError::bad_request(YOU_CANNOT_BAN_YOURSELF));
        }
    }
    let mut update = data_fields(&data)?;
    if data.contains_key("email") || data.contains_key("emailVerified") {
        require(
            ctx,
            &s,
            &[("user", &["set-email"])],
            YOU_ARE_NOT_ALLOWED_TO_SET_USERS_EMAIL,
        )?;
        if let Some(email) = data.get("email") {
            let email = ops::normalize_email(&coerce(&Some(email.clone())))?;
            if let Some(owner) = ctx.storage().find_user_by_email(&email)? {
                if owner.id != user_id {
                    return Err(ApiError::bad_request(USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL));
                }
            }
            update.email = Some(email);
        }
    }
    if data.contains_key("phoneNumber") || data.contains_key("phoneNumberVerified") {
        require(
            ctx,
            &s,
            &[("user", &["set-phone"])],
            YOU_ARE_NOT_ALLOWED_TO_SET_USERS_PHONE_NUMBER,
        )?;
    }
    update.role = role.map(Some);
    ops::existing(ctx.storage(), &user_id)?;
    let user = ops::update(ctx.storage(), &user_id, &update, ctx.now)?;
    Ok(Response::json(&ctx.user_json(&user)))
}

crate::input! {
    /// The body of `POST /admin/set-role`.
    pub struct SetRoleBody {
        user_id: Option<Value> = "userId" as Kind::Any,
        role: Value = "role" as Kind::Any => string_or_strings,
    }
}

pub static SET_ROLE: Typed<SetRoleBody, NoInput, UserWrapped> = Typed::post("/admin/set-role", "setRole", set_role)
    .summary("Set the role of a user")
    .errors(&[
        codes::UNAUTHORIZED,
        YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE,
        YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE,
        codes::USER_NOT_FOUND,
    ]);

fn set_role(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let body: SetRoleBody = ctx.input()?;
    let s = caller(ctx, req)?;
    require(
        ctx,
        &s,
        &[("user", &["set-role"])],
        YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE,
    )?;
    let role = ops::parse_roles(&body.role)?;
    let user_id = coerce(&body.user_id);
    ops::existing(ctx.storage(), &user_id)?;
    let user = ops::set_role(ctx.storage(), &user_id, role, ctx.now)?;
    Ok(Response::json(&json!({ "user": ctx.user_json(&user) })))
}

crate::input! {
    /// The body of `POST /admin/set-user-password`.
    pub struct SetUserPasswordBody {
        new_password: String = "newPassword" as Kind::NonEmpty,
        user_id: String = "userId" as Kind::NonEmpty,
    }
}

/// `{status}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StatusOnly {
    pub status: bool,
}

pub static SET_USER_PASSWORD: Typed<SetUserPasswordBody, NoInput, StatusOnly> =
    Typed::post("/admin/set-user-password", "setUserPassword", set_user_password)
        .summary("Set a user's password")
        .hashing()
        .errors(&[
            codes::UNAUTHORIZED,
            YOU_ARE_NOT_ALLOWED_TO_SET_USERS_PASSWORD,
            codes::PASSWORD_TOO_SHORT,
            codes::PASSWORD_TOO_LONG,
            codes::USER_NOT_FOUND,
        ]);

fn set_user_password(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let SetUserPasswordBody { new_password, user_id } = ctx.input()?;
    let s = caller(ctx, req)?;
    require(
        ctx,
        &s,
        &[("user", &["set-password"])],
        YOU_ARE_NOT_ALLOWED_TO_SET_USERS_PASSWORD,
    )?;
    ops::set_password(
        ctx.storage(),
        ctx.config(),
        &|p| ctx.hash_password(p),
        &user_id,
        &new_password,
        ctx.now,
    )?;
    Ok(Response::json(&json!({ "status": true })))
}

crate::input! {
    /// The body of `POST /admin/remove-user`.
    pub struct RemoveUserBody {
        user_id: Option<Value> = "userId" as Kind::Any,
    }
}

pub static REMOVE_USER: Typed<RemoveUserBody, NoInput, SuccessAnswer> =
    Typed::post("/admin/remove-user", "removeUser", remove_user)
        .summary("Remove a user")
        .errors(&[
            codes::UNAUTHORIZED,
            YOU_ARE_NOT_ALLOWED_TO_DELETE_USERS,
            YOU_CANNOT_REMOVE_YOURSELF,
            codes::USER_NOT_FOUND,
        ]);

fn remove_user(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let body: RemoveUserBody = ctx.input()?;
    let s = caller(ctx, req)?;
    require(ctx, &s, &[("user", &["delete"])], YOU_ARE_NOT_ALLOWED_TO_DELETE_USERS)?;
    let user_id = coerce(&body.user_id);
    if user_id == s.user.id {
        return Err(ApiError::bad_request(YOU_CANNOT_REMOVE_YOURSELF));
    }
    ops::remove(ctx.storage(), &user_id)?;
    Ok(Response::json(&json!({ "success": true })))
}

crate::input! {
    /// The body of `POST /admin/has-permission`: exactly one of `permission` / `permissions`.
    pub struct HasPermissionBody {
        user_id: Option<Value> = "userId" as Kind::Any,
        role: Option<String> = "role" as Kind::String,
        permission: Option<Value> = "permission" as Kind::Any => permission_record,
        permissions: Option<Value> = "permissions" as Kind::Any => permission_record,
    }
}

/// `{error, success}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PermissionAnswer {
    pub error: Option<String>,
    pub success: bool,
}

pub static HAS_PERMISSION: Typed<HasPermissionBody, NoInput, PermissionAnswer> =
    Typed::post("/admin/has-permission", "userHasPermission", has_permission)
        .summary("Check if the user has permission")
        .errors(&[
            codes::UNAUTHORIZED,
            INVALID_PERMISSION_CHECK,
            USER_ID_OR_ROLE_REQUIRED,
            PERMISSION_USER_NOT_FOUND,
        ]);

fn has_permission(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let body: HasPermissionBody = ctx.input()?;
    // zod's `xor`: exactly one of the two keys.
    if body.permission.is_some() == body.permissions.is_some() {
        return Err(ApiError::validation("[body] Invalid input".into()));
    }
    // Better Auth reads only `permissions`: a request with `permission` is refused.
    let Some(Value::Object(requested)) = &body.permissions else {
        return Err(ApiError::bad_request(INVALID_PERMISSION_CHECK));
    };
    let session = crate::endpoint::current::resolve(ctx, req, false)?;
    if session.is_none() && !is_server_call(ctx, req) {
        return Err(ApiError::unauthorized());
    }
    let (user_id, role) = match (&session, &body.role, &body.user_id) {
        (Some(s), _, _) => (s.user.id.clone(), s.user.admin.role.clone()),
        (None, Some(role), id) => (
            id.as_ref().map(|v| coerce(&Some(v.clone()))).unwrap_or_default(),
            Some(role.clone()),
        ),
        (None, None, Some(id)) => {
            let user = ctx
                .storage()
                .find_user_by_id(&coerce(&Some(id.clone())))?
                .ok_or_else(|| ApiError::bad_request(PERMISSION_USER_NOT_FOUND))?;
            (user.id, user.admin.role)
        }
        (None, None, None) => return Err(ApiError::bad_request(USER_ID_OR_ROLE_REQUIRED)),
    };
    let actions: Vec<(&str, Vec<&str>)> = requested
        .iter()
        .map(|(resource, a)| {
            let list = a
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            (resource.as_str(), list)
        })
        .collect();
    let request: Vec<(&str, &[&str])> = actions.iter().map(|(r, a)| (*r, a.as_slice())).collect();
    let success = access::has_permission(&ctx.config().admin, &user_id, role.as_deref(), &request);
    Ok(Response::json(&json!({ "error": null, "success": success })))
}
