//! Facebook (Better Auth's `social-providers/facebook.ts`): the ID token's claims when there
//! is one (Limited Login), the Graph API profile otherwise.

use serde_json::Value;

use super::{def, s, string_boolean, BuiltinDef, IdTokenDef, IssuerRule, Profile};
use crate::oauth::UserInfo;

pub const DEF: BuiltinDef = BuiltinDef {
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

pub fn user_info(p: &Profile<'_>) -> anyhow::Result<UserInfo> {
    if let Some(claims) = p.claims_if_any() {
        return Ok(UserInfo {
            subject: s(&claims, "sub").unwrap_or_default(),
            name: s(&claims, "name").unwrap_or_default(),
            email: s(&claims, "email"),
            email_verified: false,
            image: s(&claims, "picture"),
            data: claims,
        });
    }
    let profile = p.get(p.userinfo()?, &[])?;
    Ok(UserInfo {
        subject: s(&profile, "id").unwrap_or_default(),
        name: s(&profile, "name").unwrap_or_default(),
        email: s(&profile, "email"),
        email_verified: string_boolean(profile.get("email_verified")),
        image: profile
            .pointer("/picture/data/url")
            .and_then(Value::as_str)
            .map(str::to_string),
        data: profile,
    })
}
