//! LinkedIn (Better Auth's `social-providers/linkedin.ts`): the OpenID user-info answer.

use super::{def, s, string_boolean, BuiltinDef, Profile};
use crate::oauth::UserInfo;

pub const DEF: BuiltinDef = BuiltinDef {
    userinfo: Some("https://api.linkedin.com/v2/userinfo"),
    ..def(
        "linkedin",
        "https://www.linkedin.com/oauth/v2/authorization",
        "https://www.linkedin.com/oauth/v2/accessToken",
        &["profile", "email", "openid"],
    )
};

pub fn user_info(p: &Profile<'_>) -> anyhow::Result<UserInfo> {
    let profile = p.get(p.userinfo()?, &[])?;
    Ok(UserInfo {
        subject: s(&profile, "sub").unwrap_or_default(),
        name: s(&profile, "name").unwrap_or_default(),
        email: s(&profile, "email"),
        email_verified: string_boolean(profile.get("email_verified")),
        image: s(&profile, "picture"),
        data: profile,
    })
}
