//! The built-in providers: endpoints, default scopes, PKCE, ID-token rules and the mapping of
//! each provider's profile onto [`UserInfo`], following Better Auth's
//! `packages/core/src/social-providers/*.ts`.

use serde_json::Value;

use super::http::Client;
use super::tokens::{decode_jwt_claims, Tokens};
use super::UserInfo;
use crate::config::oauth::ClientAuth;

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

/// How a built-in names the `issuer` column of its accounts (spec §8.1).
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

const GITHUB: BuiltinDef = BuiltinDef {
    userinfo: Some("https://api.github.com/user"),
    pkce: true,
    ..def(
        "github",
        "https://github.com/login/oauth/authorize",
        "https://github.com/login/oauth/access_token",
        &["read:user", "user:email"],
    )
};
/// GitHub's second user-info call.
pub const GITHUB_EMAILS: &str = "https://api.github.com/user/emails";

const GOOGLE: BuiltinDef = BuiltinDef {
    jwks: Some("https://www.googleapis.com/oauth2/v3/certs"),
    pkce: true,
    issuer: IssuerRule::Fixed("https://accounts.google.com"),
    id_token: Some(IdTokenDef {
        issuers: &["https://accounts.google.com", "accounts.google.com"],
        max_age_secs: ONE_HOUR,
        nonce_sha256: false,
    }),
    extra_params: &[("include_granted_scopes", "true")],
    ..def(
        "google",
        "https://accounts.google.com/o/oauth2/v2/auth",
        "https://oauth2.googleapis.com/token",
        &["email", "profile", "openid"],
    )
};

const DISCORD: BuiltinDef = BuiltinDef {
    userinfo: Some("https://discord.com/api/users/@me"),
    prompt: Some("none"),
    ..def(
        "discord",
        "https://discord.com/api/oauth2/authorize",
        "https://discord.com/api/oauth2/token",
        &["identify", "email"],
    )
};

const GITLAB: BuiltinDef = BuiltinDef {
    userinfo: Some("https://gitlab.com/api/v4/user"),
    pkce: true,
    ..def(
        "gitlab",
        "https://gitlab.com/oauth/authorize",
        "https://gitlab.com/oauth/token",
        &["read_user"],
    )
};

/// `{tenant}` is replaced by the configured tenant.
const MICROSOFT: BuiltinDef = BuiltinDef {
    jwks: Some("https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys"),
    pkce: true,
    issuer: IssuerRule::TokenIss,
    id_token: Some(IdTokenDef {
        issuers: &[],
        max_age_secs: ONE_HOUR,
        nonce_sha256: false,
    }),
    ..def(
        "microsoft",
        "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize",
        "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
        &["openid", "profile", "email", "User.Read", "offline_access"],
    )
};
pub const MICROSOFT_AUTHORITY: &str = "https://login.microsoftonline.com";

const APPLE: BuiltinDef = BuiltinDef {
    jwks: Some("https://appleid.apple.com/auth/keys"),
    pkce: true,
    issuer: IssuerRule::Fixed("https://appleid.apple.com"),
    id_token: Some(IdTokenDef {
        issuers: &["https://appleid.apple.com"],
        max_age_secs: ONE_HOUR,
        nonce_sha256: true,
    }),
    response_type: "code id_token",
    response_mode: Some("form_post"),
    ..def(
        "apple",
        "https://appleid.apple.com/auth/authorize",
        "https://appleid.apple.com/auth/token",
        &["email", "name"],
    )
};

const FACEBOOK: BuiltinDef = BuiltinDef {
    userinfo: Some("https://graph.facebook.com/me?fields=id,name,email,picture"),
    jwks: Some("https://limited.facebook.com/.well-known/oauth/openid/jwks/"),
    issuer: IssuerRule::Fixed("https://www.facebook.com"),
    id_token: Some(IdTokenDef {
        issuers: &["https://www.facebook.com"],
        max_age_secs: None,
        nonce_sha256: false,
    }),
    ..def(
        "facebook",
        "https://www.facebook.com/v24.0/dialog/oauth",
        "https://graph.facebook.com/v24.0/oauth/access_token",
        &["email", "public_profile"],
    )
};

const TWITTER: BuiltinDef = BuiltinDef {
    userinfo: Some("https://api.x.com/2/users/me"),
    pkce: true,
    client_auth: ClientAuth::Basic,
    ..def(
        "twitter",
        "https://x.com/i/oauth2/authorize",
        "https://api.x.com/2/oauth2/token",
        &["users.read", "tweet.read", "offline.access", "users.email"],
    )
};

const LINKEDIN: BuiltinDef = BuiltinDef {
    userinfo: Some("https://api.linkedin.com/v2/userinfo"),
    ..def(
        "linkedin",
        "https://www.linkedin.com/oauth/v2/authorization",
        "https://www.linkedin.com/oauth/v2/accessToken",
        &["profile", "email", "openid"],
    )
};

