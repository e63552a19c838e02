//! Microsoft Entra ID (Better Auth's `social-providers/microsoft-entra-id.ts`): the profile is
//! the ID token's claims; `{tenant}` in the URLs is the configured tenant.

use serde_json::Value;

use super::{def, s, string_boolean, BuiltinDef, IdTokenDef, IssuerRule, Profile, ONE_HOUR};
use crate::oauth::UserInfo;

pub const DEF: BuiltinDef = BuiltinDef {
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

pub const AUTHORITY: &str = "https://login.microsoftonline.com";

pub fn user_info(p: &Profile<'_>) -> anyhow::Result<UserInfo> {
    let claims = p.claims()?;
    let email = s(&claims, "email");
    let verified = if claims.get("email_verified").is_some() {
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
    Ok(UserInfo {
        subject: s(&claims, "oid").unwrap_or_default(),
        name: s(&claims, "name").unwrap_or_default(),
        email,
        email_verified: verified,
        image: s(&claims, "picture"),
        data: claims,
    })
}
