//! get-session's answer written straight to JSON bytes from the rows, the same bytes as
//! [`Ctx::user_json`] and [`Ctx::session_json`] give through a `serde_json::Value`, which cost
//! about a quarter of a get-session (an ordered map per object, a `String` per key and value,
//! then serialising and dropping it all; BENCHMARKS.md, Instructions per request). The key
//! order is Better Auth's: the core fields, every enabled plugin's fields before `id`, then the
//! username and two-factor fields when set. The tests below hold the two forms byte-equal.

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::current::SignedIn;
use super::Ctx;
use crate::clock::IsoDate;
use crate::plugins::Plugin;
use crate::storage::models::{FieldValue, Session, User};

/// A user as [`Ctx::user_json`] answers it.
pub struct UserJson<'a> {
    pub user: &'a User,
    pub plugins: &'a [&'static Plugin],
}

/// A session as [`Ctx::session_json`] answers it.
pub struct SessionJson<'a> {
    pub session: &'a Session,
    pub plugins: &'a [&'static Plugin],
}

/// get-session's `{"session": …, "user": …}`.
pub struct SignedInJson<'a> {
    pub signed_in: &'a SignedIn,
    pub plugins: &'a [&'static Plugin],
}

/// get-session's body: the session and user, or `null`.
pub fn get_session_body(ctx: &Ctx<'_>, signed_in: Option<&SignedIn>) -> serde_json::Result<Vec<u8>> {
    let Some(signed_in) = signed_in else {
        return Ok(b"null".to_vec());
    };
    // Room for a typical answer, so the buffer is allocated once.
    let mut out = Vec::with_capacity(768);
    let answer = SignedInJson {
        signed_in,
        plugins: &ctx.app.plugins,
    };
    serde_json::to_writer(&mut out, &answer)?;
    Ok(out)
}

/// Each plugin's fields as map entries; the first error stops the writing.
fn plugin_entries<'a, M: SerializeMap>(
    map: &mut M,
    plugins: &[&'static Plugin],
    each: impl Fn(&'static Plugin, &mut dyn FnMut(&'static str, FieldValue<'a>)),
) -> Result<(), M::Error> {
    let mut failed = None;
    for plugin in plugins {
        each(plugin, &mut |key, value| {
            if failed.is_none() {
                if let Err(e) = map.serialize_entry(key, &value) {
                    failed = Some(e);
                }
            }
        });
    }
    failed.map_or(Ok(()), Err)
}

impl Serialize for UserJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let u = self.user;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("name", &u.name)?;
        map.serialize_entry("email", &u.email)?;
        map.serialize_entry("emailVerified", &u.email_verified)?;
        map.serialize_entry("image", &u.image)?;
        map.serialize_entry("createdAt", &IsoDate(u.created_at))?;
        map.serialize_entry("updatedAt", &IsoDate(u.updated_at))?;
        plugin_entries(&mut map, self.plugins, |p, out| p.hooks.user_fields(u, out))?;
        map.serialize_entry("id", &u.id)?;
        // As `User::to_json`: plugin columns that are unset are left out.
        if let Some(username) = &u.username {
            map.serialize_entry("username", username)?;
        }
        if let Some(display) = &u.display_username {
            map.serialize_entry("displayUsername", display)?;
        }
        if let Some(enabled) = u.two_factor_enabled {
            map.serialize_entry("twoFactorEnabled", &enabled)?;
        }
        map.end()
    }
}

impl Serialize for SessionJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let x = self.session;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("expiresAt", &IsoDate(x.expires_at))?;
        map.serialize_entry("token", &x.token)?;
        map.serialize_entry("createdAt", &IsoDate(x.created_at))?;
        map.serialize_entry("updatedAt", &IsoDate(x.updated_at))?;
        map.serialize_entry("ipAddress", &x.ip_address)?;
        map.serialize_entry("userAgent", &x.user_agent)?;
        map.serialize_entry("userId", &x.user_id)?;
        plugin_entries(&mut map, self.plugins, |p, out| p.hooks.session_fields(x, out))?;
        map.serialize_entry("id", &x.id)?;
        map.end()
    }
}

