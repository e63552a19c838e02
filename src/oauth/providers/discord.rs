//! Discord (Better Auth's `social-providers/discord.ts`): the profile, with the avatar URL
//! Better Auth derives (animated, custom or default).

use serde_json::Value;

use super::{def, s, string_boolean, BuiltinDef, Profile};
use crate::oauth::UserInfo;

pub const DEF: BuiltinDef = BuiltinDef {
    userinfo: Some("https://discord.com/api/users/@me"),
    prompt: Some("none"),
    ..def(
        "discord",
        "https://discord.com/api/oauth2/authorize",
        "https://discord.com/api/oauth2/token",
        &["identify", "email"],
    )
};

pub fn user_info(p: &Profile<'_>) -> anyhow::Result<UserInfo> {
    let mut profile = p.get(p.userinfo()?, &[])?;
    let id = s(&profile, "id").unwrap_or_default();
    let image = match s(&profile, "avatar") {
        Some(a) => {
            let ext = if a.starts_with("a_") { "gif" } else { "png" };
            format!("https://cdn.discordapp.com/avatars/{id}/{a}.{ext}")
        }
        None => {
            let n = match s(&profile, "discriminator").as_deref() {
                Some("0") | None => id.parse::<u64>().map(|v| (v >> 22) % 6).unwrap_or(0),
                Some(d) => d.parse::<u64>().map(|v| v % 5).unwrap_or(0),
            };
            format!("https://cdn.discordapp.com/embed/avatars/{n}.png")
        }
    };
    if let Some(obj) = profile.as_object_mut() {
        obj.insert("image_url".into(), Value::String(image.clone()));
    }
    Ok(UserInfo {
        subject: id,
        name: s(&profile, "global_name")
            .or_else(|| s(&profile, "username"))
            .unwrap_or_default(),
        email: s(&profile, "email"),
        email_verified: string_boolean(profile.get("verified")),
        image: Some(image),
        data: profile,
    })
}
