//! Opening a SQLite connection with Sesame's settings, the reader pool's manager, and
//! [`SqliteSession`], the shared SQL layer's [`Conn`] on a connection or transaction.
//!
//! Every connection gets: a busy timeout (another connection or process holding the write
//! lock is waited for, not failed), `foreign_keys=ON` (SQLite's default is off, and Better
//! Auth's `on delete cascade` needs it), WAL journal mode (readers and the writer do not block
//! each other; the setting is stored in the file) and `synchronous=NORMAL`: in WAL mode a commit
//! then survives a crash of the process (the WAL is written before the commit returns), and the
//! database stays consistent after a power loss or OS crash, which may lose the transactions
//! committed since the last checkpoint. `FULL` would fsync on every commit.
//!
//! `:memory:` is an ephemeral database private to one connection, so an in-memory storage has
//! exactly one connection (the writer) and no reader pool.

use std::time::Duration;

use rusqlite::{params_from_iter, Connection, OpenFlags};

use crate::config::Config;
use crate::storage::sql::{Conn, Row, SqlResult, Value};

/// Connection and pool settings.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Reader connections (the writer is one more).
    pub readers: u32,
    /// How long a request waits for a reader connection before answering 503.
    pub checkout_timeout: Duration,
    /// How long a statement waits for a lock held by another connection or process.
    pub busy_timeout: Duration,
}

impl SqliteOptions {
    /// One reader per worker: a worker never waits for a reader.
    pub fn from_config(config: &Config) -> SqliteOptions {
        SqliteOptions {
            readers: u32::try_from(config.workers).unwrap_or(u32::MAX).max(1),
            checkout_timeout: Duration::from_secs(3),
            busy_timeout: Duration::from_secs(5),
        }
    }
}

impl Default for SqliteOptions {
    fn default() -> SqliteOptions {
        SqliteOptions {
            readers: 4,
            checkout_timeout: Duration::from_secs(3),
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// Opens connections to one database.
pub struct Manager {
    path: String,
    busy_timeout: Duration,
}

impl Manager {
    pub fn new(path: &str, options: &SqliteOptions) -> Manager {
        Manager {
            path: path.to_string(),
            busy_timeout: options.busy_timeout,
        }
    }

    pub fn is_memory(&self) -> bool {
        self.path == ":memory:"
    }

    /// A new connection with Sesame's settings. Opening a new file from several connections
    /// at once can meet SQLITE_BUSY while one of them switches the file to WAL — a moment in
    /// which SQLite does not call the busy handler — so a busy open is retried, bounded by the
    /// busy timeout.
    pub fn open(&self) -> rusqlite::Result<Connection> {
        let started = std::time::Instant::now();
        loop {
            match self.try_open() {
                Err(e) if is_busy(&e) && started.elapsed() < self.busy_timeout => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                other => return other,
            }
        }
    }

    fn try_open(&self) -> rusqlite::Result<Connection> {
        let conn = if self.is_memory() {
            Connection::open_in_memory()?
        } else {
            create_private(&self.path);
            // No URI interpretation: the path is a plain file name.
            let flags =
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            Connection::open_with_flags(&self.path, flags)?
        };
        // First, so that switching to WAL below waits for a concurrent opener.
        conn.busy_timeout(self.busy_timeout)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        if !self.is_memory() {
            let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                tracing::warn!("SQLite database {} is in journal mode {mode}, not WAL", self.path);
            }
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Creates a missing database file readable by its owner only: it holds password hashes and
/// session tokens, and SQLite gives its `-wal` and `-shm` files the database file's mode.
/// Best effort: if this fails, opening reports the real problem.
fn create_private(path: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
    }
    #[cfg(not(unix))]
    let _ = path;
}

impl r2d2::ManageConnection for Manager {
    type Connection = Connection;
    type Error = rusqlite::Error;

    fn connect(&self) -> rusqlite::Result<Connection> {
        self.open()
    }

    fn is_valid(&self, _conn: &mut Connection) -> rusqlite::Result<()> {
        Ok(())
    }

    /// A local file has no connection to lose.
    fn has_broken(&self, _conn: &mut Connection) -> bool {
        false
    }
}

/// A connection (or a transaction on it, which derefs to one) as the shared SQL layer's
/// [`Conn`]. Statements come from the connection's statement cache.
pub struct SqliteSession<'c>(pub &'c Connection);

impl Conn for SqliteSession<'_> {
    fn query(
        &mut self,
        sql: &'static str,
        params: &[Value<'_>],
        each: &mut dyn FnMut(&dyn Row) -> SqlResult<()>,
    ) -> SqlResult<()> {
        let mut st = self.0.prepare_cached(sql)?;
        let mut rows = st.query(params_from_iter(params))?;
        // Stepped to the end (SQLITE_DONE), not only to the first row: a write with RETURNING
        // does its work as it steps, and a failure there must surface.
        while let Some(row) = rows.next()? {
            each(row)?;
        }
        Ok(())
    }

    fn execute(&mut self, sql: &'static str, params: &[Value<'_>]) -> SqlResult<u64> {
        let n = self.0.prepare_cached(sql)?.execute(params_from_iter(params))?;
        Ok(n as u64)
    }
}
