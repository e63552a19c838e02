//! SQLite storage: [`SqliteStorage`] over one database file (or an ephemeral in-memory one),
//! the default for a small self-hosted deployment.
//!
//! This module owns opening the database (connection settings in `conn.rs`), how requests get a
//! connection, and the one mapping from driver errors to [`StorageError`].
//!
//! Concurrency: every write goes through one writer connection behind a mutex, reads through a
//! small pool of reader connections. In WAL mode readers never wait for the writer, and the
//! in-process mutex queues writers without SQLite's busy-handler sleeps. Measured against a pool
//! whose connections all write (2 cores, 32 threads each signing users up): 10-25% more writes
//! per second, and a worst-case write of 0.3-0.9 s instead of 2.4-2.9 s, which comes close to
//! the busy timeout and so to spurious 503s; equal at low contention. Another process writing the
//! same file (a second Sesame, `sesame migrate`, a backup) is waited for by SQLite's busy timeout;
//! a write that still finds the database locked is retried a few times with a growing pause,
//! and then answered with 503 `DATABASE_UNAVAILABLE`, never a raw "database is locked".
//! Writes of several rows run in one `BEGIN IMMEDIATE` transaction, which takes the write lock
//! up front, so two writers never deadlock upgrading a read lock.
//!
//! The statements, row mappers and store methods are the shared SQL layer's (`storage/sql/`);
//! values are stored as Better Auth's SQLite adapter writes them: booleans as 0/1, dates as
//! ISO-8601 text (`2026-11-26T19:42:01.429Z`, [`crate::clock::iso`]); see `row.rs`.

mod conn;
mod migrate;
mod row;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use rusqlite::{Connection, ErrorCode};

pub use conn::SqliteOptions;
use conn::SqliteSession;
pub use migrate::split_statements;
use rusqlite::TransactionBehavior;

use super::snapshot::Snapshot;
use super::sql::{Backend, Conn, Dialect, Migration, SqlError, SqlResult, Statements};
use super::{Storage, StorageError, StorageResult};
use crate::config::Config;

/// Attempts of a write that found the database locked by another process beyond the busy
/// timeout; the pause doubles from [`RETRY_PAUSE`].
const WRITE_ATTEMPTS: u32 = 3;
const RETRY_PAUSE: Duration = Duration::from_millis(50);

pub struct SqliteStorage {
    /// `None` for an in-memory database, whose only connection is the writer.
    readers: Option<r2d2::Pool<conn::Manager>>,
    writer: Mutex<Connection>,
    path: String,
    sql: &'static Statements,
    /// Sweeping and capping of the `"rateLimit"` table.
    rate_limit: crate::storage::rate_limit::RateLimitUpkeep,
    counters: super::Counters,
}

impl SqliteStorage {
    /// Opens (creating if missing) the database at `path` (`:memory:` for an ephemeral one)
    /// without migrating it.
    pub fn open(path: &str, options: &SqliteOptions) -> anyhow::Result<SqliteStorage> {
        let manager = conn::Manager::new(path, options);
        let writer = manager
            .open()
            .with_context(|| format!("opening the SQLite database {path}"))?;
        let readers = if manager.is_memory() {
            None
        } else {
            Some(
                r2d2::Pool::builder()
                    .max_size(options.readers.max(1))
                    .min_idle(Some(0))
                    .connection_timeout(options.checkout_timeout)
                    // A SQLite connection has nothing to time out; keeping it keeps its
                    // statement cache warm.
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .test_on_check_out(false)
                    .build_unchecked(manager),
            )
        };
        Ok(SqliteStorage {
            readers,
            writer: Mutex::new(writer),
            path: path.to_string(),
            sql: Statements::of(Dialect::Sqlite),
            rate_limit: Default::default(),
            counters: super::Counters::default(),
        })
    }

    /// Opens as `sesame serve` does, applying the pending ones of `migrations` when
    /// `SESAME_AUTO_MIGRATE` is on (and warning about them otherwise).
    pub fn connect(path: &str, config: &Config, migrations: &[Migration]) -> anyhow::Result<SqliteStorage> {
        let storage = SqliteStorage::open(path, &SqliteOptions::from_config(config))?;
        if config.auto_migrate {
            storage.migrate(migrations)?;
        } else {
            let pending = storage.pending_migrations(migrations)?;
            if !pending.is_empty() {
                tracing::warn!(
                    "{} migration(s) pending and SESAME_AUTO_MIGRATE=false: run `sesame migrate` ({})",
                    pending.len(),
                    pending.join(", ")
                );
            }
        }
        Ok(storage)
    }

    /// The database path, for log lines.
    pub fn target(&self) -> &str {
        &self.path
    }

