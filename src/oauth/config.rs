//! Social sign-in configuration from the environment: which providers exist, their client
//! credentials, scopes and endpoint overrides, plus the OAuth-wide settings (timeout, trusted
//! providers, token encryption). Parsed once by `Config::from_vars` into [`OAuthConfig`].
//!
//! Built-in provider `X` (e.g. `GITHUB`) is enabled by `X_CLIENT_ID`; generic providers are
//! listed in `SESAME_OIDC_PROVIDERS` / `SESAME_OAUTH2_PROVIDERS` and configured with
//! `SESAME_OIDC_<ID>_*` / `SESAME_OAUTH2_<ID>_*`. `<ID>` is the provider id upper-cased with
//! `-` turned into `_`.

use std::collections::HashMap;

use anyhow::{bail, Context};

use super::builtin::Builtin;
use crate::config::Secret;

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

impl Default for OAuthConfig {
    fn default() -> Self {
        OAuthConfig {
            providers: Vec::new(),
            trusted_providers: Vec::new(),
            encrypt_tokens: false,
            timeout_ms: 10_000,
        }
    }
}

/// The environment-variable name fragment for a provider id (`my-idp` → `MY_IDP`).
pub fn env_id(id: &str) -> String {
    id.to_ascii_uppercase().replace('-', "_")
}

