//! GitLab (Better Auth's `social-providers/gitlab.ts`): the profile of an active, unlocked
//! account (`SESAME_GITLAB_BASE_URL` moves every endpoint to a self-hosted instance).

use serde_json::Value;

use super::{def, s, string_boolean, BuiltinDef, Profile};
use crate::oauth::UserInfo;

pub const DEF: BuiltinDef = BuiltinDef {
    userinfo: Some("https://gitlab.com/api/v4/user"),
    pkce: true,
    ..def(
        "gitlab",
        "https://gitlab.com/oauth/authorize",
        "https://gitlab.com/oauth/token",
        &["read_user"],
    )
};

pub fn user_info(p: &Profile<'_>) -> anyhow::Result<UserInfo> {
    let profile = p.get(p.userinfo()?, &[])?;
    if profile.get("state").and_then(Value::as_str) != Some("active") || string_boolean(profile.get("locked")) {
        anyhow::bail!("GitLab account is not active");
    }
    Ok(UserInfo {
        subject: s(&profile, "id").unwrap_or_default(),
        name: s(&profile, "name")
            .or_else(|| s(&profile, "username"))
            .unwrap_or_default(),
        email: s(&profile, "email"),
        email_verified: string_boolean(profile.get("email_verified")),
        image: s(&profile, "avatar_url"),
        data: profile,
    })
}
