//! The username plugin (Better Auth's `username`): `username` / `displayUsername` on the user,
//! accepted by sign-up and update-user, `POST /sign-in/username` and
//! `POST /is-username-available`.
//!
//! Rules (Better Auth's defaults): a username is 3–30 characters of `[a-zA-Z0-9_.]`, stored
//! lower-cased and unique; `displayUsername` keeps the user's spelling and defaults to the
//! username given at sign-up; a sign-up with only a `displayUsername` that is a valid
//! username uses it as the username.
//!
//! Sesame also checks `displayUsername` ([`check_display`]; Better Auth accepts anything unless
//! the app configures a validator): at most 64 characters, not blank, and no control or
//! invisible formatting characters (bidirectional overrides, zero-width characters), which
//! would let a name pose as another or break the pages that show it.

mod routes;

use serde_json::Value;

use super::{Hooks, Plugin};
use crate::endpoint::current::SignedIn;
use crate::endpoint::Ctx;
use crate::error::{ApiError, ErrorCode};
use crate::storage::models::{User, UserUpdate};

macro_rules! username_codes {
    ($($name:ident => $msg:expr,)*) => {
        $(pub const $name: ErrorCode = ErrorCode { code: stringify!($name), message: $msg };)*
        const CODES: &[ErrorCode] = &[$($name),*];
    };
}

username_codes! {
    INVALID_USERNAME_OR_PASSWORD => "Invalid username or password",
    USERNAME_IS_ALREADY_TAKEN => "Username is already taken. Please try another.",
    USERNAME_TOO_SHORT => "Username is too short",
    USERNAME_TOO_LONG => "Username is too long",
    INVALID_USERNAME => "Username is invalid",
    INVALID_DISPLAY_USERNAME => "Display username is invalid",
}

pub use routes::{
    AvailableAnswer, IsUsernameAvailableBody, SignInUsernameBody, IS_USERNAME_AVAILABLE, SIGN_IN_USERNAME,
};

pub const PLUGIN: Plugin = Plugin {
    id: "username",
    endpoints: &[&SIGN_IN_USERNAME, &IS_USERNAME_AVAILABLE],
    error_codes: CODES,
    migrations: &[crate::migration!("plugin_username_0001", "plugins/username")],
    hooks: &UsernameHooks,
};

const MIN_LENGTH: usize = 3;
const MAX_LENGTH: usize = 30;

/// The code for an unacceptable username, or `None` when it is fine.
pub fn check(username: &str) -> Option<ErrorCode> {
    let len = username.encode_utf16().count();
    if len < MIN_LENGTH {
        Some(USERNAME_TOO_SHORT)
    } else if len > MAX_LENGTH {
        Some(USERNAME_TOO_LONG)
    } else if !username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        Some(INVALID_USERNAME)
    } else {
        None
    }
}

/// Longest accepted `displayUsername`, in UTF-16 units (as JavaScript counts).
const MAX_DISPLAY_LENGTH: usize = 64;

/// `Some(INVALID_DISPLAY_USERNAME)` when a display name is unacceptable.
pub fn check_display(display: &str) -> Option<ErrorCode> {
    let invisible = |c: char| {
        c.is_control()
            || matches!(c,
                '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}' | '\u{E0000}'..='\u{E007F}')
    };
    let bad = display.trim().is_empty()
        || display.encode_utf16().count() > MAX_DISPLAY_LENGTH
        || display.chars().any(invisible);
    bad.then_some(INVALID_DISPLAY_USERNAME)
}

/// A `displayUsername` from the body: `None` when absent or empty (Better Auth ignores an empty
/// one), 400 `INVALID_DISPLAY_USERNAME` when unacceptable.
fn display_field(ctx: &Ctx<'_>) -> Result<Option<String>, ApiError> {
    let display = body_string(ctx, "displayUsername")?.filter(|d| !d.is_empty());
    if let Some(code) = display.as_deref().and_then(check_display) {
        return Err(ApiError::bad_request(code));
    }
    Ok(display)
}

/// The stored form.
pub fn normalize(username: &str) -> String {
    username.to_lowercase()
}

/// A string field of the body; another type is a validation error.
fn body_string(ctx: &Ctx<'_>, key: &str) -> Result<Option<String>, ApiError> {
    match ctx.body.as_ref().and_then(|b| b.get(key)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => {
            let kind = match other {
                Value::Bool(_) => "boolean",
                Value::Number(_) => "number",
                Value::Array(_) => "array",
                _ => "object",
            };
            Err(ApiError::validation(format!(
                "[body.{key}] Invalid input: expected string, received {kind}"
            )))
        }
    }
}

/// A valid, normalised username that no other user has.
fn accept(ctx: &Ctx<'_>, username: &str, current_user: Option<&str>) -> Result<String, ApiError> {
    if let Some(code) = check(username) {
        return Err(ApiError::bad_request(code));
    }
    let normalized = normalize(username);
    if let Some((owner, _)) = ctx.storage().find_user_with_credential_by_username(&normalized)? {
        if Some(owner.id.as_str()) != current_user {
            return Err(ApiError::bad_request(USERNAME_IS_ALREADY_TAKEN));
        }
    }
    Ok(normalized)
}

struct UsernameHooks;

impl Hooks for UsernameHooks {
    fn before_user_create(&self, ctx: &Ctx<'_>, user: &mut User) -> Result<(), ApiError> {
        let display = display_field(ctx)?;
        let mut username = body_string(ctx, "username")?;
        if username.is_none() {
            username = display.clone().filter(|d| check(d).is_none());
        }
        if let Some(u) = username {
            user.username = Some(accept(ctx, &u, None)?);
            user.display_username = Some(display.unwrap_or(u));
        } else {
            user.display_username = display;
        }
        Ok(())
    }

    fn before_user_update(&self, ctx: &Ctx<'_>, current: &SignedIn, update: &mut UserUpdate) -> Result<(), ApiError> {
        if let Some(u) = body_string(ctx, "username")? {
            update.username = Some(accept(ctx, &u, Some(&current.user.id))?);
        }
        update.display_username = display_field(ctx)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_rules() {
        assert_eq!(check("ab"), Some(USERNAME_TOO_SHORT));
        assert_eq!(check(&"a".repeat(31)), Some(USERNAME_TOO_LONG));
        assert_eq!(check("bad name"), Some(INVALID_USERNAME));
        assert_eq!(check("ünï"), Some(INVALID_USERNAME));
        assert_eq!(check("Good_Name.1"), None);
        assert_eq!(normalize("Good_Name.1"), "good_name.1");
    }

    #[test]
    fn display_username_rules() {
        for ok in ["Ada Lovelace", "Grace_H", "Ünïcødé 名前", &"x".repeat(64)] {
            assert_eq!(check_display(ok), None, "{ok:?}");
        }
        for bad in [
            "   ",
            &"x".repeat(65),
            "line\nbreak",
            "tab\there",
            "admin\u{202E}nimda",
            "zero\u{200B}width",
            "bom\u{FEFF}",
            "tag\u{E0041}",
        ] {
            assert_eq!(check_display(bad), Some(INVALID_DISPLAY_USERNAME), "{bad:?}");
        }
    }
}
