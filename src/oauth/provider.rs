//! A configured provider at run time: its resolved endpoints (fixed, overridden, or
//! discovered lazily and cached), the authorize URL, code exchange, refresh, profile and the
//! account key (`issuer`, `accountId`).

use std::sync::Mutex;

use jsonwebtoken::Algorithm;
use serde_json::Value;
use time::OffsetDateTime;

use super::generic::{self, Discovered};
use super::http::{Client, FetchError};
use super::id_token::{self, Expected, IssuerCheck, JwksCache};
use super::providers::{self, Builtin, BuiltinDef, IssuerRule, Profile};
use super::tokens::{decode_jwt_claims, Tokens};
use super::UserInfo;
use crate::config::oauth::{ClientAuth, ProviderConfig, ProviderKind};
use crate::http::js::encode_uri_component;

/// A provider's endpoints once known.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub authorization: String,
    pub token: String,
    pub userinfo: Option<String>,
    pub emails: Option<String>,
    pub jwks: Option<String>,
    /// The OIDC issuer (generic OIDC providers).
    pub issuer: Option<String>,
    pub algorithms: Vec<Algorithm>,
}

/// What the authorize URL carries besides the provider's own settings.
pub struct AuthRequest<'a> {
    pub state: &'a str,
    pub code_verifier: &'a str,
    pub redirect_uri: &'a str,
    pub scopes: &'a [String],
    pub login_hint: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub additional: &'a [(String, String)],
}

/// The callback's side of a code exchange.
pub struct CodeExchange<'a> {
    pub code: &'a str,
    pub verifier: &'a str,
    pub redirect_uri: &'a str,
    pub device_id: Option<&'a str>,
}

pub struct Provider {
    pub config: ProviderConfig,
    discovered: Mutex<Option<Discovered>>,
}

