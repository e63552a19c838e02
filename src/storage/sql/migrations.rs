//! Schema migrations, one list for both databases: each [`Migration`] is a name and the same
//! change written for each dialect, in `sql/postgres/<file>.sql` and `sql/sqlite/<file>.sql`
//! (a plugin's under `plugins/`), embedded in the binary with [`migration!`](crate::migration).
//!
//! Files are append-only: a released file never changes, a schema change is a new file. The
//! applied names are recorded in `_sesame_migrations` (the same names on both databases). The
//! storage layer applies whatever list it is handed; the app hands it [`CORE`] followed by
//! every compiled-in plugin's migrations (`app::migrations`), so storage never reads the
//! plugin list.

use super::Dialect;

/// One migration: a stable name and its SQL per dialect.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Unique and stable, recorded once applied (`0001_core`, `plugin_username_0001`).
    pub name: &'static str,
    pub postgres: &'static str,
    /// The same change for SQLite. An `alter table … add column` of a column that exists is
    /// skipped (SQLite has no `if not exists` there); a trigger ends with an `end;` line.
    pub sqlite: &'static str,
}

impl Migration {
    pub fn sql(&self, d: Dialect) -> &'static str {
        match d {
            Dialect::Postgres => self.postgres,
            Dialect::Sqlite => self.sqlite,
        }
    }
}

/// `migration!("0001_core")` embeds `sql/{postgres,sqlite}/0001_core.sql`;
/// `migration!("plugin_jwt_0001", "plugins/jwt")` names the files separately.
#[macro_export]
macro_rules! migration {
    ($name:literal) => {
        $crate::migration!($name, $name)
    };
    ($name:literal, $file:literal) => {
        $crate::storage::sql::Migration {
            name: $name,
            postgres: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/sql/postgres/", $file, ".sql")),
            sqlite: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/sql/sqlite/", $file, ".sql")),
        }
    };
}

/// The core schema's migrations, in the order they are applied.
pub const CORE: &[Migration] = &[
    migration!("0001_core"),
    migration!("0002_account_issuer"),
    migration!("0003_account_issuer_default"),
    migration!("0004_rate_limit"),
    migration!("0005_session_dont_remember_me"),
    migration!("0006_rate_limit_expires_at"),
    migration!("0007_session_notify"),
    migration!("0008_mail_outbox"),
];

/// The migrations of `list` whose names `done` (the names already recorded) lacks, in order.
pub fn pending<'m>(list: &'m [Migration], done: &[String]) -> impl Iterator<Item = &'m Migration> {
    let done = done.to_vec();
    list.iter().filter(move |m| !done.iter().any(|d| d == m.name))
}
