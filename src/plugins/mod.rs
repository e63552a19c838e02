//! Plugins: static descriptors that add routes (to the same table, so they are reachable over
//! HTTP and through the in-process API), error codes, SQL for their tables, and hooks.
//!
//! `SESAME_PLUGINS=bearer,jwt,...` enables plugins by id; an unknown id fails start-up, and so
//! does a route that conflicts with core or another plugin (the router refuses it).
//!
//! Hook order, for every request that reaches a handler (the pipeline in `app.rs` runs them):
//! each enabled plugin's [`Hooks::before`] in [`ALL_PLUGINS`] order (after the body parse and
//! the Origin check, as Better Auth runs `hooks.before`), then the handler, then each plugin's
//! [`Hooks::after`] in the same order on the handler's successful answer (an error answer
//! skips them). A `before` hook may rewrite the request (the bearer plugin turns a token into
//! the session cookie) or answer early. The app composes core and plugin routes.

pub mod admin;
pub mod anonymous;
pub mod bearer;
pub mod email_otp;
pub mod jwt;
pub mod magic_link;
pub mod open_api;
pub mod two_factor;
pub mod username;

use crate::endpoint::current::SignedIn;
use crate::endpoint::Ctx;
use crate::endpoint::Declared;
use crate::error::{ApiError, ErrorCode};
use crate::http::{Request, Response};
use crate::storage::models::{FieldValue, Session, User, UserUpdate};
use crate::storage::sql::Migration;

/// Hook points core calls; every method has a no-op default.
pub trait Hooks: Sync {
    /// Before the handler. `Ok(Some(resp))` answers without calling the handler.
    fn before(&self, _ctx: &Ctx<'_>, _req: &mut Request) -> Result<Option<Response>, ApiError> {
        Ok(None)
    }

    /// After the handler, on its successful answer (with the cookies it set).
    fn after(&self, _ctx: &Ctx<'_>, _req: &Request, _resp: &mut Response) {}

    /// Every new user, whatever created it (sign-up, social sign-in): the plugin's defaults
    /// (Better Auth's `user.create.before` database hook).
    fn user_defaults(&self, _user: &mut User) {}

    /// Before sign-up stores a new user: may fill plugin fields from `ctx.body` or refuse.
    fn before_user_create(&self, _ctx: &Ctx<'_>, _user: &mut User) -> Result<(), ApiError> {
        Ok(())
    }

    /// Before a session is stored for a user, whatever the sign-in method (Better Auth's
    /// `session.create.before` database hook): may refuse it.
    fn before_session_create(&self, _ctx: &Ctx<'_>, _user_id: &str) -> Result<(), ApiError> {
        Ok(())
    }

    /// Sends the proof of a user's address in place of core's emailed verification link (the
    /// email-otp plugin's `overrideDefaultEmailVerification`): `Some` when this plugin sent it,
    /// and then no link goes out.
    fn send_verification(&self, _ctx: &Ctx<'_>, _user: &User) -> Option<Result<(), ApiError>> {
        None
    }

    /// The plugin's fields of a user's answer, each passed to `out` in order (placed before
    /// `id`, as Better Auth's merged schema orders them).
    fn user_fields<'a>(&self, _user: &'a User, _out: &mut dyn FnMut(&'static str, FieldValue<'a>)) {}

    /// The plugin's fields of a session's answer (placed before `id`).
    fn session_fields<'a>(&self, _session: &'a Session, _out: &mut dyn FnMut(&'static str, FieldValue<'a>)) {}

    /// Before update-user applies an update: may add plugin fields from `ctx.body` or refuse.
    fn before_user_update(
        &self,
        _ctx: &Ctx<'_>,
        _current: &SignedIn,
        _update: &mut UserUpdate,
    ) -> Result<(), ApiError> {
        Ok(())
    }

    /// After a password sign-in accepted the password, before any session exists:
    /// `Some(body)` answers the sign-in instead and no session is created (the two-factor
    /// plugin's challenge; Better Auth's hook deletes the session the sign-in made).
    fn sign_in_challenge(
        &self,
        _ctx: &Ctx<'_>,
        _req: &Request,
        _user: &User,
        _dont_remember: bool,
    ) -> Result<Option<serde_json::Value>, ApiError> {
        Ok(None)
    }
}

/// A compiled-in plugin.
pub struct Plugin {
    pub id: &'static str,
    /// The plugin's endpoints, each declared next to its handler.
    pub endpoints: &'static [&'static dyn Declared],
    pub error_codes: &'static [ErrorCode],
    /// SQL for the plugin's tables and columns (`sql/<dialect>/plugins/<id>.sql`), applied
    /// after the core migrations whether the plugin is enabled or not.
    pub migrations: &'static [Migration],
    pub hooks: &'static dyn Hooks,
}

/// Every compiled-in plugin, in hook order. Bearer comes first so that later plugins' hooks
/// already see the session its token stands for.
pub const ALL_PLUGINS: &[&Plugin] = &[
    &bearer::PLUGIN,
    &username::PLUGIN,
    &two_factor::PLUGIN,
    &jwt::PLUGIN,
    &open_api::PLUGIN,
    &admin::PLUGIN,
    &magic_link::PLUGIN,
    &anonymous::PLUGIN,
    &email_otp::PLUGIN,
];

/// The enabled plugins for a list of ids, in [`ALL_PLUGINS`] order.
pub fn enabled(ids: &[String]) -> anyhow::Result<Vec<&'static Plugin>> {
    for id in ids {
        if !ALL_PLUGINS.iter().any(|p| p.id == id) {
            let known: Vec<&str> = ALL_PLUGINS.iter().map(|p| p.id).collect();
            anyhow::bail!(
                "SESAME_PLUGINS names an unknown plugin {id:?} (known: {})",
                known.join(", ")
            );
        }
    }
    Ok(ALL_PLUGINS
        .iter()
        .copied()
        .filter(|p| ids.iter().any(|id| id == p.id))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_plugin_id_fails() {
        let err = enabled(&["nope".to_string()]).err().unwrap();
        assert!(err.to_string().contains("nope"));
    }

    /// A plugin's codes join the core table in answers and the OpenAPI document: a code means
    /// one thing everywhere.
    #[test]
    fn plugin_error_codes_are_unique_across_core_and_plugins() {
        let mut seen: std::collections::HashMap<&str, &str> =
            crate::error::codes::ALL.iter().map(|c| (c.code, c.message)).collect();
        for p in ALL_PLUGINS {
            for c in p.error_codes {
                if let Some(message) = seen.insert(c.code, c.message) {
                    assert_eq!(message, c.message, "{} redefines {}", p.id, c.code);
                }
            }
        }
    }

    #[test]
    fn plugin_ids_and_migration_names_are_unique() {
        let mut ids = std::collections::HashSet::new();
        let mut names = std::collections::HashSet::new();
        for p in ALL_PLUGINS {
            assert!(ids.insert(p.id));
            for m in p.migrations {
                assert!(names.insert(m.name));
            }
        }
    }
}
