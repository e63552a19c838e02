//! Everything a request could have changed, for "a refused request changes nothing": every
//! row of every table (read from the database itself, whatever Sesame's own queries would
//! show) plus every email the outbox delivered. Memory storage has no table view of its own;
//! there the snapshot is the outbox alone, and the callers' storage queries do the rest.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Backend, TestApp};

/// Tables, each a sorted list of its rows as JSON text; then the delivered mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbSnapshot {
    pub tables: BTreeMap<String, Vec<String>>,
    pub mail: Vec<String>,
}

/// Bookkeeping, not data: the applied-migrations list.
const SKIPPED: &[&str] = &["_sesame_migrations"];

impl TestApp {
    /// Every row of every table and every email delivered so far (the outbox drained first).
    pub fn db_snapshot(&self) -> DbSnapshot {
        let mail = self
            .delivered()
            .iter()
            .map(|m| format!("{} {} {}", m.kind.as_str(), m.to, m.token))
            .collect();
        let tables = match self.backend {
            Backend::Memory => BTreeMap::new(),
            Backend::Sqlite => sqlite_tables(self),
            Backend::Postgres => postgres_tables(self),
        };
        DbSnapshot { tables, mail }
    }
}

fn sqlite_tables(t: &TestApp) -> BTreeMap<String, Vec<String>> {
    let file = t.sqlite.as_ref().expect("a SQLite test app has its file");
    let db = rusqlite::Connection::open_with_flags(&file.path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open the test database");
    let names: Vec<String> = db
        .prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .filter(|n: &String| !SKIPPED.contains(&n.as_str()))
        .collect();
    assert!(names.iter().any(|n| n == "user"), "{names:?}");
    names
        .into_iter()
        .map(|name| {
            let mut stmt = db.prepare(&format!("select * from \"{name}\"")).unwrap();
            let columns = stmt.column_count();
            let mut rows: Vec<String> = stmt
                .query_map([], |r| {
                    let cells: Vec<Value> = (0..columns)
                        .map(|i| match r.get_ref(i).unwrap() {
                            rusqlite::types::ValueRef::Null => Value::Null,
                            rusqlite::types::ValueRef::Integer(n) => Value::from(n),
                            rusqlite::types::ValueRef::Real(x) => Value::from(x),
                            rusqlite::types::ValueRef::Text(s) => Value::from(String::from_utf8_lossy(s).into_owned()),
                            rusqlite::types::ValueRef::Blob(b) => Value::from(format!("{b:?}")),
                        })
                        .collect();
                    Ok(Value::Array(cells).to_string())
                })
                .unwrap()
                .map(Result::unwrap)
                .collect();
            rows.sort();
            (name, rows)
        })
        .collect()
}

fn postgres_tables(t: &TestApp) -> BTreeMap<String, Vec<String>> {
    let schema = t.pg.as_ref().expect("a PostgreSQL test app has its schema");
    let mut db = schema.client();
    let names: Vec<String> = db
        .query(
            "select table_name::text from information_schema.tables where table_schema = $1",
            &[&schema.name],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .filter(|n: &String| !SKIPPED.contains(&n.as_str()))
        .collect();
    assert!(names.iter().any(|n| n == "user"), "{names:?}");
    names
        .into_iter()
        .map(|name| {
            let mut rows: Vec<String> = db
                .query(&format!("select row_to_json(x)::text from \"{name}\" x"), &[])
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            rows.sort();
            (name, rows)
        })
        .collect()
}