fn list(value: Option<&str>) -> Vec<String> {
    value
        .map(|s| {
            s.split([',', ' '])
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn flag(value: Option<&str>, name: &str, default: bool) -> anyhow::Result<bool> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(v) => bail!("{name} must be true or false, not {v:?}"),
    }
}

fn check_url(value: Option<&str>, name: &str) -> anyhow::Result<Option<String>> {
    match value {
        None => Ok(None),
        Some(v) => {
            let u = url::Url::parse(v).with_context(|| format!("{name} is not a URL: {v}"))?;
            if !matches!(u.scheme(), "http" | "https") {
                bail!("{name} must be an http:// or https:// URL");
            }
            Ok(Some(v.to_string()))
        }
    }
}

impl OAuthConfig {
    /// Parses the OAuth variables out of the same map `Config::from_vars` reads.
    pub fn from_vars(vars: &HashMap<String, String>) -> anyhow::Result<OAuthConfig> {
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let timeout_ms: u64 = match get("SESAME_OAUTH_TIMEOUT_MS") {
            None => 10_000,
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .with_context(|| format!("SESAME_OAUTH_TIMEOUT_MS must be a positive number, not {v:?}"))?,
        };
        let mut providers = Vec::new();
        for builtin in Builtin::ALL {
            let prefix = env_id(builtin.id());
            let Some(client_id) = get(&format!("{prefix}_CLIENT_ID")) else {
                continue;
            };
            let mut p = common(
                &get,
                builtin.id(),
                client_id,
                &format!("SESAME_{prefix}"),
                &format!("{prefix}_CLIENT_SECRET"),
            )?;
            p.kind = ProviderKind::Builtin(*builtin);
            p.pkce = builtin.def().pkce;
            p.client_auth = builtin.def().client_auth;
            if *builtin == Builtin::Microsoft {
                p.tenant = get("MICROSOFT_TENANT_ID").unwrap_or("common").to_string();
            }
            if *builtin == Builtin::Gitlab {
                if let Some(base) = check_url(get("SESAME_GITLAB_BASE_URL"), "SESAME_GITLAB_BASE_URL")? {
                    let base = base.trim_end_matches('/');
                    let e = &mut p.endpoints;
                    e.authorization.get_or_insert_with(|| format!("{base}/oauth/authorize"));
                    e.token.get_or_insert_with(|| format!("{base}/oauth/token"));
                    e.userinfo.get_or_insert_with(|| format!("{base}/api/v4/user"));
                }
            }
            providers.push(p);
        }
        for id in list(get("SESAME_OIDC_PROVIDERS")) {
            let prefix = format!("SESAME_OIDC_{}", env_id(&id));
            check_generic_id(&id, &providers)?;
            let client_id =
                get(&format!("{prefix}_CLIENT_ID")).with_context(|| format!("{prefix}_CLIENT_ID is required"))?;
            let mut p = common(&get, &id, client_id, &prefix, &format!("{prefix}_CLIENT_SECRET"))?;
            let discovery_url = match (
                get(&format!("{prefix}_DISCOVERY_URL")),
                get(&format!("{prefix}_ISSUER")),
            ) {
                (Some(u), _) => u.to_string(),
                (None, Some(iss)) => format!("{}/.well-known/openid-configuration", iss.trim_end_matches('/')),
                (None, None) => bail!("{prefix}_DISCOVERY_URL or {prefix}_ISSUER is required"),
            };
            check_url(Some(&discovery_url), &format!("{prefix}_DISCOVERY_URL"))?;
            p.kind = ProviderKind::Oidc { discovery_url };
            if p.scopes.is_empty() {
                p.scopes = vec!["openid".into(), "email".into(), "profile".into()];
            }
            providers.push(p);
        }
        for id in list(get("SESAME_OAUTH2_PROVIDERS")) {
            let prefix = format!("SESAME_OAUTH2_{}", env_id(&id));
            check_generic_id(&id, &providers)?;
            let client_id =
                get(&format!("{prefix}_CLIENT_ID")).with_context(|| format!("{prefix}_CLIENT_ID is required"))?;
            let mut p = common(&get, &id, client_id, &prefix, &format!("{prefix}_CLIENT_SECRET"))?;
            for (what, value) in [
                ("AUTHORIZATION_URL", &p.endpoints.authorization),
                ("TOKEN_URL", &p.endpoints.token),
                ("USERINFO_URL", &p.endpoints.userinfo),
            ] {
                if value.is_none() {
                    bail!("{prefix}_{what} is required");
                }
            }
            let field = |name: &str, default: &str| get(&format!("{prefix}_{name}")).unwrap_or(default).to_string();
            p.kind = ProviderKind::OAuth2 {
                fields: FieldMap {
                    id: field("ID_FIELD", "id"),
                    email: field("EMAIL_FIELD", "email"),
                    email_verified: field("EMAIL_VERIFIED_FIELD", "email_verified"),
                    name: field("NAME_FIELD", "name"),
                    image: field("IMAGE_FIELD", "picture"),
                },
            };
            providers.push(p);
        }
        Ok(OAuthConfig {
            providers,
            trusted_providers: list(get("SESAME_TRUSTED_PROVIDERS")),
            encrypt_tokens: flag(get("SESAME_ENCRYPT_OAUTH_TOKENS"), "SESAME_ENCRYPT_OAUTH_TOKENS", false)?,
            timeout_ms,
        })
    }
}

fn check_generic_id(id: &str, taken: &[ProviderConfig]) -> anyhow::Result<()> {
    if !id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        bail!("provider id {id:?} must use only a-z, 0-9, - and _");
    }
    if Builtin::from_id(id).is_some() || taken.iter().any(|p| p.id == id) {
        bail!("provider id {id:?} is already taken");
    }
    Ok(())
}

