//! The SQL layer both databases share: every table's columns, every statement (built once per
//! [`Dialect`]), every row mapper and every store method are written here once, and
//! PostgreSQL (`storage/postgres/`) and SQLite (`storage/sqlite/`) run them.
//!
//! A backend implements [`Backend`]: how a statement reaches the database ([`Conn`], with
//! PostgreSQL's per-connection prepared statements and SQLite's statement cache), how a read, a
//! write and a transaction get a connection (the pool; SQLite's single writer and
//! `BEGIN IMMEDIATE`), and the one mapping of driver errors to [`StorageError`](super::StorageError). Everything
//! else — which statement a store method runs and how its rows become models — is in the
//! per-table files here, and every [`Backend`] gets the storage traits from them.
//!
//! Values cross the driver boundary as [`Value`]s (each backend binds them: dates are
//! `timestamptz` on PostgreSQL and Better Auth's ISO-8601 text on SQLite) and come back
//! through the [`Row`] trait. Adding a column to a table is a change to that table's file
//! here (its column list, reader and values) plus a migration per dialect.
//!
//! Statements differ between the dialects only in their placeholders (`$1` / `?1`) and in
//! [`Dialect::key`]: SQLite needs `cast(?1 as text)` for the key of a join lookup.

mod accounts;
mod admin;
mod claim;
pub mod copy;
mod jwks;
mod mail_queue;
pub mod migrations;
mod one_time_code;
mod rate_limit;
mod row;
mod sessions;
mod two_factor;
mod users;
mod verifications;

use std::sync::LazyLock;

pub use migrations::Migration;
pub use row::{Cols, Row, Value};

use super::StorageResult;

/// The SQL spelling a backend speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

impl Dialect {
    /// Rewrites a statement written with PostgreSQL's `$n` placeholders for this dialect
    /// (SQLite: `?n`). Statements are written once, PostgreSQL style.
    pub fn render(self, sql: &str) -> String {
        match self {
            Dialect::Postgres => sql.to_string(),
            Dialect::Sqlite => {
                let mut out = String::with_capacity(sql.len());
                let mut chars = sql.chars().peekable();
                while let Some(c) = chars.next() {
                    if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
                        out.push('?');
                    } else {
                        out.push(c);
                    }
                }
                out
            }
        }
    }

    /// Parameter `n` as the text key of a join lookup (`where s."token" = {key}`), written
    /// PostgreSQL style. On SQLite it is `cast($n as text)`: SQLite's constant propagation
    /// through a join otherwise marks a bare parameter as plan-relevant, so every execution
    /// with a new value would re-prepare the statement (measured: 32k instead of 250k
    /// lookups per second on one thread). The cast keeps the unique index.
    pub fn key(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            Dialect::Sqlite => format!("cast(${n} as text)"),
        }
    }
}

/// A failure inside a statement or while mapping its rows: the driver's own error, boxed so
/// this layer does not depend on either driver. Each backend maps it (by downcasting to its
/// driver's error) in one place.
pub struct SqlError(Box<dyn std::error::Error + Send + Sync + 'static>);

pub type SqlResult<T> = Result<T, SqlError>;

impl SqlError {
    /// An error raised by this layer itself (a value a column cannot hold).
    pub fn msg(message: impl Into<String>) -> SqlError {
        SqlError(message.into().into())
    }

    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.0.downcast_ref::<E>()
    }

    pub fn into_anyhow(self) -> anyhow::Error {
        anyhow::Error::from_boxed(self.0)
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for SqlError {
    fn from(err: E) -> SqlError {
        SqlError(Box::new(err))
    }
}

impl std::fmt::Debug for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.0, f)
    }
}

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

/// One connection (or open transaction) as the shared code sees it.
pub trait Conn {
    /// Runs a statement and hands each result row to `each`, stepping the statement to its
    /// end: a write with `RETURNING` whose work fails after the first row reports the failure
    /// instead of looking like success.
    fn query(
        &mut self,
        sql: &'static str,
        params: &[Value<'_>],
        each: &mut dyn FnMut(&dyn Row) -> SqlResult<()>,
    ) -> SqlResult<()>;

    /// Runs a statement that returns no rows; the number of rows it changed.
    fn execute(&mut self, sql: &'static str, params: &[Value<'_>]) -> SqlResult<u64>;
}

