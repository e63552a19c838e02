//! The rows storage keeps (Better Auth's core tables) and their JSON output. Output follows Better
//! Auth's key order and omits `returned:false` columns (account tokens and password).

use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::clock::iso;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub name: String,
    /// Always stored lower-cased; unique.
    pub email: String,
    pub email_verified: bool,
    pub image: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// The username plugin's fields: stored lower-cased and unique when set.
    pub username: Option<String>,
    pub display_username: Option<String>,
    /// The two-factor plugin's flag (`twoFactorEnabled`); `None` when never set (a user
    /// created without the plugin), which Better Auth treats as off.
    pub two_factor_enabled: Option<bool>,
    /// The admin plugin's fields (Better Auth's `admin` schema).
    pub admin: AdminFields,
    /// The anonymous plugin's `isAnonymous`: a guest made by `/sign-in/anonymous`. Better
    /// Auth's column defaults to false, and a NULL (a row written by hand) reads as false.
    pub is_anonymous: bool,
}

/// The admin plugin's user columns. All nullable: a user created before the plugin (or by
/// Better Auth without it) has none of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdminFields {
    /// Comma-separated roles (`admin`, `user`, `admin,user`).
    pub role: Option<String>,
    pub banned: Option<bool>,
    pub ban_reason: Option<String>,
    /// When a ban lifts itself; `None` for a ban without end.
    pub ban_expires: Option<OffsetDateTime>,
}

impl AdminFields {
    /// The ban stands at `now` (an expired ban is lifted at the next sign-in).
    pub fn is_banned(&self, now: OffsetDateTime) -> bool {
        self.banned == Some(true) && self.ban_expires.is_none_or(|e| e > now)
    }

    /// Better Auth's answer keys, in its order (after `updatedAt`, before `id`).
    pub fn fields<'a>(&'a self, out: &mut dyn FnMut(&'static str, FieldValue<'a>)) {
        out("role", FieldValue::Str(self.role.as_deref()));
        out("banned", FieldValue::Bool(self.banned));
        out("banReason", FieldValue::Str(self.ban_reason.as_deref()));
        out("banExpires", FieldValue::Date(self.ban_expires));
    }

    /// [`AdminFields::fields`] into a JSON object.
    pub fn write_json(&self, v: &mut serde_json::Map<String, Value>) {
        self.fields(&mut |key, value| {
            v.insert(key.into(), value.to_value());
        });
    }
}

/// The value of a field a plugin adds to user and session answers, borrowed from the row, so
/// that the same definition serves the answers built as a `Value` and those written straight
/// to JSON bytes (get-session's). `None` is JSON `null`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValue<'a> {
    Str(Option<&'a str>),
    Bool(Option<bool>),
    /// Written as [`iso`] writes dates.
    Date(Option<OffsetDateTime>),
}

impl FieldValue<'_> {
    pub fn to_value(self) -> Value {
        match self {
            FieldValue::Str(s) => json!(s),
            FieldValue::Bool(b) => json!(b),
            FieldValue::Date(d) => json!(d.map(iso)),
        }
    }
}

impl serde::Serialize for FieldValue<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            FieldValue::Str(v) => v.serialize(s),
            FieldValue::Bool(v) => v.serialize(s),
            FieldValue::Date(v) => v.map(crate::clock::IsoDate).serialize(s),
        }
    }
}

impl User {
    /// A new, unverified user with a fresh id.
    pub fn new(name: &str, email: &str, image: Option<String>, now: OffsetDateTime) -> User {
        User {
            id: crate::crypto::new_id(),
            name: name.to_string(),
            email: email.to_string(),
            email_verified: false,
            image,
            created_at: now,
            updated_at: now,
            username: None,
            display_username: None,
            two_factor_enabled: None,
            admin: AdminFields::default(),
            is_anonymous: false,
        }
    }

    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "name": self.name,
            "email": self.email,
            "emailVerified": self.email_verified,
            "image": self.image,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "id": self.id,
        });
        // Plugin fields appear only when set, as Better Auth omits undefined fields.
        if let Some(u) = &self.username {
            v["username"] = json!(u);
        }
        if let Some(d) = &self.display_username {
            v["displayUsername"] = json!(d);
        }
        if let Some(enabled) = self.two_factor_enabled {
            v["twoFactorEnabled"] = json!(enabled);
        }
        v
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    /// 32 alphanumeric characters; unique.
    pub token: String,
    pub user_id: String,
    pub expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// Better Auth writes `""` when unknown.
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    /// Created with rememberMe: false: a one-day lifetime that never slides, whatever cookies
    /// the client sends (`"dontRememberMe"`, a Sesame column; internal, never in JSON).
    pub dont_remember_me: bool,
    /// The admin plugin's `impersonatedBy`: the id of the admin who opened this session as
    /// the user.
    pub impersonated_by: Option<String>,
}