    /// Applies the pending ones of `migrations`; returns the names applied.
    pub fn migrate(&self, migrations: &[Migration]) -> anyhow::Result<Vec<&'static str>> {
        let mut conn = self.lock_writer();
        let applied = migrate::apply(&mut conn, migrations).context("applying migrations")?;
        if !applied.is_empty() {
            tracing::info!("applied migrations: {}", applied.join(", "));
        }
        Ok(applied)
    }

    /// The ones of `migrations` not yet applied to this database.
    pub fn pending_migrations(&self, migrations: &[Migration]) -> anyhow::Result<Vec<&'static str>> {
        Ok(migrate::pending(&self.lock_writer(), migrations)?)
    }

    /// Every row Sesame knows (`sesame copy-to`), read in one transaction.
    pub fn snapshot(&self) -> StorageResult<Snapshot> {
        super::sql::copy::snapshot(self)
    }

    fn lock_writer(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the writer leaves no transaction open (rusqlite rolls back on
        // drop), so a poisoned lock is safe to keep using.
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Backend for SqliteStorage {
    fn sql(&self) -> &'static Statements {
        self.sql
    }

    fn rate_limit_upkeep(&self) -> &crate::storage::rate_limit::RateLimitUpkeep {
        &self.rate_limit
    }

    /// On a reader connection (the writer for an in-memory database).
    fn read<T>(&self, f: impl Fn(&mut dyn Conn) -> SqlResult<T>) -> StorageResult<T> {
        let result = match &self.readers {
            Some(pool) => {
                let waiting = self.counters.waiting();
                let conn = pool.get();
                drop(waiting);
                match conn {
                    Ok(conn) => with_retries(|| f(&mut SqliteSession(&conn))),
                    Err(e) => Err(StorageError::Unavailable(anyhow::anyhow!("no SQLite connection: {e}"))),
                }
            }
            None => with_retries(|| f(&mut SqliteSession(&self.lock_writer()))),
        };
        result.map_err(|e| self.counters.count(e))
    }

    /// On the writer connection.
    fn write<T>(&self, f: impl Fn(&mut dyn Conn) -> SqlResult<T>) -> StorageResult<T> {
        let waiting = self.counters.waiting();
        let conn = self.lock_writer();
        drop(waiting);
        with_retries(|| f(&mut SqliteSession(&conn))).map_err(|e| self.counters.count(e))
    }

    /// `BEGIN IMMEDIATE` on the writer: the write lock is taken up front, so two writers never
    /// deadlock upgrading a read lock. Rolled back on drop if `f` fails.
    fn transaction<T>(&self, f: impl Fn(&mut dyn Conn) -> SqlResult<T>) -> StorageResult<T> {
        let mut conn = self.lock_writer();
        with_retries(|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&mut SqliteSession(&tx))?;
            tx.commit()?;
            Ok(out)
        })
    }

    fn name(&self) -> &'static str {
        "sqlite"
    }
}

/// Runs `f`, again after a pause while SQLite reports the database busy or locked (each
/// attempt has already waited out the busy timeout, or failed a snapshot upgrade that a fresh
/// attempt does not repeat). A failed attempt has rolled back: transactions roll back on drop.
fn with_retries<T>(mut f: impl FnMut() -> SqlResult<T>) -> StorageResult<T> {
    let mut pause = RETRY_PAUSE;
    let mut attempt = 1;
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if is_busy(&e) && attempt < WRITE_ATTEMPTS => {
                std::thread::sleep(pause);
                pause *= 2;
                attempt += 1;
            }
            Err(e) => return Err(map_error(e)),
        }
    }
}

fn is_busy(err: &SqlError) -> bool {
    matches!(
        err.downcast_ref::<rusqlite::Error>()
            .and_then(rusqlite::Error::sqlite_error_code),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// The one mapping from driver errors to storage errors.
fn map_error(err: SqlError) -> StorageError {
    if is_busy(&err) {
        return StorageError::Unavailable(err.into_anyhow().context("the SQLite database stayed locked"));
    }
    let Some(sqlite) = err.downcast_ref::<rusqlite::Error>() else {
        return StorageError::Other(err.into_anyhow());
    };
    if let rusqlite::Error::SqliteFailure(e, Some(msg)) = sqlite {
        let unique = e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY;
        if unique {
            if let Some(columns) = msg.strip_prefix("UNIQUE constraint failed: ") {
                return StorageError::Conflict(conflict_name(columns));
            }
        }
    }
    if matches!(
        sqlite.sqlite_error_code(),
        Some(ErrorCode::CannotOpen | ErrorCode::DiskFull | ErrorCode::SystemIoFailure | ErrorCode::ReadOnly)
    ) {
        return StorageError::Unavailable(err.into_anyhow());
    }
    StorageError::Other(err.into_anyhow())
}

/// The conflict name for SQLite's list of the unique columns (`account.issuer,
/// account.accountId`), as the other backends name it.
fn conflict_name(columns: &str) -> &'static str {
    let first = columns.split(',').next().unwrap_or_default().trim();
    match first.split_once('.') {
        Some(("user", "username")) => "user.username",
        Some(("user", _)) => "user.email",
        Some(("account", _)) => "account",
        Some(("session", _)) => "session.token",
        Some(("jwks", _)) => "jwks.id",
        _ => "unique",
    }
}

impl Storage for SqliteStorage {
    fn health_check(&self, migrations: &[super::sql::Migration]) -> StorageResult<Vec<&'static str>> {
        self.pending_migrations(migrations)
            .map_err(|e| self.counters.count(StorageError::Unavailable(e)))
    }

    /// The pool is the readers'; the single writer connection is not in it.
    fn stats(&self) -> crate::metrics::StorageStats {
        let max = self.readers.as_ref().map_or(0, |p| p.max_size());
        self.counters.stats(self.readers.as_ref().map(|p| p.state()), max)
    }

    fn kind(&self) -> &'static str {
        "sqlite"
    }

    fn rate_limit_store(self: std::sync::Arc<Self>) -> Option<std::sync::Arc<dyn super::rate_limit::RateLimitStore>> {
        Some(self)
    }

    fn mail_queue(self: std::sync::Arc<Self>) -> Option<std::sync::Arc<dyn super::mail_queue::MailQueueStore>> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_columns_name_the_conflict() {
        assert_eq!(conflict_name("user.email"), "user.email");
        assert_eq!(conflict_name("user.id"), "user.email");
        assert_eq!(conflict_name("user.username"), "user.username");
        assert_eq!(conflict_name("account.issuer, account.accountId"), "account");
        assert_eq!(conflict_name("session.token"), "session.token");
        assert_eq!(conflict_name("jwks.id"), "jwks.id");
        assert_eq!(conflict_name("other.x"), "unique");
    }
}
