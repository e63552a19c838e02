//! The admin operations themselves, shared by the plugin's endpoints and the `sesame user`
//! command: each takes the storage, the configuration and the time, checks its input as
//! Better Auth's admin plugin does, and answers an [`ApiError`] the endpoint returns and the
//! command prints. Permission checks are the endpoints' (the command runs as the operator).

use serde_json::Value;
use time::OffsetDateTime;

use super::{INVALID_ROLE_TYPE, USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL, YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE};
use crate::auth::password;
use crate::config::plugins::KNOWN_ROLES;
use crate::config::Config;
use crate::error::{codes, ApiError};
use crate::storage::admin::UserQuery;
use crate::storage::models::{Account, User, UserUpdate};
use crate::storage::{SessionChange, Storage, StorageError};

/// Better Auth's `banReason` when none is given.
pub const DEFAULT_BAN_REASON: &str = "No reason";

/// A role value (a string or an array of strings) as the stored comma-separated list. Only
/// the defined roles (`admin`, `user`) are accepted: Better Auth stores any string unless
/// the app configures `roles`, and a mistyped role would silently grant nothing.
pub fn parse_roles(value: &Value) -> Result<String, ApiError> {
    let roles: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        one => vec![one],
    };
    let mut names = Vec::new();
    for role in roles {
        let Value::String(name) = role else {
            return Err(ApiError::bad_request(INVALID_ROLE_TYPE));
        };
        if !KNOWN_ROLES.contains(&name.as_str()) {
            return Err(ApiError::bad_request(YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE));
        }
        names.push(name.as_str());
    }
    if names.is_empty() {
        return Err(ApiError::bad_request(YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE));
    }
    Ok(names.join(","))
}

/// An address as stored (lower-cased), or 400 `INVALID_EMAIL`.
pub fn normalize_email(email: &str) -> Result<String, ApiError> {
    let email = email.to_lowercase();
    if !crate::auth::email::is_valid(&email) {
        return Err(ApiError::bad_request(codes::INVALID_EMAIL));
    }
    Ok(email)
}

/// Hashes a password: the endpoints pass the hashing pool (`Ctx::hash_password`, so an admin
/// request waits for a hashing thread like a sign-up and never blocks a worker with bcrypt),
/// the `sesame user` command [`hash_here`].
pub type Hasher<'a> = &'a dyn Fn(&str) -> Result<String, ApiError>;

/// [`Hasher`] on the calling thread, with the configured scheme and cost.
pub fn hash_here(config: &Config) -> impl Fn(&str) -> Result<String, ApiError> + '_ {
    move |pass| Ok(password::hash(pass, config.password_hash, config.bcrypt_cost)?)
}

/// The password policy: `PASSWORD_TOO_SHORT` (when `check_min`) / `PASSWORD_TOO_LONG`.
fn check_policy(config: &Config, pass: &str, check_min: bool) -> Result<(), ApiError> {
    let len = password::length(pass);
    if check_min && len < config.min_password_length {
        return Err(ApiError::bad_request(codes::PASSWORD_TOO_SHORT));
    }
    if len > config.max_password_length {
        return Err(ApiError::bad_request(codes::PASSWORD_TOO_LONG));
    }
    Ok(())
}

/// A user to create.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    /// Without one, the user has no credential account (magic link or social sign-in only).
    pub password: Option<String>,
    /// The stored role list; `None`: `user`.
    pub role: Option<String>,
    pub email_verified: bool,
    pub image: Option<String>,
}

/// Creates the user (and their credential account when a password is given) in one
/// transaction. `USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL` when the address is taken. Better
/// Auth does not apply the minimum length here; neither does Sesame.
pub fn create_user(
    storage: &dyn Storage,
    config: &Config,
    hasher: Hasher<'_>,
    new: NewUser,
    now: OffsetDateTime,
) -> Result<User, ApiError> {
    let email = normalize_email(&new.email)?;
    let pass = new.password.as_deref().filter(|p| !p.is_empty());
    if let Some(p) = pass {
        check_policy(config, p, false)?;
    }
    // Refused before hashing, so a taken address never waits for a hashing thread.
    if storage.find_user_by_email(&email)?.is_some() {
        return Err(ApiError::bad_request(USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL));
    }
    let hash = pass.map(hasher).transpose()?;
    let mut user = User::new(&new.name, &email, new.image, now);
    user.email_verified = new.email_verified;
    user.admin.role = Some(new.role.unwrap_or_else(|| "user".to_string()));
    user.admin.banned = Some(false);
    let created = match &hash {
        Some(h) => storage.create_user_with_account(&user, &Account::credential(&user.id, h.clone(), now)),
        None => storage.create_user(&user),
    };
    match created {
        Ok(()) => Ok(user),
        Err(StorageError::Conflict(_)) => Err(ApiError::bad_request(USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL)),
        Err(e) => Err(e.into()),
    }
}

