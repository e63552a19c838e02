//! OAuth area: social sign-in providers, their credentials, scopes and endpoint overrides, and
//! the OAuth-wide settings (timeout, trusted providers, token encryption).
//!
//! Placeholders in the names: `<P>` is a built-in provider (`GITHUB`, `GOOGLE`, …); `<G>` a
//! generic one, `OIDC_<ID>` (listed in `SESAME_OIDC_PROVIDERS`) or `OAUTH2_<ID>` (listed in
//! `SESAME_OAUTH2_PROVIDERS`); `<PROVIDER>` either. `<ID>` is the provider id upper-cased
//! with `-` turned into `_`.

use std::collections::HashMap;

mod vars;

pub use vars::*;

use super::var::{Reader, Var};
use super::Secret;
use crate::oauth::providers::Builtin;

pub const TITLE: &str = "Social sign-in (OAuth)";

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the form body (`client_secret_post`).
    Post,
    /// HTTP Basic (`client_secret_basic`).
    Basic,
}

/// Where a generic OAuth 2 provider's user-info JSON keeps each profile field; dotted paths
/// (`data.id`) reach into nested objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMap {
    pub id: String,
    pub email: String,
    pub email_verified: String,
    pub name: String,
    pub image: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderKind {
    Builtin(Builtin),
    /// OpenID Connect, endpoints from the discovery document.
    Oidc {
        discovery_url: String,
    },
    /// Plain OAuth 2 with explicit endpoints and a user-info field mapping.
    OAuth2 {
        fields: FieldMap,
    },
}

/// Endpoint URLs that replace a provider's defaults (self-hosted instances, tests).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointOverrides {
    pub authorization: Option<String>,
    pub token: Option<String>,
    pub userinfo: Option<String>,
    /// GitHub's `/user/emails`.
    pub emails: Option<String>,
    pub jwks: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub id: String,
    pub kind: ProviderKind,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    /// Further accepted ID-token audiences (mobile client ids, Apple bundle ids).
    pub extra_audiences: Vec<String>,
    /// Built-ins: scopes added to the defaults. Generic providers: the scopes requested.
    pub scopes: Vec<String>,
    pub pkce: bool,
    pub client_auth: ClientAuth,
    pub endpoints: EndpointOverrides,
    /// Microsoft's tenant (`common`, `organizations`, `consumers` or a tenant id).
    pub tenant: String,
    pub disable_sign_up: bool,
    pub disable_implicit_sign_up: bool,
}

#[derive(Debug, Clone)]
pub struct OAuthConfig {
    pub providers: Vec<ProviderConfig>,
    /// Providers whose emails count as verified for implicit account linking.
    pub trusted_providers: Vec<String>,
    pub encrypt_tokens: bool,
    /// Connect and read timeout of every call to a provider.
    pub timeout_ms: u64,
}

impl std::default::Default for OAuthConfig {
    fn default() -> Self {
        OAuthConfig {
            providers: Vec::new(),
            trusted_providers: Vec::new(),
            encrypt_tokens: false,
            timeout_ms: 10_000,
        }
    }
}

impl OAuthConfig {
    /// Parses only the OAuth variables of `vars` (tests build provider settings this way).
    pub fn from_vars(vars: &HashMap<String, String>) -> anyhow::Result<OAuthConfig> {
        let r = Reader::new(vars);
        let c = read(&r);
        match r.problems().as_slice() {
            [] => Ok(c),
            problems => anyhow::bail!("{}", problems.join("; ")),
        }
    }
}

/// The environment-variable name fragment for a provider id (`my-idp` → `MY_IDP`).
pub fn env_id(id: &str) -> String {
    id.to_ascii_uppercase().replace('-', "_")
}

/// The concrete name of a pattern variable: `SESAME_<PROVIDER>_SCOPES` with `GITHUB` →
/// `SESAME_GITHUB_SCOPES`; `SESAME_OAUTH2_<ID>_ID_FIELD` with `OAUTH2_CORP` →
/// `SESAME_OAUTH2_CORP_ID_FIELD`.
fn named<T>(var: &Var<T>, provider: &str) -> String {
    let name = var.spec.name;
    ["<PROVIDER>", "<P>", "<G>", "OIDC_<ID>", "OAUTH2_<ID>"]
        .into_iter()
        .find(|placeholder| name.contains(placeholder))
        .map_or_else(
            || name.to_string(),
            |placeholder| name.replacen(placeholder, provider, 1),
        )
}

