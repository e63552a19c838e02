//! Schema migrations: the numbered files in `sql/`, embedded in the binary, applied in order.
//!
//! All pending files are applied in one transaction holding a transaction-scoped advisory
//! lock (keyed by the schema), so several Sesame processes starting together do not race:
//! the first applies them, the others wait and then find nothing left to do. Applied names
//! are recorded in `_sesame_migrations`. Files are append-only: a released file never
//! changes, a schema change is a new file.

use postgres::Client;

pub use crate::storage::migration::Migration;

/// Every migration, in the order they are applied.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        name: "0001_core",
        sql: include_str!("../../../sql/0001_core.sql"),
    },
    Migration {
        name: "0002_account_issuer",
        sql: include_str!("../../../sql/0002_account_issuer.sql"),
    },
    Migration {
        name: "0003_account_issuer_default",
        sql: include_str!("../../../sql/0003_account_issuer_default.sql"),
    },
    Migration {
        name: "0004_rate_limit",
        sql: include_str!("../../../sql/0004_rate_limit.sql"),
    },
];

/// The core migrations, then every compiled-in plugin's PostgreSQL SQL.
pub fn all() -> Vec<Migration> {
    crate::storage::migration::with_plugins(MIGRATIONS, |m| m.postgres)
}

const BOOKKEEPING: &str = r#"create table if not exists "_sesame_migrations" ("name" text not null primary key, "appliedAt" timestamptz default CURRENT_TIMESTAMP not null)"#;

/// Serialises migrators of the same schema; released at commit or rollback.
const LOCK: &str = "select pg_advisory_xact_lock(hashtextextended('sesame:migrations:' || current_schema(), 0))";

/// Applies every pending migration; returns the names applied.
pub fn apply(client: &mut Client) -> Result<Vec<&'static str>, postgres::Error> {
    let mut tx = client.transaction()?;
    tx.execute(LOCK, &[])?;
    tx.batch_execute(BOOKKEEPING)?;
    let done = applied_names(&mut tx)?;
    let mut applied = Vec::new();
    for m in all().iter().filter(|m| !done.iter().any(|d| d == m.name)) {
        tx.batch_execute(m.sql)?;
        tx.execute(r#"insert into "_sesame_migrations" ("name") values ($1)"#, &[&m.name])?;
        applied.push(m.name);
    }
    tx.commit()?;
    Ok(applied)
}

/// Migrations not yet recorded as applied (all of them on an empty database).
pub fn pending(client: &mut Client) -> Result<Vec<&'static str>, postgres::Error> {
    let exists: bool = client
        .query_one("select to_regclass('\"_sesame_migrations\"') is not null", &[])?
        .try_get(0)?;
    let done = if exists { applied_names(client)? } else { Vec::new() };
    Ok(all()
        .iter()
        .filter(|m| !done.iter().any(|d| d == m.name))
        .map(|m| m.name)
        .collect())
}

fn applied_names(client: &mut impl postgres::GenericClient) -> Result<Vec<String>, postgres::Error> {
    client
        .query(r#"select "name" from "_sesame_migrations""#, &[])?
        .iter()
        .map(|r| r.try_get(0))
        .collect()
}