/// The user, or 404 `USER_NOT_FOUND`.
pub fn existing(storage: &dyn Storage, user_id: &str) -> Result<User, ApiError> {
    storage
        .find_user_by_id(user_id)?
        .ok_or_else(|| ApiError::new(404, codes::USER_NOT_FOUND))
}

/// A user named by id or by email (the command line's `<user>`).
pub fn find(storage: &dyn Storage, id_or_email: &str) -> Result<User, ApiError> {
    if id_or_email.contains('@') {
        if let Some(u) = storage.find_user_by_email(&id_or_email.to_lowercase())? {
            return Ok(u);
        }
    }
    existing(storage, id_or_email)
}

/// Applies an update to an existing user (404 otherwise); a ban in it ends the user's
/// sessions in the same transaction.
pub fn update(
    storage: &dyn Storage,
    user_id: &str,
    update: &UserUpdate,
    now: OffsetDateTime,
) -> Result<User, ApiError> {
    let updated = if update.banned == Some(Some(true)) {
        storage.update_user_ending_sessions(user_id, update, now)?
    } else {
        storage.update_user(user_id, update, now)?
    };
    match updated {
        Some(u) => Ok(u),
        None => Err(ApiError::new(404, codes::USER_NOT_FOUND)),
    }
}

pub fn set_role(storage: &dyn Storage, user_id: &str, role: String, now: OffsetDateTime) -> Result<User, ApiError> {
    let change = UserUpdate {
        role: Some(Some(role)),
        ..UserUpdate::default()
    };
    update(storage, user_id, &change, now)
}

/// Bans the user (with a reason, `No reason` by default, and an optional end) and ends every
/// session of theirs, in one transaction.
pub fn ban(
    storage: &dyn Storage,
    user_id: &str,
    reason: Option<String>,
    expires: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<User, ApiError> {
    let change = UserUpdate {
        banned: Some(Some(true)),
        ban_reason: Some(Some(
            reason
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| DEFAULT_BAN_REASON.into()),
        )),
        ban_expires: Some(expires),
        ..UserUpdate::default()
    };
    update(storage, user_id, &change, now)
}

/// Lifts a ban (and clears its reason and end).
pub fn unban(storage: &dyn Storage, user_id: &str, now: OffsetDateTime) -> Result<User, ApiError> {
    let change = UserUpdate {
        banned: Some(Some(false)),
        ban_reason: Some(None),
        ban_expires: Some(None),
        ..UserUpdate::default()
    };
    update(storage, user_id, &change, now)
}

/// Sets the user's password (creating their credential account if they have none). Their
/// sessions stay, as in Better Auth; their password-reset links end.
pub fn set_password(
    storage: &dyn Storage,
    config: &Config,
    hasher: Hasher<'_>,
    user_id: &str,
    new_password: &str,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    check_policy(config, new_password, true)?;
    existing(storage, user_id)?;
    let hash = hasher(new_password)?;
    storage.set_password(user_id, &hash, now, &SessionChange::Keep, true)?;
    Ok(())
}

/// Ends every session of the user.
pub fn revoke_sessions(storage: &dyn Storage, user_id: &str) -> Result<(), ApiError> {
    storage.delete_user_sessions(user_id)?;
    Ok(())
}

/// Deletes the user with their sessions, accounts and pending links; 404 if there is none.
pub fn remove(storage: &dyn Storage, user_id: &str) -> Result<(), ApiError> {
    if !storage.delete_user(user_id)? {
        return Err(ApiError::new(404, codes::USER_NOT_FOUND));
    }
    Ok(())
}

pub fn list(storage: &dyn Storage, query: &UserQuery) -> Result<(Vec<User>, u64), ApiError> {
    Ok(storage.list_users(query)?)
}