fn algorithms(names: &[String]) -> Vec<Algorithm> {
    let parsed: Vec<Algorithm> = names
        .iter()
        .filter_map(|n| n.parse::<Algorithm>().ok())
        .filter(|a| !matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
        .collect();
    if parsed.is_empty() {
        id_token::DEFAULT_ALGORITHMS.to_vec()
    } else {
        parsed
    }
}

impl Provider {
    pub fn new(config: ProviderConfig) -> Provider {
        Provider {
            config,
            discovered: Mutex::new(None),
        }
    }

    pub fn id(&self) -> &str {
        &self.config.id
    }

    pub fn builtin(&self) -> Option<Builtin> {
        match self.config.kind {
            ProviderKind::Builtin(b) => Some(b),
            _ => None,
        }
    }

    fn def(&self) -> Option<&'static BuiltinDef> {
        self.builtin().map(Builtin::def)
    }

    fn tenant_url(&self, template: &str) -> String {
        template.replace("{tenant}", &self.config.tenant)
    }

    /// The endpoints, fetching the discovery document on first use (and again after a
    /// failure, so a provider that was down at start-up works once it is back).
    pub fn endpoints(&self, http: &Client) -> anyhow::Result<Endpoints> {
        let o = &self.config.endpoints;
        match &self.config.kind {
            ProviderKind::Builtin(b) => {
                let d = b.def();
                Ok(Endpoints {
                    authorization: o
                        .authorization
                        .clone()
                        .unwrap_or_else(|| self.tenant_url(d.authorization)),
                    token: o.token.clone().unwrap_or_else(|| self.tenant_url(d.token)),
                    userinfo: o.userinfo.clone().or(d.userinfo.map(str::to_string)),
                    emails: o
                        .emails
                        .clone()
                        .or_else(|| (*b == Builtin::Github).then(|| providers::GITHUB_EMAILS.to_string())),
                    jwks: o.jwks.clone().or(d.jwks.map(|j| self.tenant_url(j))),
                    issuer: None,
                    algorithms: vec![Algorithm::RS256],
                })
            }
            ProviderKind::OAuth2 { .. } => Ok(Endpoints {
                authorization: o.authorization.clone().unwrap_or_default(),
                token: o.token.clone().unwrap_or_default(),
                userinfo: o.userinfo.clone(),
                emails: None,
                jwks: o.jwks.clone(),
                issuer: None,
                algorithms: id_token::DEFAULT_ALGORITHMS.to_vec(),
            }),
            ProviderKind::Oidc { discovery_url } => {
                let cached = self.discovered.lock().unwrap_or_else(|p| p.into_inner()).clone();
                let d = match cached {
                    Some(d) => d,
                    None => {
                        let d = generic::discover(http, discovery_url)?;
                        *self.discovered.lock().unwrap_or_else(|p| p.into_inner()) = Some(d.clone());
                        d
                    }
                };
                Ok(Endpoints {
                    authorization: o.authorization.clone().unwrap_or(d.authorization),
                    token: o.token.clone().unwrap_or(d.token),
                    userinfo: o.userinfo.clone().or(d.userinfo),
                    emails: None,
                    jwks: o.jwks.clone().or(d.jwks),
                    algorithms: algorithms(&d.algorithms),
                    issuer: Some(d.issuer),
                })
            }
        }
    }

    fn is_oidc(&self) -> bool {
        matches!(self.config.kind, ProviderKind::Oidc { .. })
    }

    /// Generic OIDC providers bind the ID token to the flow with a nonce.
    pub fn requires_nonce(&self, eps: &Endpoints) -> bool {
        self.is_oidc() && eps.jwks.is_some()
    }

    pub fn supports_id_token(&self) -> bool {
        self.def().is_some_and(|d| d.id_token.is_some()) || self.is_oidc()
    }

    /// The authorize URL, parameters in Better Auth's order (spec §3.3).
    pub fn authorization_url(&self, eps: &Endpoints, r: &AuthRequest<'_>) -> anyhow::Result<String> {
        let def = self.def();
        let mut scopes: Vec<String> = Vec::new();
        if let Some(d) = def {
            scopes.extend(d.scopes.iter().map(|s| s.to_string()));
        }
        scopes.extend(self.config.scopes.iter().cloned());
        if def.is_some() {
            scopes.extend(r.scopes.iter().cloned());
        } else {
            // Generic providers put the request's scopes first, and OIDC needs `openid`.
            let mut merged: Vec<String> = r.scopes.to_vec();
            merged.append(&mut scopes);
            if self.is_oidc() && !merged.iter().any(|s| s == "openid") {
                merged.insert(0, "openid".into());
            }
            scopes = merged;
        }
        let mut params: Vec<(String, String)> = Vec::new();
        let mut set = |k: &str, v: &str| match params.iter_mut().find(|(pk, _)| pk == k) {
            Some(p) => p.1 = v.to_string(),
            None => params.push((k.to_string(), v.to_string())),
        };
        set("response_type", def.map_or("code", |d| d.response_type));
        set("client_id", &self.config.client_id);
        set("state", r.state);
        if !scopes.is_empty() {
            set("scope", &scopes.join(" "));
        }
        set("redirect_uri", r.redirect_uri);
        if let Some(h) = r.login_hint.filter(|h| !h.is_empty()) {
            set("login_hint", h);
        }
        if let Some(n) = r.nonce {
            set("nonce", n);
        }
        if let Some(p) = def.and_then(|d| d.prompt) {
            set("prompt", p);
        }
        if let Some(m) = def.and_then(|d| d.response_mode) {
            set("response_mode", m);
        }
        if self.config.pkce {
            set("code_challenge_method", "S256");
            set("code_challenge", &super::code_challenge(r.code_verifier));
        }
        for (k, v) in def.map(|d| d.extra_params).unwrap_or_default() {
            set(k, v);
        }
        for (k, v) in r.additional {
            set(k, v);
        }
        let mut url = url::Url::parse(&eps.authorization)?;
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !params.iter().any(|(pk, _)| pk == k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut().clear().extend_pairs(kept).extend_pairs(params);
        Ok(url.to_string())
    }

    fn credentials<'a>(&'a self, form: &mut Vec<(&'a str, String)>) -> Option<(&'a str, &'a str)> {
        let secret = self.config.client_secret.as_ref().map(|s| s.expose());
        match (self.config.client_auth, secret) {
            (ClientAuth::Basic, Some(s)) => Some((self.config.client_id.as_str(), s)),
            (_, Some(s)) => {
                form.push(("client_id", self.config.client_id.clone()));
                form.push(("client_secret", s.to_string()));
                None
            }
            (_, None) => {
                form.push(("client_id", self.config.client_id.clone()));
                None
            }
        }
    }

    fn token_call<'a>(
        &'a self,
        http: &Client,
        url: &str,
        mut form: Vec<(&'a str, String)>,
        now: OffsetDateTime,
    ) -> anyhow::Result<Tokens> {
        let basic = self.credentials(&mut form);
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = http.post_form(url, &pairs, basic)?;
        Tokens::from_response(&answer, now).ok_or_else(|| {
            let error = answer
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("no token in the answer");
            anyhow::Error::new(FetchError::Status(200, serde_json::json!({ "error": error })))
        })
    }

    /// Exchanges an authorization code (client_secret_post unless the provider uses Basic).
    pub fn exchange_code(
        &self,
        http: &Client,
        eps: &Endpoints,
        x: &CodeExchange<'_>,
        now: OffsetDateTime,
    ) -> anyhow::Result<Tokens> {
        let mut form = vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", x.code.to_string()),
        ];
        if self.config.pkce {
            form.push(("code_verifier", x.verifier.to_string()));
        }
        if let Some(d) = x.device_id {
            form.push(("device_id", d.to_string()));
        }
        form.push(("redirect_uri", x.redirect_uri.to_string()));
        self.token_call(http, &eps.token, form, now)
    }

    pub fn refresh(
        &self,
        http: &Client,
        eps: &Endpoints,
        refresh_token: &str,
        now: OffsetDateTime,
    ) -> anyhow::Result<Tokens> {
        let mut form = vec![
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", refresh_token.to_string()),
        ];
        if self.builtin() == Some(Builtin::Microsoft) {
            let mut scopes: Vec<String> = Builtin::Microsoft.def().scopes.iter().map(|s| s.to_string()).collect();
            scopes.extend(self.config.scopes.iter().cloned());
            form.push(("scope", scopes.join(" ")));
        }
        self.token_call(http, &eps.token, form, now)
    }

    /// The ID-token rules, or `None` when the provider has no key set to check against.
    pub fn id_token_rules<'a>(
        &self,
        eps: &'a Endpoints,
        audiences: &'a [String],
        nonce: Option<&'a str>,
    ) -> Option<(&'a str, Expected<'a>)> {
        let jwks = eps.jwks.as_deref()?;
        let (issuer, max_age, sha) = match (self.builtin(), self.def().and_then(|d| d.id_token)) {
            (Some(Builtin::Microsoft), Some(r)) => (
                IssuerCheck::Microsoft {
                    authority: providers::MICROSOFT_AUTHORITY.to_string(),
                    tenant: self.config.tenant.clone(),
                },
                r.max_age_secs,
                false,
            ),
            (Some(_), Some(r)) => (
                IssuerCheck::OneOf(r.issuers.iter().map(|s| s.to_string()).collect()),
                r.max_age_secs,
                r.nonce_sha256,
            ),
            (Some(_), None) => return None,
            (None, _) => (IssuerCheck::OneOf(vec![eps.issuer.clone()?]), None, false),
        };
        Some((
            jwks,
            Expected {
                audiences,
                issuer,
                algorithms: &eps.algorithms,
                max_age_secs: max_age,
                nonce,
                nonce_sha256: sha,
            },
        ))
    }

    /// Accepted ID-token audiences: the client id and the configured extras.
    pub fn audiences(&self) -> Vec<String> {
        let mut a = vec![self.config.client_id.clone()];
        a.extend(self.config.extra_audiences.iter().cloned());
        a
    }

    /// Reads the profile after a code exchange. For OIDC providers with a key set the
    /// `id_token` is verified first (signature, audience, issuer, nonce).
    #[allow(clippy::too_many_arguments)]
    pub fn user_info(
        &self,
        http: &Client,
        jwks: &JwksCache,
        eps: &Endpoints,
        tokens: &Tokens,
        expected_nonce: Option<&str>,
        apple_user: Option<&Value>,
        now: OffsetDateTime,
    ) -> anyhow::Result<UserInfo> {
        match &self.config.kind {
            ProviderKind::Builtin(b) => b.user_info(&Profile {
                http,
                userinfo: eps.userinfo.as_deref(),
                emails: eps.emails.as_deref(),
                tokens,
                verified_claims: None,
                apple_user,
            }),
            ProviderKind::OAuth2 { fields } => {
                let url = eps
                    .userinfo
                    .as_deref()
                    .ok_or_else(|| anyhow::anyhow!("no userinfo URL"))?;
                generic::oauth2_user_info(http, url, tokens, fields)
            }
            ProviderKind::Oidc { .. } => {
                let audiences = self.audiences();
                let claims = match (
                    tokens.id_token.as_deref(),
                    self.id_token_rules(eps, &audiences, expected_nonce),
                ) {
                    (Some(t), Some((url, rules))) => Some(id_token::verify(http, jwks, url, t, &rules, now)?),
                    (Some(t), None) => decode_jwt_claims(t).ok(),
                    (None, _) => None,
                };
                generic::oidc_user_info(http, eps.userinfo.as_deref(), tokens, claims.as_ref())
            }
        }
    }

    /// The profile behind a verified ID token (the `idToken` sign-in).
    pub fn user_info_from_claims(
        &self,
        http: &Client,
        claims: Value,
        apple_user: Option<&Value>,
    ) -> anyhow::Result<UserInfo> {
        let token_only = Tokens::default();
        match &self.config.kind {
            ProviderKind::Oidc { .. } => generic::oidc_user_info(http, None, &token_only, Some(&claims)),
            ProviderKind::Builtin(b) => b.user_info(&Profile {
                http,
                userinfo: None,
                emails: None,
                tokens: &token_only,
                verified_claims: Some(&claims),
                apple_user,
            }),
            ProviderKind::OAuth2 { .. } => anyhow::bail!("OAuth 2 providers have no ID tokens"),
        }
    }

    /// The `issuer` column for this provider's accounts (spec §8.1).
    pub fn account_issuer(&self, eps: &Endpoints, info: &UserInfo) -> Option<String> {
        let local = || format!("local:oauth:{}", encode_uri_component(self.id()));
        match (&self.config.kind, self.def().map(|d| d.issuer)) {
            (ProviderKind::Builtin(_), Some(IssuerRule::Fixed(i))) => Some(i.to_string()),
            (ProviderKind::Builtin(_), Some(IssuerRule::TokenIss)) => info
                .data
                .get("iss")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            (ProviderKind::Oidc { .. }, _) => Some(eps.issuer.clone().unwrap_or_else(local)),
            _ => Some(local()),
        }
    }
}