impl Serialize for SignedInJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        let session = SessionJson {
            session: &self.signed_in.session,
            plugins: self.plugins,
        };
        map.serialize_entry("session", &session)?;
        let user = UserJson {
            user: &self.signed_in.user,
            plugins: self.plugins,
        };
        map.serialize_entry("user", &user)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Map, Value};
    use time::macros::datetime;

    use super::*;
    use crate::clock::iso;
    use crate::endpoint::ctx::{session_value, user_value, with_fields_before_id};
    use crate::plugins::ALL_PLUGINS;
    use crate::storage::models::AdminFields;

    /// The answer as get-session built it before it was written directly: the rows' `Value`s
    /// with the plugin fields as the admin and anonymous plugins inserted them (the only plugins
    /// with answer fields), `json!` into a `Value`, then `to_string`.
    fn old_user(plugins: &[&'static Plugin], u: &User) -> Value {
        let mut extra = Map::new();
        for p in plugins {
            match p.id {
                "admin" => {
                    extra.insert("role".into(), json!(u.admin.role));
                    extra.insert("banned".into(), json!(u.admin.banned));
                    extra.insert("banReason".into(), json!(u.admin.ban_reason));
                    extra.insert("banExpires".into(), json!(u.admin.ban_expires.map(iso)));
                }
                "anonymous" => {
                    extra.insert("isAnonymous".into(), json!(u.is_anonymous));
                }
                _ => {}
            }
        }
        with_fields_before_id(u.to_json(), extra)
    }

    fn old_session(plugins: &[&'static Plugin], s: &Session) -> Value {
        let mut extra = Map::new();
        if plugins.iter().any(|p| p.id == "admin") {
            extra.insert("impersonatedBy".into(), json!(s.impersonated_by));
        }
        with_fields_before_id(s.to_json(), extra)
    }

    fn old_body(plugins: &[&'static Plugin], signed_in: &SignedIn) -> String {
        json!({
            "session": old_session(plugins, &signed_in.session),
            "user": old_user(plugins, &signed_in.user),
        })
        .to_string()
    }

    /// Text that JSON must escape: quotes, a backslash, control characters, non-ASCII.
    const AWKWARD: &str = "Zoë \"the\" \\ <b>\u{1}\n\t\u{7f}\u{2028}😀";

    /// Every combination of the optional user fields (bit `i` of `mask` sets field `i`).
    fn user(mask: u32) -> User {
        let on = |bit: u32| mask & (1 << bit) != 0;
        let mut u = User::new(AWKWARD, "ada@example.com", None, datetime!(2026-11-26 19:42:01.429 UTC));
        u.updated_at = datetime!(2026-12-01 0:00 UTC);
        u.email_verified = on(0);
        u.image = on(1).then(|| "https://example.com/a.png?x=1&y=\"2\"".to_string());
        u.username = on(2).then(|| "ada_l".to_string());
        u.display_username = on(3).then(|| AWKWARD.to_string());
        u.two_factor_enabled = match (on(4), on(5)) {
            (false, _) => None,
            (true, enabled) => Some(enabled),
        };
        u.is_anonymous = on(6);
        u.admin = if on(7) {
            AdminFields {
                role: Some("admin,user".into()),
                banned: Some(on(8)),
                ban_reason: Some(AWKWARD.into()),
                ban_expires: on(8).then_some(datetime!(2027-01-02 03:04:05.006 UTC)),
            }
        } else {
            AdminFields::default()
        };
        u
    }

    fn session(mask: u32) -> Session {
        let on = |bit: u32| mask & (1 << bit) != 0;
        Session {
            id: "sess-id".into(),
            token: "tok\"en".into(),
            user_id: "user-id".into(),
            expires_at: datetime!(2026-12-08 19:42:01.429 UTC),
            created_at: datetime!(2026-11-26 19:42:01 UTC),
            updated_at: datetime!(2026-11-27 0:00:00.999 UTC),
            ip_address: on(0).then(|| if on(1) { "" } else { "203.0.113.7" }.to_string()),
            user_agent: on(2).then(|| AWKWARD.to_string()),
            dont_remember_me: on(3),
            impersonated_by: on(4).then(|| "admin-id".to_string()),
        }
    }

    /// No plugin, each plugin alone, and all of them (in hook order).
    fn plugin_sets() -> Vec<Vec<&'static Plugin>> {
        let mut sets = vec![Vec::new(), ALL_PLUGINS.to_vec()];
        sets.extend(ALL_PLUGINS.iter().map(|p| vec![*p]));
        sets
    }

    #[test]
    fn get_session_bytes_equal_the_value_built_answer_for_every_optional_field_and_plugin() {
        let mut compared = 0;
        for plugins in plugin_sets() {
            for user_mask in 0..(1 << 9) {
                for session_mask in [0, 0b1, 0b11, 0b111, 0b11111] {
                    let signed_in = SignedIn {
                        session: session(session_mask),
                        user: user(user_mask),
                        dont_remember: false,
                    };
                    let written = serde_json::to_vec(&SignedInJson {
                        signed_in: &signed_in,
                        plugins: &plugins,
                    })
                    .unwrap();
                    let written = String::from_utf8(written).unwrap();
                    assert_eq!(
                        written,
                        old_body(&plugins, &signed_in),
                        "user {user_mask:b}, session {session_mask:b}"
                    );
                    // And the `Value` form other endpoints answer with still says the same.
                    let through_hooks = json!({
                        "session": session_value(&plugins, &signed_in.session),
                        "user": user_value(&plugins, &signed_in.user),
                    });
                    assert_eq!(written, through_hooks.to_string());
                    compared += 1;
                }
            }
        }
        assert_eq!(compared, (ALL_PLUGINS.len() + 2) * 512 * 5);
    }

    #[test]
    fn plugin_fields_sit_before_id_and_username_after_it() {
        let signed_in = SignedIn {
            session: session(0b10000),
            user: user(0b1_1001_1100),
            dont_remember: false,
        };
        let written = serde_json::to_vec(&SignedInJson {
            signed_in: &signed_in,
            plugins: ALL_PLUGINS,
        })
        .unwrap();
        let answer: Value = serde_json::from_slice(&written).unwrap();
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(
            keys(&answer["user"]),
            [
                "name",
                "email",
                "emailVerified",
                "image",
                "createdAt",
                "updatedAt",
                "role",
                "banned",
                "banReason",
                "banExpires",
                "isAnonymous",
                "id",
                "username",
                "displayUsername",
                "twoFactorEnabled"
            ]
        );
        assert_eq!(answer["user"]["banExpires"], "2027-01-02T03:04:05.006Z");
        assert_eq!(
            keys(&answer["session"]),
            [
                "expiresAt",
                "token",
                "createdAt",
                "updatedAt",
                "ipAddress",
                "userAgent",
                "userId",
                "impersonatedBy",
                "id"
            ]
        );
    }
}
