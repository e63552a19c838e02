//! Applying migrations on SQLite (the list and its files: `storage/sql/migrations.rs`; the
//! same names as on PostgreSQL, so `_sesame_migrations` reads the same on both).
//!
//! All pending files are applied in one `BEGIN IMMEDIATE` transaction: it takes SQLite's write
//! lock first, so several Sesame processes starting together on one file are serialised by
//! SQLite's own locking (the others wait out their busy timeout and then find nothing left to
//! do). SQLite's DDL is transactional, so a failing file leaves nothing behind.
//!
//! SQLite has no `add column if not exists`; the migrator gives every `alter table … add
//! column` that meaning (a duplicate column is skipped), so a database whose tables Better
//! Auth created with more columns (its username plugin, a later version's `issuer`) migrates.
//! That needs the files as single statements: [`split_statements`].

use rusqlite::{Connection, TransactionBehavior};

use crate::storage::sql::migrations::pending as pending_of;
use crate::storage::sql::{Dialect, Migration};

const BOOKKEEPING: &str =
    r#"create table if not exists "_sesame_migrations" ("name" text not null primary key, "appliedAt" date not null)"#;

/// Applies every pending migration of `list`; returns the names applied.
pub fn apply(conn: &mut Connection, list: &[Migration]) -> rusqlite::Result<Vec<&'static str>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(BOOKKEEPING)?;
    let done = applied_names(&tx)?;
    let now = crate::clock::iso(time::OffsetDateTime::now_utc());
    let mut applied = Vec::new();
    for m in pending_of(list, &done) {
        for statement in split_statements(m.sql(Dialect::Sqlite)) {
            execute(&tx, &statement)?;
        }
        tx.execute(
            r#"insert into "_sesame_migrations" ("name", "appliedAt") values (?1, ?2)"#,
            (m.name, &now),
        )?;
        applied.push(m.name);
    }
    tx.commit()?;
    Ok(applied)
}

/// Runs one statement; an `add column` of a column that exists is skipped.
fn execute(conn: &Connection, statement: &str) -> rusqlite::Result<()> {
    match conn.execute_batch(statement) {
        Err(rusqlite::Error::SqliteFailure(_, Some(msg)))
            if is_add_column(statement) && msg.starts_with("duplicate column name") =>
        {
            Ok(())
        }
        other => other,
    }
}

fn is_add_column(statement: &str) -> bool {
    let words: Vec<String> = statement
        .split_whitespace()
        .take(5)
        .map(str::to_ascii_lowercase)
        .collect();
    words.len() == 5 && words[0] == "alter" && words[1] == "table" && words[3] == "add" && words[4] == "column"
}

/// The migrations of `list` not yet recorded as applied (all of them on an empty database).
pub fn pending(conn: &Connection, list: &[Migration]) -> rusqlite::Result<Vec<&'static str>> {
    let exists: bool = conn.query_row(
        "select exists (select 1 from sqlite_master where type = 'table' and name = '_sesame_migrations')",
        [],
        |r| r.get(0),
    )?;
    let done = if exists { applied_names(conn)? } else { Vec::new() };
    Ok(pending_of(list, &done).map(|m| m.name).collect())
}

fn applied_names(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut st = conn.prepare(r#"select "name" from "_sesame_migrations""#)?;
    let names = st.query_map([], |r| r.get(0))?.collect();
    names
}

/// Splits a migration file into statements: a statement ends with a `;` at the end of a line,
/// except inside `create trigger … begin … end;`, which ends at its `end;` line. Lines that are
/// `--` comments are dropped.
pub fn split_statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with("--") {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        let in_trigger = current.trim_start().to_ascii_lowercase().starts_with("create trigger");
        let ends = if in_trigger {
            trimmed.eq_ignore_ascii_case("end;")
        } else {
            trimmed.ends_with(';')
        };
        if ends {
            out.push(std::mem::take(&mut current).trim().to_string());
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sql::migrations::CORE;

    #[test]
    fn files_split_into_statements() {
        let core = split_statements(CORE[0].sqlite);
        assert_eq!(core.len(), 7);
        assert!(core[0].starts_with(r#"create table if not exists "user""#));
        let issuer = split_statements(CORE[1].sqlite);
        assert_eq!(issuer.len(), 3);
        assert!(is_add_column(&issuer[0]));
        assert!(issuer[1].starts_with("update") && issuer[1].ends_with("is null;"));
        let trigger = split_statements(CORE[2].sqlite);
        assert_eq!(trigger.len(), 2);
        assert!(trigger[1].starts_with("create trigger") && trigger[1].ends_with("end;"));
        assert!(trigger[1].contains("where \"id\" = new.\"id\";"));
        for m in crate::app::migrations() {
            for s in split_statements(m.sqlite) {
                assert!(s.ends_with(';'), "{}: {s}", m.name);
            }
        }
    }

    #[test]
    fn migrating_twice_applies_nothing_and_re_adding_a_column_is_skipped() {
        let mut conn = Connection::open_in_memory().unwrap();
        let all = crate::app::migrations();
        assert_eq!(pending(&conn, &all).unwrap().len(), all.len());
        assert_eq!(apply(&mut conn, &all).unwrap().len(), all.len());
        assert!(apply(&mut conn, &all).unwrap().is_empty());
        assert!(pending(&conn, &all).unwrap().is_empty());
        execute(&conn, r#"alter table "account" add column "issuer" text;"#).unwrap();
        assert!(execute(&conn, r#"alter table "account" add column "nope" text, x;"#).is_err());
    }
}