impl dyn Conn + '_ {
    /// The first row, mapped (`None` if there is none).
    pub fn first<T>(
        &mut self,
        sql: &'static str,
        params: &[Value<'_>],
        map: impl Fn(&mut Cols<'_>) -> SqlResult<T>,
    ) -> SqlResult<Option<T>> {
        let mut out = None;
        self.query(sql, params, &mut |row| {
            if out.is_none() {
                out = Some(map(&mut Cols::new(row))?);
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Every row, mapped, in the statement's order.
    pub fn all<T>(
        &mut self,
        sql: &'static str,
        params: &[Value<'_>],
        map: impl Fn(&mut Cols<'_>) -> SqlResult<T>,
    ) -> SqlResult<Vec<T>> {
        let mut out = Vec::new();
        self.query(sql, params, &mut |row| {
            out.push(map(&mut Cols::new(row))?);
            Ok(())
        })?;
        Ok(out)
    }
}

/// What a SQL database provides to the shared store code. Every closure may run more than
/// once (SQLite retries a write that found the database locked by another process); a failed
/// run has rolled back.
pub trait Backend: Send + Sync {
    /// This backend's statements (built once per dialect).
    fn sql(&self) -> &'static Statements;
    /// When to sweep the `"rateLimit"` table, and its cap (`storage/rate_limit.rs`).
    fn rate_limit_upkeep(&self) -> &crate::storage::rate_limit::RateLimitUpkeep;
    /// Runs reads on a connection (SQLite: a reader of the pool, which never waits for the
    /// writer).
    fn read<T>(&self, f: impl Fn(&mut dyn Conn) -> SqlResult<T>) -> StorageResult<T>;
    /// Runs one statement that writes.
    fn write<T>(&self, f: impl Fn(&mut dyn Conn) -> SqlResult<T>) -> StorageResult<T>;
    /// Runs several statements in one transaction, committed when `f` returns `Ok`.
    fn transaction<T>(&self, f: impl Fn(&mut dyn Conn) -> SqlResult<T>) -> StorageResult<T>;
    /// A short name for logs (`postgres`, `sqlite`).
    fn name(&self) -> &'static str;
    /// Whether every pooled connection is taken right now, so one more caller would wait.
    fn pool_exhausted(&self) -> bool {
        false
    }
    /// The session cache, when this backend keeps one (PostgreSQL). Every store method that
    /// changes a session or user row evicts it here after writing ([`forget_user`],
    /// [`forget_session`]): the database's notification would too, a moment later.
    fn session_cache(&self) -> Option<&crate::storage::session_cache::SessionCache> {
        None
    }
}

/// Evicts a user (and so every session of the user) from the backend's session cache.
pub(super) fn forget_user<B: Backend + ?Sized>(backend: &B, id: &str) {
    if let Some(cache) = backend.session_cache() {
        cache.forget_user(id);
    }
}

/// Evicts one session from the backend's session cache.
pub(super) fn forget_session<B: Backend + ?Sized>(backend: &B, token: &str) {
    if let Some(cache) = backend.session_cache() {
        cache.forget_session(token);
    }
}

/// Every statement the shared code runs, in one dialect.
pub struct Statements {
    pub dialect: Dialect,
    pub users: users::UserSql,
    pub sessions: sessions::SessionSql,
    pub accounts: accounts::AccountSql,
    pub verifications: verifications::VerificationSql,
    pub jwks: jwks::JwksSql,
    pub rate_limit: rate_limit::RateLimitSql,
    pub claim: claim::ClaimSql,
    pub two_factor: two_factor::TwoFactorSql,
    pub mail_queue: mail_queue::MailQueueSql,
    pub codes: one_time_code::CodeSql,
}

impl Statements {
    fn new(d: Dialect) -> Statements {
        Statements {
            dialect: d,
            users: users::UserSql::new(d),
            sessions: sessions::SessionSql::new(d),
            accounts: accounts::AccountSql::new(d),
            verifications: verifications::VerificationSql::new(d),
            jwks: jwks::JwksSql::new(d),
            rate_limit: rate_limit::RateLimitSql::new(d),
            claim: claim::ClaimSql::new(d),
            two_factor: two_factor::TwoFactorSql::new(d),
            mail_queue: mail_queue::MailQueueSql::new(d),
            codes: one_time_code::CodeSql::new(d),
        }
    }

    /// The statements of a dialect, built on first use and kept for the life of the process
    /// (their text keys PostgreSQL's prepared statements and SQLite's statement cache).
    pub fn of(d: Dialect) -> &'static Statements {
        static POSTGRES: LazyLock<Statements> = LazyLock::new(|| Statements::new(Dialect::Postgres));
        static SQLITE: LazyLock<Statements> = LazyLock::new(|| Statements::new(Dialect::Sqlite));
        match d {
            Dialect::Postgres => &POSTGRES,
            Dialect::Sqlite => &SQLITE,
        }
    }
}

/// `"a", "b"` (or `t."a", t."b"` with a table alias).
fn columns(alias: &str, cols: &[&str]) -> String {
    cols.iter()
        .map(|c| {
            if alias.is_empty() {
                format!("\"{c}\"")
            } else {
                format!("{alias}.\"{c}\"")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `insert into "table" (…) values ($1, …)` for every column, in a dialect.
fn insert(d: Dialect, table: &str, cols: &[&str]) -> String {
    let params: Vec<String> = (1..=cols.len()).map(|n| format!("${n}")).collect();
    d.render(&format!(
        r#"insert into "{table}" ({}) values ({})"#,
        columns("", cols),
        params.join(", ")
    ))
}

/// `select <cols> from "table" <rest>`, in a dialect.
fn select(d: Dialect, cols: &[&str], table: &str, rest: &str) -> String {
    d.render(&format!(r#"select {} from "{table}" {rest}"#, columns("", cols)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_written_once_and_rendered_per_dialect() {
        assert_eq!(
            Dialect::Sqlite.render(r#"select 1 where "a" = $1 and "b" = $12 and '$x' = $"#),
            r#"select 1 where "a" = ?1 and "b" = ?12 and '$x' = $"#
        );
        assert_eq!(
            Dialect::Sqlite.render(&format!("where x = {}", Dialect::Sqlite.key(1))),
            "where x = cast(?1 as text)"
        );
        assert_eq!(Dialect::Postgres.key(2), "$2");
        assert_eq!(
            insert(Dialect::Sqlite, "t", &["a", "b"]),
            r#"insert into "t" ("a", "b") values (?1, ?2)"#
        );
        assert_eq!(columns("u", &["id", "name"]), r#"u."id", u."name""#);
    }

    /// A row of any width whose every column holds a plausible value.
    struct AnyRow;

    impl Row for AnyRow {
        fn text(&self, _: usize) -> SqlResult<String> {
            Ok(String::new())
        }
        fn opt_text(&self, _: usize) -> SqlResult<Option<String>> {
            Ok(None)
        }
        fn boolean(&self, _: usize) -> SqlResult<bool> {
            Ok(false)
        }
        fn int(&self, _: usize) -> SqlResult<i64> {
            Ok(0)
        }
        fn date(&self, _: usize) -> SqlResult<time::OffsetDateTime> {
            Ok(time::OffsetDateTime::UNIX_EPOCH)
        }
        fn opt_date(&self, _: usize) -> SqlResult<Option<time::OffsetDateTime>> {
            Ok(None)
        }
        fn is_null(&self, _: usize) -> SqlResult<bool> {
            Ok(false)
        }
    }

    /// Each table's reader reads exactly its listed columns (the writer's arity is checked by
    /// the compiler), so a join can map its tables one after the other.
    #[test]
    fn every_reader_reads_exactly_its_columns() {
        fn width<T>(read: fn(&mut Cols<'_>) -> SqlResult<T>) -> usize {
            let mut c = Cols::new(&AnyRow);
            read(&mut c).unwrap();
            c.read()
        }
        assert_eq!(width(users::read), users::COLUMNS.len());
        assert_eq!(width(sessions::read), sessions::COLUMNS.len());
        assert_eq!(width(accounts::read), accounts::COLUMNS.len());
        assert_eq!(width(verifications::read), verifications::COLUMNS.len());
        assert_eq!(width(jwks::read), jwks::COLUMNS.len());
        assert_eq!(width(two_factor::read), two_factor::COLUMNS.len());
        assert_eq!(width(mail_queue::read), mail_queue::COLUMNS.len());
    }

    #[test]
    fn the_join_lookups_keep_the_sqlite_cast() {
        let sqlite = Statements::of(Dialect::Sqlite);
        assert!(sqlite
            .sessions
            .with_user
            .ends_with(r#"where s."token" = cast(?1 as text)"#));
        assert!(sqlite
            .users
            .with_credential_by_email
            .ends_with(r#"where u."email" = cast(?1 as text)"#));
        let pg = Statements::of(Dialect::Postgres);
        assert!(pg.sessions.with_user.ends_with(r#"where s."token" = $1"#));
        assert!(!pg.users.update.contains('?'));
    }
}
