//! Google (Better Auth's `social-providers/google.ts`): the profile is the ID token's claims.

use super::{def, s, string_boolean, BuiltinDef, IdTokenDef, IssuerRule, Profile, ONE_HOUR};
use crate::oauth::UserInfo;

pub const DEF: BuiltinDef = BuiltinDef {
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

pub fn user_info(p: &Profile<'_>) -> anyhow::Result<UserInfo> {
    let claims = p.claims()?;
    Ok(UserInfo {
        subject: s(&claims, "sub").unwrap_or_default(),
        name: s(&claims, "name").unwrap_or_default(),
        email: s(&claims, "email"),
        email_verified: string_boolean(claims.get("email_verified")),
        image: s(&claims, "picture"),
        data: claims,
    })
}