/// The settings every provider kind shares, read under `prefix` (`SESAME_GITHUB`,
/// `SESAME_OIDC_MYIDP`, …).
fn common<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
    id: &str,
    client_id: &str,
    prefix: &str,
    secret_var: &str,
) -> anyhow::Result<ProviderConfig> {
    let url = |what: &str| {
        let name = format!("{prefix}_{what}");
        check_url(get(&name), &name)
    };
    let auth_var = format!("{prefix}_AUTH_METHOD");
    let client_auth = match get(&auth_var) {
        None | Some("post") | Some("client_secret_post") => ClientAuth::Post,
        Some("basic") | Some("client_secret_basic") => ClientAuth::Basic,
        Some(other) => bail!("{auth_var} must be post or basic, not {other:?}"),
    };
    Ok(ProviderConfig {
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
        client_id: client_id.to_string(),
        client_secret: get(secret_var).map(Secret::new),
        extra_audiences: list(get(&format!("{prefix}_ID_TOKEN_AUDIENCES"))),
        scopes: list(get(&format!("{prefix}_SCOPES"))),
        pkce: flag(get(&format!("{prefix}_PKCE")), &format!("{prefix}_PKCE"), true)?,
        client_auth,
        endpoints: EndpointOverrides {
            authorization: url("AUTHORIZATION_URL")?,
            token: url("TOKEN_URL")?,
            userinfo: url("USERINFO_URL")?,
            emails: url("EMAILS_URL")?,
            jwks: url("JWKS_URL")?,
        },
        tenant: String::new(),
        disable_sign_up: flag(
            get(&format!("{prefix}_DISABLE_SIGN_UP")),
            &format!("{prefix}_DISABLE_SIGN_UP"),
            false,
        )?,
        disable_implicit_sign_up: flag(
            get(&format!("{prefix}_DISABLE_IMPLICIT_SIGN_UP")),
            &format!("{prefix}_DISABLE_IMPLICIT_SIGN_UP"),
            false,
        )?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn builtin_and_generic_providers() {
        let c = OAuthConfig::from_vars(&vars(&[
            ("GITHUB_CLIENT_ID", "gh"),
            ("GITHUB_CLIENT_SECRET", "shh"),
            ("SESAME_GITHUB_SCOPES", "repo,gist"),
            ("SESAME_OIDC_PROVIDERS", "my-idp"),
            ("SESAME_OIDC_MY_IDP_ISSUER", "https://idp.example.com/"),
            ("SESAME_OIDC_MY_IDP_CLIENT_ID", "c"),
            ("SESAME_OAUTH2_PROVIDERS", "corp"),
            ("SESAME_OAUTH2_CORP_CLIENT_ID", "c2"),
            ("SESAME_OAUTH2_CORP_AUTHORIZATION_URL", "https://corp/a"),
            ("SESAME_OAUTH2_CORP_TOKEN_URL", "https://corp/t"),
            ("SESAME_OAUTH2_CORP_USERINFO_URL", "https://corp/u"),
            ("SESAME_OAUTH2_CORP_ID_FIELD", "data.id"),
            ("SESAME_TRUSTED_PROVIDERS", "github, corp"),
        ]))
        .unwrap();
        let ids: Vec<&str> = c.providers.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["github", "my-idp", "corp"]);
        assert_eq!(c.providers[0].scopes, ["repo", "gist"]);
        assert!(!format!("{:?}", c.providers[0]).contains("shh"));
        assert_eq!(
            c.providers[1].kind,
            ProviderKind::Oidc {
                discovery_url: "https://idp.example.com/.well-known/openid-configuration".into()
            }
        );
        assert!(matches!(&c.providers[2].kind, ProviderKind::OAuth2 { fields } if fields.id == "data.id"));
        assert_eq!(c.trusted_providers, ["github", "corp"]);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e = OAuthConfig::from_vars(&vars(&[
            ("SESAME_OIDC_PROVIDERS", "x"),
            ("SESAME_OIDC_X_CLIENT_ID", "c"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("SESAME_OIDC_X_DISCOVERY_URL"));
        let e = OAuthConfig::from_vars(&vars(&[("SESAME_OIDC_PROVIDERS", "github")])).unwrap_err();
        assert!(e.to_string().contains("already taken"));
        let e = OAuthConfig::from_vars(&vars(&[("SESAME_OAUTH_TIMEOUT_MS", "0")])).unwrap_err();
        assert!(e.to_string().contains("SESAME_OAUTH_TIMEOUT_MS"));
    }
}
