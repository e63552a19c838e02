//! GitHub (Better Auth's `social-providers/github.ts`): the profile, plus the address list for
//! the email and whether it is verified.

use serde_json::Value;

use super::{def, s, string_boolean, BuiltinDef, Profile};
use crate::oauth::UserInfo;

pub const DEF: BuiltinDef = BuiltinDef {
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
pub const EMAILS: &str = "https://api.github.com/user/emails";

pub fn user_info(p: &Profile<'_>) -> anyhow::Result<UserInfo> {
    let ua = [("user-agent", "better-auth")];
    let mut profile = p.get(p.userinfo()?, &ua)?;
    let emails = p
        .emails
        .and_then(|u| p.get(u, &ua).ok())
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
    Ok(UserInfo {
        subject: s(&profile, "id").unwrap_or_default(),
        name: s(&profile, "name").or_else(|| s(&profile, "login")).unwrap_or_default(),
        email,
        email_verified: verified,
        image: s(&profile, "avatar_url"),
        data: profile,
    })
}
