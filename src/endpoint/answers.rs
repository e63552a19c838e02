//! The typed answers of the in-process API: the JSON shapes endpoints answer with, as Rust
//! types a caller receives from `app.endpoint(&…).send()`. Keys are Better Auth's; dates are
//! its ISO-8601 strings. Keys an answer may carry beyond these (a plugin's user fields) are
//! kept in `extra`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A user, as every endpoint answers it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserAnswer {
    pub id: String,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub image: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Plugin fields (`username`, `displayUsername`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A session, as get-session and list-sessions answer it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionAnswer {
    pub id: String,
    pub token: String,
    pub user_id: String,
    pub expires_at: String,
    pub created_at: String,
    pub updated_at: String,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    /// Plugin fields (`impersonatedBy`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// get-session's answer when signed in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedInAnswer {
    pub session: SessionAnswer,
    pub user: UserAnswer,
}

/// `{status}` (and a `message` where the endpoint sends one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusAnswer {
    pub status: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `{success}` (and a `message` where the endpoint sends one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuccessAnswer {
    pub success: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `{token, user}`: sign-up (`token` is null when no session was created) and change-password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenAnswer {
    pub token: Option<String>,
    pub user: UserAnswer,
}

/// A password sign-in's answer (email or username). When the two-factor plugin asks for a
/// second factor, the answer is only `{twoFactorRedirect: true, twoFactorMethods}`: no session
/// exists yet, `token` is empty and `user` is empty (see [`SignInAnswer::needs_second_factor`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignInAnswer {
    #[serde(default)]
    pub redirect: bool,
    #[serde(default)]
    pub token: String,
    /// The `callbackURL` echoed when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default)]
    pub user: UserAnswer,
    /// `Some(true)`: a second factor is needed (`/two-factor/verify-*` with the `two_factor`
    /// cookie this answer set).
    #[serde(rename = "twoFactorRedirect", default, skip_serializing_if = "Option::is_none")]
    pub two_factor_redirect: Option<bool>,
    /// The second factors the user can use: `totp`, `otp`.
    #[serde(rename = "twoFactorMethods", default, skip_serializing_if = "Option::is_none")]
    pub two_factor_methods: Option<Vec<String>>,
}

impl SignInAnswer {
    /// Whether the sign-in waits for a second factor (and created no session).
    pub fn needs_second_factor(&self) -> bool {
        self.two_factor_redirect == Some(true)
    }
}

/// `/sign-in/social` and `/link-social`: a redirect flow's `{url, redirect}`, or with an ID
/// token the session's `{redirect, token, user}` (link-social: `{url, status, redirect}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SocialAnswer {
    pub redirect: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<UserAnswer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<bool>,
}

/// verify-email's JSON answer (without a callbackURL): the user when a session was made or the
/// address changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyEmailAnswer {
    pub status: bool,
    #[serde(default)]
    pub user: Option<UserAnswer>,
}

/// One entry of list-accounts: no tokens, no password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountAnswer {
    pub id: String,
    pub issuer: String,
    pub account_id: String,
    pub provider_id: String,
    pub user_id: String,
    pub created_at: String,
    pub updated_at: String,
    pub scopes: Vec<String>,
}

/// get-access-token and refresh-token: the provider tokens (keys Better Auth leaves
/// undefined are absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokensAnswer {
    pub access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

/// account-info: the provider's profile as Better Auth maps it, and its raw data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountInfoAnswer {
    pub user: Map<String, Value>,
    pub data: Value,
    pub account: Map<String, Value>,
}

/// `GET /ok`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OkAnswer {
    pub ok: bool,
}
