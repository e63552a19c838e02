//! Apple (Better Auth's `social-providers/apple.ts`): the profile is the ID token's claims,
//! named from the `user` JSON Apple posts on the first sign-in.

use serde_json::Value;

use super::{def, s, string_boolean, BuiltinDef, IdTokenDef, IssuerRule, Profile, ONE_HOUR};
use crate::oauth::UserInfo;

pub const DEF: BuiltinDef = BuiltinDef {
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

pub fn user_info(p: &Profile<'_>) -> anyhow::Result<UserInfo> {
    let mut claims = p.claims()?;
    let given = p.apple_user.and_then(|u| u.get("name")).map(|n| {
        let part = |k: &str| n.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        format!("{} {}", part("firstName"), part("lastName")).trim().to_string()
    });
    let name = given.unwrap_or_else(|| s(&claims, "name").unwrap_or_default());
    if let Some(obj) = claims.as_object_mut() {
        obj.insert("name".into(), Value::String(name.clone()));
    }
    Ok(UserInfo {
        subject: s(&claims, "sub").unwrap_or_default(),
        name,
        email: s(&claims, "email"),
        email_verified: string_boolean(claims.get("email_verified")),
        image: None,
        data: claims,
    })
}
