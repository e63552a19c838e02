//! Applying migrations on PostgreSQL (the list and its files: `storage/sql/migrations.rs`).
//!
//! All pending files are applied in one transaction holding a transaction-scoped advisory
//! lock (keyed by the schema), so several Sesame processes starting together do not race:
//! the first applies them, the others wait and then find nothing left to do. Applied names
//! are recorded in `_sesame_migrations`.

use postgres::Client;

use crate::storage::sql::migrations::pending as pending_of;
use crate::storage::sql::{Dialect, Migration};

const BOOKKEEPING: &str = r#"create table if not exists "_sesame_migrations" ("name" text not null primary key, "appliedAt" timestamptz default CURRENT_TIMESTAMP not null)"#;

/// Serialises migrators of the same schema; released at commit or rollback.
const LOCK: &str = "select pg_advisory_xact_lock(hashtextextended('sesame:migrations:' || current_schema(), 0))";

/// Applies every pending migration of `list`; returns the names applied.
pub fn apply(client: &mut Client, list: &[Migration]) -> Result<Vec<&'static str>, postgres::Error> {
    let mut tx = client.transaction()?;
    tx.execute(LOCK, &[])?;
    tx.batch_execute(BOOKKEEPING)?;
    let done = applied_names(&mut tx)?;
    let mut applied = Vec::new();
    for m in pending_of(list, &done) {
        tx.batch_execute(m.sql(Dialect::Postgres))?;
        tx.execute(r#"insert into "_sesame_migrations" ("name") values ($1)"#, &[&m.name])?;
        applied.push(m.name);
    }
    tx.commit()?;
    Ok(applied)
}

/// The migrations of `list` not yet recorded as applied (all of them on an empty database).
pub fn pending(client: &mut Client, list: &[Migration]) -> Result<Vec<&'static str>, postgres::Error> {
    let exists: bool = client
        .query_one("select to_regclass('\"_sesame_migrations\"') is not null", &[])?
        .try_get(0)?;
    let done = if exists { applied_names(client)? } else { Vec::new() };
    Ok(pending_of(list, &done).map(|m| m.name).collect())
}

fn applied_names(client: &mut impl postgres::GenericClient) -> Result<Vec<String>, postgres::Error> {
    client
        .query(r#"select "name" from "_sesame_migrations""#, &[])?
        .iter()
        .map(|r| r.try_get(0))
        .collect()
}
