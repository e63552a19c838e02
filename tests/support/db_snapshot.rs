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
        Snapshotter::new(self).take(self)
    }
}

/// Takes snapshot after snapshot over one database connection (for the battery, which takes
/// one per request).
pub enum Snapshotter {
    Memory,
    Sqlite(rusqlite::Connection),
    /// The client and one query reading every table (as JSON arrays of rows, in table order).
    Postgres(Box<postgres::Client>, Vec<String>, String),
}

impl Snapshotter {
    pub fn new(t: &TestApp) -> Snapshotter {
        match t.backend {
            Backend::Memory => Snapshotter::Memory,
            Backend::Sqlite => {
                let file = t.sqlite.as_ref().expect("a SQLite test app has its file");
                Snapshotter::Sqlite(
                    rusqlite::Connection::open_with_flags(&file.path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                        .expect("open the test database"),
                )
            }
            Backend::Postgres => {
                let schema = t.pg.as_ref().expect("a PostgreSQL test app has its schema");
                let mut db = schema.client();
                let names = postgres_tables(&mut db, &schema.name);
                // One round trip per snapshot: each table as a sorted JSON array of its rows.
                let query = format!(
                    "select {}",
                    names
                        .iter()
                        .map(|n| format!(
                            "(select coalesce(json_agg(r order by r::text), '[]')::text from (select row_to_json(x)::text as r from \"{n}\" x) s)"
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                Snapshotter::Postgres(Box::new(db), names, query)
            }
        }
    }

    pub fn take(&mut self, t: &TestApp) -> DbSnapshot {
        let mail = t
            .delivered()
            .iter()
            .map(|m| format!("{} {} {}", m.kind.as_str(), m.to, m.token))
            .collect();
        let tables = match self {
            Snapshotter::Memory => BTreeMap::new(),
            Snapshotter::Sqlite(db) => sqlite_tables(db),
            Snapshotter::Postgres(db, names, query) => {
                let row = db.query_one(query.as_str(), &[]).unwrap();
                names
                    .iter()
                    .enumerate()
                    .map(|(i, name)| {
                        let rows: Vec<String> = serde_json::from_str(&row.get::<_, String>(i)).unwrap();
                        (name.clone(), rows)
                    })
                    .collect()
            }
        };
        DbSnapshot { tables, mail }
    }
}

fn sqlite_tables(db: &rusqlite::Connection) -> BTreeMap<String, Vec<String>> {
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

/// The schema's tables (but bookkeeping).
fn postgres_tables(db: &mut postgres::Client, schema: &str) -> Vec<String> {
    let names: Vec<String> = db
        .query(
            "select table_name::text from information_schema.tables where table_schema = $1 order by 1",
            &[&schema],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .filter(|n: &String| !SKIPPED.contains(&n.as_str()))
        .collect();
    assert!(names.iter().any(|n| n == "user"), "{names:?}");
    names
}