const SLACK: BuiltinDef = BuiltinDef {
    userinfo: Some("https://slack.com/api/openid.connect.userInfo"),
    ..def(
        "slack",
        "https://slack.com/openid/connect/authorize",
        "https://slack.com/api/openid.connect.token",
        &["openid", "profile", "email"],
    )
};

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
            Builtin::Github => &GITHUB,
            Builtin::Google => &GOOGLE,
            Builtin::Discord => &DISCORD,
            Builtin::Gitlab => &GITLAB,
            Builtin::Microsoft => &MICROSOFT,
            Builtin::Apple => &APPLE,
            Builtin::Facebook => &FACEBOOK,
            Builtin::Twitter => &TWITTER,
            Builtin::Linkedin => &LINKEDIN,
            Builtin::Slack => &SLACK,
        }
    }

    pub fn id(self) -> &'static str {
        self.def().id
    }

    pub fn from_id(id: &str) -> Option<Builtin> {
        Builtin::ALL.iter().copied().find(|b| b.id() == id)
    }
}

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

/// The endpoints a built-in's profile mapping calls, after overrides.
pub struct ProfileUrls<'a> {
    pub userinfo: Option<&'a str>,
    pub emails: Option<&'a str>,
}

/// Reads the user's profile the way the built-in does. `apple_user` is the `user` JSON
/// Apple posts on the first sign-in.
pub fn user_info(
    builtin: Builtin,
    http: &Client,
    urls: &ProfileUrls<'_>,
    tokens: &Tokens,
    apple_user: Option<&Value>,
) -> anyhow::Result<UserInfo> {
    let need_userinfo = || urls.userinfo.ok_or_else(|| anyhow::anyhow!("no user-info endpoint"));
    let access = || {
        tokens
            .access_token
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("no access token"))
    };
    let from_id_token = || -> anyhow::Result<Value> {
        let id_token = tokens
            .id_token
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("no id_token in the token response"))?;
        decode_jwt_claims(id_token)
    };
    let info = match builtin {
        Builtin::Github => {
            let ua = [("user-agent", "better-auth")];
            let mut profile = http.get_json(need_userinfo()?, Some(access()?), &ua)?;
            let emails = urls
                .emails
                .and_then(|u| http.get_json(u, Some(access().ok()?), &ua).ok())
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default();
            if s(&profile, "email").is_none() {
                let pick = emails
                    .iter()
                    .find(|e| string_boolean(e.get("primary")))
                    .or(emails.first());
                if let (Some(e), Some(obj)) = (pick.and_then(|e| s(e, "email")), profile.as_object_mut()) {
                    obj.insert("email".into(), Value::String(e));
                }
            }
            let email = s(&profile, "email");
            let verified = emails
                .iter()
                .find(|e| email.is_some() && s(e, "email") == email)
                .is_some_and(|e| string_boolean(e.get("verified")));
            UserInfo {
                subject: s(&profile, "id").unwrap_or_default(),
                name: s(&profile, "name").or_else(|| s(&profile, "login")).unwrap_or_default(),
                email,
                email_verified: verified,
                image: s(&profile, "avatar_url"),
                data: profile,
            }
        }
        Builtin::Google | Builtin::Microsoft => {
            let claims = from_id_token()?;
            let subject_key = if builtin == Builtin::Google { "sub" } else { "oid" };
            let email = s(&claims, "email");
            let verified = if builtin == Builtin::Google || claims.get("email_verified").is_some() {
                string_boolean(claims.get("email_verified"))
            } else {
                // Entra ID lists verified addresses instead of a flag.
                let listed = |k: &str| {
                    claims
                        .get(k)
                        .and_then(Value::as_array)
                        .is_some_and(|a| a.iter().any(|v| v.as_str() == email.as_deref()))
                };
                email.is_some() && (listed("verified_primary_email") || listed("verified_secondary_email"))
            };
            UserInfo {
                subject: s(&claims, subject_key).unwrap_or_default(),
                name: s(&claims, "name").unwrap_or_default(),
                email,
                email_verified: verified,
                image: s(&claims, "picture"),
                data: claims,
            }
        }
        Builtin::Apple => {
            let mut claims = from_id_token()?;
            let given = apple_user.and_then(|u| u.get("name")).map(|n| {
                let part = |k: &str| n.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
                format!("{} {}", part("firstName"), part("lastName")).trim().to_string()
            });
            let name = given.unwrap_or_else(|| s(&claims, "name").unwrap_or_default());
            if let Some(obj) = claims.as_object_mut() {
                obj.insert("name".into(), Value::String(name.clone()));
            }
            UserInfo {
                subject: s(&claims, "sub").unwrap_or_default(),
                name,
                email: s(&claims, "email"),
                email_verified: string_boolean(claims.get("email_verified")),
                image: None,
                data: claims,
            }
        }
        Builtin::Discord => {
            let mut p = http.get_json(need_userinfo()?, Some(access()?), &[])?;
            let id = s(&p, "id").unwrap_or_default();
            let image = match s(&p, "avatar") {
                Some(a) => {
                    let ext = if a.starts_with("a_") { "gif" } else { "png" };
                    format!("https://cdn.discordapp.com/avatars/{id}/{a}.{ext}")
                }
                None => {
                    let n = match s(&p, "discriminator").as_deref() {
                        Some("0") | None => id.parse::<u64>().map(|v| (v >> 22) % 6).unwrap_or(0),
                        Some(d) => d.parse::<u64>().map(|v| v % 5).unwrap_or(0),
                    };
                    format!("https://cdn.discordapp.com/embed/avatars/{n}.png")
                }
            };
            if let Some(obj) = p.as_object_mut() {
                obj.insert("image_url".into(), Value::String(image.clone()));
            }
            UserInfo {
                subject: id,
                name: s(&p, "global_name").or_else(|| s(&p, "username")).unwrap_or_default(),
                email: s(&p, "email"),
                email_verified: string_boolean(p.get("verified")),
                image: Some(image),
                data: p,
            }
        }
        Builtin::Gitlab => {
            let p = http.get_json(need_userinfo()?, Some(access()?), &[])?;
            if p.get("state").and_then(Value::as_str) != Some("active") || string_boolean(p.get("locked")) {
                anyhow::bail!("GitLab account is not active");
            }
            UserInfo {
                subject: s(&p, "id").unwrap_or_default(),
                name: s(&p, "name").or_else(|| s(&p, "username")).unwrap_or_default(),
                email: s(&p, "email"),
                email_verified: string_boolean(p.get("email_verified")),
                image: s(&p, "avatar_url"),
                data: p,
            }
        }
        Builtin::Facebook => {
            if let Some(claims) = tokens.id_token.as_deref().and_then(|t| decode_jwt_claims(t).ok()) {
                UserInfo {
                    subject: s(&claims, "sub").unwrap_or_default(),
                    name: s(&claims, "name").unwrap_or_default(),
                    email: s(&claims, "email"),
                    email_verified: false,
                    image: s(&claims, "picture"),
                    data: claims,
                }
            } else {
                let p = http.get_json(need_userinfo()?, Some(access()?), &[])?;
                UserInfo {
                    subject: s(&p, "id").unwrap_or_default(),
                    name: s(&p, "name").unwrap_or_default(),
                    email: s(&p, "email"),
                    email_verified: string_boolean(p.get("email_verified")),
                    image: p
                        .pointer("/picture/data/url")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    data: p,
                }
            }
        }
        Builtin::Twitter => {
            let base = need_userinfo()?;
            let sep = if base.contains('?') { '&' } else { '?' };
            let mut p = http.get_json(
                &format!("{base}{sep}user.fields=profile_image_url"),
                Some(access()?),
                &[],
            )?;
            let confirmed = http
                .get_json(&format!("{base}{sep}user.fields=confirmed_email"), Some(access()?), &[])
                .ok()
                .and_then(|v| {
                    v.pointer("/data/confirmed_email")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                });
            let id = p
                .pointer("/data/id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if let (Some(e), Some(obj)) = (&confirmed, p.get_mut("data").and_then(Value::as_object_mut)) {
                obj.insert("email".into(), Value::String(e.clone()));
            }
            let field = |k: &str| {
                p.pointer(&format!("/data/{k}"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            UserInfo {
                subject: id.clone(),
                name: field("name").unwrap_or_default(),
                // Better Auth's placeholder when X shares no address.
                email: Some(
                    confirmed
                        .clone()
                        .unwrap_or_else(|| format!("{id}@twitter.placeholder.invalid")),
                ),
                email_verified: confirmed.is_some(),
                image: field("profile_image_url"),
                data: p,
            }
        }
        Builtin::Linkedin | Builtin::Slack => {
            let p = http.get_json(need_userinfo()?, Some(access()?), &[])?;
            let subject = if builtin == Builtin::Slack {
                s(&p, "https://slack.com/user_id")
            } else {
                s(&p, "sub")
            };
            UserInfo {
                subject: subject.unwrap_or_default(),
                name: s(&p, "name").unwrap_or_default(),
                email: s(&p, "email"),
                email_verified: string_boolean(p.get("email_verified")),
                image: s(&p, "picture").or_else(|| s(&p, "https://slack.com/user_image_512")),
                data: p,
            }
        }
    };
    Ok(info)
}
