//! The built-in providers, one file each (as Better Auth's
//! `packages/core/src/social-providers/*.ts`): endpoints, default scopes, PKCE, ID-token rules
//! ([`BuiltinDef`]) and the mapping of the provider's profile onto [`UserInfo`].
//!
//! A mapper reads what the provider sent: its user-info endpoints through [`Profile::http`],
//! and the ID token's claims through `Profile::claims` — verified ones for the `idToken`
//! sign-in, the token answer's own otherwise. Adding a provider is a file here and a row in
//! [`Builtin`].

mod apple;
mod discord;
mod facebook;
mod github;
mod gitlab;
mod google;
mod linkedin;
mod microsoft;
mod slack;
mod twitter;

use serde_json::Value;

use super::http::Client;
use super::tokens::{decode_jwt_claims, Tokens};
use super::UserInfo;
use crate::config::oauth::ClientAuth;

pub use github::EMAILS as GITHUB_EMAILS;
pub use microsoft::AUTHORITY as MICROSOFT_AUTHORITY;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Builtin {
    Github,
    Google,
    Discord,
    Gitlab,
    Microsoft,
    Apple,
    Facebook,
    Twitter,
    Linkedin,
    Slack,
}

/// How a built-in names the `issuer` column of its accounts (Better Auth 1.7's account issuer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssuerRule {
    /// `local:oauth:<providerId>`.
    Local,
    Fixed(&'static str),
    /// The `iss` claim of the provider's ID token (Microsoft: one issuer per tenant).
    TokenIss,
}

/// What Better Auth checks on a provider's ID token besides the signature.
#[derive(Debug, Clone, Copy)]
pub struct IdTokenDef {
    pub issuers: &'static [&'static str],
    pub max_age_secs: Option<i64>,
    /// Apple compares the nonce as given or as its SHA-256 hex.
    pub nonce_sha256: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct BuiltinDef {
    pub id: &'static str,
    pub authorization: &'static str,
    pub token: &'static str,
    pub userinfo: Option<&'static str>,
    pub jwks: Option<&'static str>,
    pub scopes: &'static [&'static str],
    pub pkce: bool,
    pub client_auth: ClientAuth,
    pub issuer: IssuerRule,
    pub id_token: Option<IdTokenDef>,
    pub response_type: &'static str,
    pub response_mode: Option<&'static str>,
    /// Extra authorize-URL parameters, after the standard ones.
    pub extra_params: &'static [(&'static str, &'static str)],
    pub prompt: Option<&'static str>,
}

/// A provider with Better Auth's defaults; each file overrides what its provider needs.
const fn def(
    id: &'static str,
    authorization: &'static str,
    token: &'static str,
    scopes: &'static [&'static str],
) -> BuiltinDef {
    BuiltinDef {
        id,
        authorization,
        token,
        userinfo: None,
        jwks: None,
        scopes,
        pkce: false,
        client_auth: ClientAuth::Post,
        issuer: IssuerRule::Local,
        id_token: None,
        response_type: "code",
        response_mode: None,
        extra_params: &[],
        prompt: None,
    }
}

const ONE_HOUR: Option<i64> = Some(3600);

impl Builtin {
    pub const ALL: &'static [Builtin] = &[
        Builtin::Github,
        Builtin::Google,
        Builtin::Discord,
        Builtin::Gitlab,
        Builtin::Microsoft,
        Builtin::Apple,
        Builtin::Facebook,
        Builtin::Twitter,
        Builtin::Linkedin,
        Builtin::Slack,
    ];

    pub fn def(self) -> &'static BuiltinDef {
        match self {
            Builtin::Github => &github::DEF,
            Builtin::Google => &google::DEF,
            Builtin::Discord => &discord::DEF,
            Builtin::Gitlab => &gitlab::DEF,
            Builtin::Microsoft => &microsoft::DEF,
            Builtin::Apple => &apple::DEF,
            Builtin::Facebook => &facebook::DEF,
            Builtin::Twitter => &twitter::DEF,
            Builtin::Linkedin => &linkedin::DEF,
            Builtin::Slack => &slack::DEF,
        }
    }

    pub fn id(self) -> &'static str {
        self.def().id
    }

    pub fn from_id(id: &str) -> Option<Builtin> {
        Builtin::ALL.iter().copied().find(|b| b.id() == id)
    }

    /// Reads the user's profile the way this provider's Better Auth mapper does.
    pub fn user_info(self, p: &Profile<'_>) -> anyhow::Result<UserInfo> {
        match self {
            Builtin::Github => github::user_info(p),
            Builtin::Google => google::user_info(p),
            Builtin::Discord => discord::user_info(p),
            Builtin::Gitlab => gitlab::user_info(p),
            Builtin::Microsoft => microsoft::user_info(p),
            Builtin::Apple => apple::user_info(p),
            Builtin::Facebook => facebook::user_info(p),
            Builtin::Twitter => twitter::user_info(p),
            Builtin::Linkedin => linkedin::user_info(p),
            Builtin::Slack => slack::user_info(p),
        }
    }
}

/// What a profile mapper may read.
pub struct Profile<'a> {
    pub http: &'a Client,
    /// The user-info endpoint, after overrides (`None` for the `idToken` sign-in).
    pub userinfo: Option<&'a str>,
    /// GitHub's second user-info call, after overrides.
    pub emails: Option<&'a str>,
    pub tokens: &'a Tokens,
    /// The ID token's claims when already verified (the `idToken` sign-in); otherwise the
    /// claims are read from the token answer's `id_token`.
    pub verified_claims: Option<&'a Value>,
    /// The `user` JSON Apple posts on the first sign-in.
    pub apple_user: Option<&'a Value>,
}

impl Profile<'_> {
    fn userinfo(&self) -> anyhow::Result<&str> {
        self.userinfo.ok_or_else(|| anyhow::anyhow!("no user-info endpoint"))
    }

    fn access_token(&self) -> anyhow::Result<&str> {
        self.tokens
            .access_token
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("no access token"))
    }

    /// The ID token's claims: the verified ones, or the token answer's (which the code
    /// exchange received directly from the provider over TLS).
    fn claims(&self) -> anyhow::Result<Value> {
        if let Some(c) = self.verified_claims {
            return Ok(c.clone());
        }
        let id_token = self
            .tokens
            .id_token
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("no id_token in the token response"))?;
        decode_jwt_claims(id_token)
    }

    /// The claims when there are any (verified, or a token answer's `id_token` that decodes).
    fn claims_if_any(&self) -> Option<Value> {
        match self.verified_claims {
            Some(c) => Some(c.clone()),
            None => self.tokens.id_token.as_deref().and_then(|t| decode_jwt_claims(t).ok()),
        }
    }

    /// GET a user-info URL with the access token.
    fn get(&self, url: &str, headers: &[(&str, &str)]) -> anyhow::Result<Value> {
        Ok(self.http.get_json(url, Some(self.access_token()?), headers)?)
    }
}

/// A non-empty string (or a number, as text) field of a profile.
fn s(v: &Value, key: &str) -> Option<String> {
    match v.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// `true`/`"true"` → true, anything else → false (Better Auth's `parseStringBoolean ?? false`).
pub fn string_boolean(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Bool(true))) || matches!(v, Some(Value::String(s)) if s == "true")
}
