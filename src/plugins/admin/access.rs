//! Better Auth's admin access control with its default roles: `admin` may do every action of
//! the default statements except `user:impersonate-admins`; `user` may do none. A caller whose
//! id is in `SESAME_ADMIN_USER_IDS` may do everything; a role list (`admin,user`) grants what
//! any of its roles grants; a missing role counts as `user`.

use crate::config::plugins::AdminConfig;

/// A permission request: resource → actions. Every resource must be known to the role and
/// every action granted (Better Auth's `authorize` with its default `AND` connector).
pub type Permissions<'a> = &'a [(&'a str, &'a [&'a str])];

/// Better Auth's `defaultStatements`: every action there is.
pub const STATEMENTS: [(&str, &[&str]); 2] = [
    (
        "user",
        &[
            "create",
            "list",
            "set-role",
            "ban",
            "impersonate",
            "impersonate-admins",
            "delete",
            "set-password",
            "set-email",
            "set-phone",
            "get",
            "update",
        ],
    ),
    ("session", &["list", "revoke", "delete"]),
];

/// `adminAc`: all but `impersonate-admins`.
const ADMIN: [(&str, &[&str]); 2] = [
    (
        "user",
        &[
            "create",
            "list",
            "set-role",
            "ban",
            "impersonate",
            "delete",
            "set-password",
            "set-email",
            "set-phone",
            "get",
            "update",
        ],
    ),
    ("session", &["list", "revoke", "delete"]),
];

/// `userAc`: nothing.
const USER: [(&str, &[&str]); 2] = [("user", &[]), ("session", &[])];

fn statements(role: &str) -> Option<&'static [(&'static str, &'static [&'static str])]> {
    match role {
        "admin" => Some(&ADMIN),
        "user" => Some(&USER),
        _ => None,
    }
}

/// Whether one role grants every requested action.
fn authorize(role: &str, request: Permissions<'_>) -> bool {
    let Some(granted) = statements(role) else {
        return false;
    };
    let mut any = false;
    for (resource, actions) in request {
        let Some((_, allowed)) = granted.iter().find(|(r, _)| r == resource) else {
            return false;
        };
        if actions.is_empty() || !actions.iter().all(|a| allowed.contains(a)) {
            return false;
        }
        any = true;
    }
    any
}

/// Better Auth's `hasPermission`: the admin user ids, then each of the roles.
pub fn has_permission(config: &AdminConfig, user_id: &str, role: Option<&str>, request: Permissions<'_>) -> bool {
    if !user_id.is_empty() && config.user_ids.iter().any(|id| id == user_id) {
        return true;
    }
    let roles = role.filter(|r| !r.is_empty()).unwrap_or("user");
    roles.split(',').any(|r| authorize(r, request))
}

/// Whether a user counts as an admin (impersonating one is refused): one of their roles is an
/// admin role, or their id is an admin user id.
pub fn is_admin(config: &AdminConfig, user_id: &str, role: Option<&str>) -> bool {
    let roles = role.filter(|r| !r.is_empty()).unwrap_or("user");
    roles.split(',').any(|r| config.roles.iter().any(|a| a.trim() == r))
        || config.user_ids.iter().any(|id| id == user_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_roles_grant_as_better_auth() {
        let c = AdminConfig::default();
        assert!(has_permission(&c, "a", Some("admin"), &[("user", &["list", "ban"])]));
        assert!(has_permission(&c, "a", Some("user,admin"), &[("session", &["revoke"])]));
        assert!(!has_permission(
            &c,
            "a",
            Some("admin"),
            &[("user", &["impersonate-admins"])]
        ));
        assert!(!has_permission(
            &c,
            "a",
            Some("admin"),
            &[("user", &["list"]), ("nope", &["x"])]
        ));
        assert!(!has_permission(&c, "a", Some("admin"), &[("user", &[])]));
        assert!(!has_permission(&c, "a", Some("admin"), &[]));
        assert!(!has_permission(&c, "u", Some("user"), &[("user", &["get"])]));
        assert!(!has_permission(&c, "u", None, &[("user", &["get"])]));
        assert!(!has_permission(&c, "u", Some("superuser"), &[("user", &["get"])]));
        let ids = AdminConfig {
            user_ids: vec!["root".into()],
            ..AdminConfig::default()
        };
        assert!(has_permission(
            &ids,
            "root",
            Some("user"),
            &[("user", &["impersonate-admins"])]
        ));
        assert!(is_admin(&ids, "root", None));
        assert!(is_admin(&c, "x", Some("user,admin")));
        assert!(!is_admin(&c, "x", Some("user")));
    }
}
