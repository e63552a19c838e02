//! Social sign-in (OAuth 2 / OpenID Connect) providers: the registry the app holds and every
//! call to a provider (`http.rs`, one shared ureq agent with timeouts; the other outbound
//! calls Sesame makes are email delivery's, in `mail/`). The flow's steps that run inside
//! endpoints — the state and PKCE verifier, linking accounts — are in `endpoint/social/`.
//!
//! - `config/oauth/` (in the configuration) — the environment variables, parsed into
//!   `OAuthConfig`;
//! - `providers/`  — the built-ins, one file each (github, google, discord, gitlab, microsoft,
//!   apple, facebook, twitter, linkedin, slack): endpoints, scopes, profile mapping;
//! - `generic.rs`  — OIDC discovery and generic OAuth 2 field mapping;
//! - `provider.rs` — a provider at run time: authorize URL, code exchange, refresh, profile;
//! - `id_token.rs` — JWKS-backed ID-token verification with a key cache;
//! - `tokens.rs`   — token answers, unverified JWT claims, token encryption at rest.

/// The OAuth settings live with the rest of the configuration (`config/oauth/`); this path
/// names them too.
pub use crate::config::oauth as config;
pub mod generic;
pub mod http;
pub mod id_token;
pub mod provider;
pub mod providers;
pub mod tokens;

use serde_json::Value;

use self::provider::Provider;
use crate::config::oauth::OAuthConfig;

/// A provider's view of the user, mapped as Better Auth's `getUserInfo` does.
#[derive(Debug, Clone)]
pub struct UserInfo {
    /// The provider's subject (`accountId`).
    pub subject: String,
    pub name: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub image: Option<String>,
    /// The raw profile (`data` of `/account-info`).
    pub data: Value,
}

impl UserInfo {
    /// The same profile with its address checked as sign-up checks one
    /// (`auth::email::is_valid`: ASCII only) and lower-cased; an empty address counts as none.
    /// `None` when the provider sent something that is not an address: a look-alike that only
    /// case-folds to a user's (U+212A KELVIN SIGN lower-cases to `k`) or text carrying CR/LF
    /// is never stored, mailed, or compared with a user's address.
    pub fn with_checked_email(mut self) -> Option<UserInfo> {
        match self.email.as_deref().map(str::trim) {
            None | Some("") => self.email = None,
            Some(e) if crate::auth::email::is_valid(e) => self.email = Some(crate::auth::email::normalize(e)),
            Some(_) => return None,
        }
        Some(self)
    }
}

/// The configured providers and what their calls share.
pub struct OAuth {
    providers: Vec<Provider>,
    pub http: http::Client,
    pub jwks: id_token::JwksCache,
    pub trusted_providers: Vec<String>,
    pub encrypt_tokens: bool,
}

impl OAuth {
    pub fn new(config: &OAuthConfig) -> OAuth {
        OAuth {
            providers: config.providers.iter().cloned().map(Provider::new).collect(),
            http: http::Client::new(config.timeout_ms),
            jwks: id_token::JwksCache::default(),
            trusted_providers: config.trusted_providers.clone(),
            encrypt_tokens: config.encrypt_tokens,
        }
    }

    pub fn provider(&self, id: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.id() == id)
    }

    pub fn providers(&self) -> &[Provider] {
        &self.providers
    }

    pub fn is_trusted(&self, id: &str) -> bool {
        self.trusted_providers.iter().any(|t| t == id)
    }

    /// Fetches every discovery document once, logging failures: an unreachable provider does
    /// not stop the server and is tried again on first use.
    pub fn warm_up(&self) {
        for p in &self.providers {
            if let Err(e) = p.endpoints(&self.http) {
                tracing::warn!(
                    "oauth provider {}: discovery failed, will retry on first use: {e:#}",
                    p.id()
                );
            }
        }
    }
}

/// The PKCE challenge of a verifier: `base64url_nopad(SHA-256(verifier))`.
pub fn code_challenge(verifier: &str) -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn challenge_is_base64url_sha256() {
        // Computed independently: base64url_nopad(sha256(verifier)) in Python.
        assert_eq!(
            super::code_challenge("dBjftJeZ4CVP-mB92K4uhyFEHrKYXcJ8l6ohe6eVBiY"),
            "aU_HB38ZhQGFnoMjdjIAGCZCDtQ6w14VDwax1OIRnD8"
        );
    }
}
