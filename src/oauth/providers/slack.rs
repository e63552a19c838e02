//! Slack (Better Auth's `social-providers/slack.ts`): the OpenID user-info answer, with Slack's
//! own keys for the user id and image.

use super::{def, s, string_boolean, BuiltinDef, Profile};
use crate::oauth::UserInfo;

pub const DEF: BuiltinDef = BuiltinDef {
    userinfo: Some("https://slack.com/api/openid.connect.userInfo"),
    ..def(
        "slack",
        "https://slack.com/openid/connect/authorize",
        "https://slack.com/api/openid.connect.token",
        &["openid", "profile", "email"],
    )
};

pub fn user_info(p: &Profile<'_>) -> anyhow::Result<UserInfo> {
    let profile = p.get(p.userinfo()?, &[])?;
    Ok(UserInfo {
        subject: s(&profile, "https://slack.com/user_id").unwrap_or_default(),
        name: s(&profile, "name").unwrap_or_default(),
        email: s(&profile, "email"),
        email_verified: string_boolean(profile.get("email_verified")),
        image: s(&profile, "picture").or_else(|| s(&profile, "https://slack.com/user_image_512")),
        data: profile,
    })
}
