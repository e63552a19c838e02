//! X / Twitter (Better Auth's `social-providers/twitter.ts`): the profile, and the confirmed
//! address from a second call (a placeholder address when X shares none).

use serde_json::Value;

use super::{def, BuiltinDef, Profile};
use crate::config::oauth::ClientAuth;
use crate::oauth::UserInfo;

pub const DEF: BuiltinDef = BuiltinDef {
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

pub fn user_info(p: &Profile<'_>) -> anyhow::Result<UserInfo> {
    let base = p.userinfo()?;
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut profile = p.get(&format!("{base}{sep}user.fields=profile_image_url"), &[])?;
    let confirmed = p
        .get(&format!("{base}{sep}user.fields=confirmed_email"), &[])
        .ok()
        .and_then(|v| {
            v.pointer("/data/confirmed_email")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    let id = profile
        .pointer("/data/id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if let (Some(e), Some(obj)) = (&confirmed, profile.get_mut("data").and_then(Value::as_object_mut)) {
        obj.insert("email".into(), Value::String(e.clone()));
    }
    let field = |k: &str| {
        profile
            .pointer(&format!("/data/{k}"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Ok(UserInfo {
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
        data: profile,
    })
}