pub fn read(r: &Reader) -> OAuthConfig {
    r.area(TITLE);
    let mut providers = Vec::new();
    for builtin in Builtin::ALL {
        let p = env_id(builtin.id());
        // Unconfigured providers stay out of `config check`'s listing.
        if !r.is_set(&named(&CLIENT_ID, &p)) {
            continue;
        }
        let Some(client_id) = r.opt_named(&CLIENT_ID, &named(&CLIENT_ID, &p)) else {
            continue;
        };
        let mut c = common(r, builtin.id(), client_id, &p);
        c.client_secret = r.opt_named(&CLIENT_SECRET, &named(&CLIENT_SECRET, &p)).map(Secret::new);
        c.kind = ProviderKind::Builtin(*builtin);
        c.pkce = builtin.def().pkce;
        c.client_auth = builtin.def().client_auth;
        match builtin {
            Builtin::Microsoft => c.tenant = r.get(&MICROSOFT_TENANT),
            Builtin::Github => c.endpoints.emails = r.opt(&GITHUB_EMAILS_URL),
            Builtin::Gitlab => {
                if let Some(base) = r.opt(&GITLAB_BASE_URL) {
                    let base = base.trim_end_matches('/');
                    let e = &mut c.endpoints;
                    e.authorization.get_or_insert_with(|| format!("{base}/oauth/authorize"));
                    e.token.get_or_insert_with(|| format!("{base}/oauth/token"));
                    e.userinfo.get_or_insert_with(|| format!("{base}/api/v4/user"));
                }
            }
            _ => {}
        }
        providers.push(c);
    }
    for id in r.opt(&OIDC_PROVIDERS).unwrap_or_default() {
        let g = format!("OIDC_{}", env_id(&id));
        let Some(mut c) = generic(r, &id, &g, &providers) else {
            continue;
        };
        let discovery = r.opt_named(&OIDC_DISCOVERY_URL, &named(&OIDC_DISCOVERY_URL, &g));
        let issuer = r.opt_named(&OIDC_ISSUER, &named(&OIDC_ISSUER, &g));
        let discovery_url = match (discovery, issuer) {
            (Some(u), _) => u,
            (None, Some(iss)) => format!("{}/.well-known/openid-configuration", iss.trim_end_matches('/')),
            (None, None) => {
                r.problem(format!("SESAME_{g}_DISCOVERY_URL or SESAME_{g}_ISSUER is required"));
                continue;
            }
        };
        c.kind = ProviderKind::Oidc { discovery_url };
        if c.scopes.is_empty() {
            c.scopes = vec!["openid".into(), "email".into(), "profile".into()];
        }
        providers.push(c);
    }
    for id in r.opt(&OAUTH2_PROVIDERS).unwrap_or_default() {
        let g = format!("OAUTH2_{}", env_id(&id));
        let Some(mut c) = generic(r, &id, &g, &providers) else {
            continue;
        };
        for (what, value) in [
            ("AUTHORIZATION_URL", &c.endpoints.authorization),
            ("TOKEN_URL", &c.endpoints.token),
            ("USERINFO_URL", &c.endpoints.userinfo),
        ] {
            if value.is_none() {
                r.problem(format!("SESAME_{g}_{what} is required"));
            }
        }
        let field = |var: &Var<String>| {
            r.opt_named(var, &named(var, &g))
                .unwrap_or_else(|| var.spec.default_text().to_string())
        };
        c.kind = ProviderKind::OAuth2 {
            fields: FieldMap {
                id: field(&FIELD_ID),
                email: field(&FIELD_EMAIL),
                email_verified: field(&FIELD_EMAIL_VERIFIED),
                name: field(&FIELD_NAME),
                image: field(&FIELD_IMAGE),
            },
        };
        providers.push(c);
    }
    OAuthConfig {
        providers,
        trusted_providers: r.opt(&TRUSTED_PROVIDERS).unwrap_or_default(),
        encrypt_tokens: r.get(&ENCRYPT_TOKENS),
        timeout_ms: r.get(&TIMEOUT_MS),
    }
}

/// A generic provider's own settings (`SESAME_<G>_*`); `None` when its id or client id is bad.
fn generic(r: &Reader, id: &str, g: &str, taken: &[ProviderConfig]) -> Option<ProviderConfig> {
    let valid = id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !valid {
        r.problem(format!("provider id {id:?} must use only a-z, 0-9, - and _"));
        return None;
    }
    if Builtin::from_id(id).is_some() || taken.iter().any(|p| p.id == id) {
        r.problem(format!("provider id {id:?} is already taken"));
        return None;
    }
    let Some(client_id) = r.opt_named(&GENERIC_CLIENT_ID, &named(&GENERIC_CLIENT_ID, g)) else {
        r.problem(format!("SESAME_{g}_CLIENT_ID is required"));
        return None;
    };
    let mut c = common(r, id, client_id, g);
    c.client_secret = r
        .opt_named(&GENERIC_CLIENT_SECRET, &named(&GENERIC_CLIENT_SECRET, g))
        .map(Secret::new);
    c.pkce = r.opt_named(&GENERIC_PKCE, &named(&GENERIC_PKCE, g)).unwrap_or(true);
    c.client_auth = r
        .opt_named(&GENERIC_AUTH_METHOD, &named(&GENERIC_AUTH_METHOD, g))
        .unwrap_or(ClientAuth::Post);
    Some(c)
}

/// The settings every provider shares, `SESAME_<PROVIDER>_*` with `<PROVIDER>` = `p`.
fn common(r: &Reader, id: &str, client_id: String, p: &str) -> ProviderConfig {
    let get = |var: &Var<String>| r.opt_named(var, &named(var, p));
    let list = |var: &Var<Vec<String>>| r.opt_named(var, &named(var, p)).unwrap_or_default();
    let flag = |var: &Var<bool>| r.opt_named(var, &named(var, p)).unwrap_or(false);
    ProviderConfig {
        id: id.to_string(),
        kind: ProviderKind::OAuth2 {
            fields: FieldMap {
                id: String::new(),
                email: String::new(),
                email_verified: String::new(),
                name: String::new(),
                image: String::new(),
            },
        },
        client_id,
        client_secret: None,
        extra_audiences: list(&ID_TOKEN_AUDIENCES),
        scopes: list(&SCOPES),
        pkce: true,
        client_auth: ClientAuth::Post,
        endpoints: EndpointOverrides {
            authorization: get(&AUTHORIZATION_URL),
            token: get(&TOKEN_URL),
            userinfo: get(&USERINFO_URL),
            emails: None,
            jwks: get(&JWKS_URL),
        },
        tenant: String::new(),
        disable_sign_up: flag(&DISABLE_SIGN_UP),
        disable_implicit_sign_up: flag(&DISABLE_IMPLICIT_SIGN_UP),
    }
}

#[cfg(test)]
mod tests;