impl Session {
    pub fn to_json(&self) -> Value {
        json!({
            "expiresAt": iso(self.expires_at),
            "token": self.token,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "ipAddress": self.ip_address,
            "userAgent": self.user_agent,
            "userId": self.user_id,
            "id": self.id,
        })
    }
}

/// `providerId` of the email/password account.
pub const CREDENTIAL_PROVIDER: &str = "credential";
/// `issuer` of the email/password account (new in Better Auth 1.7).
pub const CREDENTIAL_ISSUER: &str = "local:credential";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub issuer: String,
    /// The provider's subject; the user's id for the credential account.
    pub account_id: String,
    pub provider_id: String,
    pub user_id: String,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub access_token_expires_at: Option<OffsetDateTime>,
    pub refresh_token_expires_at: Option<OffsetDateTime>,
    /// Comma-separated granted scopes.
    pub scope: Option<String>,
    /// The password hash (credential accounts only).
    pub password: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Account {
    /// The credential account row for a new email/password user.
    pub fn credential(user_id: &str, password_hash: String, now: OffsetDateTime) -> Account {
        Account {
            id: crate::crypto::new_id(),
            issuer: CREDENTIAL_ISSUER.to_string(),
            account_id: user_id.to_string(),
            provider_id: CREDENTIAL_PROVIDER.to_string(),
            user_id: user_id.to_string(),
            access_token: None,
            refresh_token: None,
            id_token: None,
            access_token_expires_at: None,
            refresh_token_expires_at: None,
            scope: None,
            password: Some(password_hash),
            created_at: now,
            updated_at: now,
        }
    }

    pub fn is_credential(&self) -> bool {
        self.provider_id == CREDENTIAL_PROVIDER && self.issuer == CREDENTIAL_ISSUER && self.account_id == self.user_id
    }

    /// The `/list-accounts` shape: no tokens, no password, scopes as an array.
    pub fn to_public_json(&self) -> Value {
        let scopes: Vec<&str> = self
            .scope
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.is_empty())
            .collect();
        json!({
            "issuer": self.issuer,
            "accountId": self.account_id,
            "providerId": self.provider_id,
            "userId": self.user_id,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "id": self.id,
            "scopes": scopes,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub id: String,
    /// Not unique: the newest row wins.
    pub identifier: String,
    pub value: String,
    pub expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A partial update of a user's own fields; `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    pub name: Option<String>,
    pub image: Option<Option<String>>,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub username: Option<String>,
    pub display_username: Option<String>,
    /// The admin plugin's columns; `Some(None)` clears one.
    pub role: Option<Option<String>>,
    pub banned: Option<Option<bool>>,
    pub ban_reason: Option<Option<String>>,
    pub ban_expires: Option<Option<OffsetDateTime>>,
}

impl UserUpdate {
    pub fn is_empty(&self) -> bool {
        *self == UserUpdate::default()
    }

    pub fn apply(&self, user: &mut User, now: OffsetDateTime) {
        if let Some(n) = &self.name {
            user.name = n.clone();
        }
        if let Some(i) = &self.image {
            user.image = i.clone();
        }
        if let Some(e) = &self.email {
            user.email = e.clone();
        }
        if let Some(v) = self.email_verified {
            user.email_verified = v;
        }
        if let Some(u) = &self.username {
            user.username = Some(u.clone());
        }
        if let Some(d) = &self.display_username {
            user.display_username = Some(d.clone());
        }
        if let Some(r) = &self.role {
            user.admin.role = r.clone();
        }
        if let Some(b) = self.banned {
            user.admin.banned = b;
        }
        if let Some(r) = &self.ban_reason {
            user.admin.ban_reason = r.clone();
        }
        if let Some(e) = self.ban_expires {
            user.admin.ban_expires = e;
        }
        user.updated_at = now;
    }
}
