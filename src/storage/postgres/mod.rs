//! PostgreSQL storage: [`PgStorage`] over an r2d2 pool of synchronous `postgres` clients.
//!
//! This module owns connecting (with a bounded wait for a database that is still starting),
//! the pool's sizing and timeouts, transactions, and the one mapping from driver errors to
//! [`StorageError`]: a unique violation is a `Conflict`, anything that means "the server
//! cannot be reached" (no connection within the checkout timeout, a dropped socket, an
//! administrator shutdown) is `Unavailable` (503, retried by clients), the rest `Other`.
//! The statements, row mappers and store methods are the shared SQL layer's
//! (`storage/sql/`); `pool.rs` runs them as prepared statements, `row.rs` binds and reads
//! values, `migrate.rs` applies migrations. Every table name is quoted (`"user"` is a
//! reserved word).

mod listen;
mod migrate;
mod pool;
mod row;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use postgres::error::SqlState;

use pool::{Manager, PgConn, PgSession};

use super::session_cache::{CacheLimits, SessionCache};
use super::snapshot::Snapshot;
use super::sql::{Backend, Conn, Dialect, Migration, SqlError, SqlResult, Statements};
use super::{Storage, StorageError, StorageResult};
use crate::config::Config;

/// Pool and connection settings.
#[derive(Debug, Clone)]
pub struct PgOptions {
    pub pool_size: u32,
    /// How long a request waits for a pooled connection before answering 503.
    pub checkout_timeout: Duration,
    /// TCP connect timeout of each new connection (unless the URL sets `connect_timeout`).
    pub connect_timeout: Duration,
    /// The session cache's bounds; `None`: no cache (`SESAME_SESSION_CACHE=false`, or a
    /// one-shot command).
    pub session_cache: Option<CacheLimits>,
}

impl PgOptions {
    /// One connection per worker plus a small margin, unless `SESAME_POSTGRES_POOL_SIZE` says.
    pub fn from_config(config: &Config) -> PgOptions {
        let default_size = u32::try_from(config.workers).unwrap_or(u32::MAX).saturating_add(2);
        PgOptions {
            pool_size: config.pool_size.unwrap_or(default_size).max(1),
            checkout_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(3),
            session_cache: config.session_cache,
        }
    }
}

pub struct PgStorage {
    pool: r2d2::Pool<Manager>,
    config: postgres::Config,
    sql: &'static Statements,
    /// Sweeping and capping of the `"rateLimit"` table.
    rate_limit: crate::storage::rate_limit::RateLimitUpkeep,
    counters: super::Counters,
    /// Sessions and users resolved recently, evicted by the database's notifications.
    session_cache: Option<Arc<SessionCache>>,
}

impl Drop for PgStorage {
    fn drop(&mut self) {
        if let Some(cache) = &self.session_cache {
            cache.stop();
        }
    }
}

impl PgStorage {
    /// Builds the pool without waiting for the server; connections are opened in the
    /// background and on demand.
    pub fn new(url: &str, options: &PgOptions) -> anyhow::Result<PgStorage> {
        // The parse error never contains the URL, so it cannot leak the password.
        let mut config: postgres::Config = url.parse().context("DATABASE_URL is not a valid PostgreSQL URL")?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.connect_timeout);
        }
        config.keepalives_idle(Duration::from_secs(30));
        if config.get_application_name().is_none() {
            config.application_name("sesame");
        }
        let pool = r2d2::Pool::builder()
            .max_size(options.pool_size)
            .connection_timeout(options.checkout_timeout)
            .test_on_check_out(true)
            .build_unchecked(Manager::new(config.clone()));
        let session_cache = match options.session_cache {
            Some(limits) => {
                let cache = Arc::new(SessionCache::new(limits));
                listen::spawn(config.clone(), &cache).context("starting the session cache's listener")?;
                Some(cache)
            }
            None => None,
        };
        Ok(PgStorage {
            pool,
            config,
            sql: Statements::of(Dialect::Postgres),
            rate_limit: Default::default(),
            counters: super::Counters::default(),
            session_cache,
        })
    }

    /// The session cache, when it is on (for tests and the metrics).
    pub fn session_cache(&self) -> Option<&SessionCache> {
        self.session_cache.as_deref()
    }

    /// Connects as `sesame serve` does: builds the pool, waits (bounded by
    /// `SESAME_POSTGRES_STARTUP_TIMEOUT`) for the server to answer, and applies the pending
    /// ones of `migrations` when `SESAME_AUTO_MIGRATE` is on.
    pub fn connect(url: &str, config: &Config, migrations: &[Migration]) -> anyhow::Result<PgStorage> {
        let storage = PgStorage::new(url, &PgOptions::from_config(config))?;
        storage.wait_until_reachable(Duration::from_secs(config.postgres_startup_timeout))?;
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

    /// `host:port/database`, for log lines (never the user or password).
    pub fn target(&self) -> String {
        let host = match self.config.get_hosts().first() {
            Some(postgres::config::Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => "localhost".to_string(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        let db = self.config.get_dbname().or(self.config.get_user()).unwrap_or_default();
        format!("{host}:{port}/{db}")
    }

    /// Retries a connection until the server answers or `timeout` has passed.
    pub fn wait_until_reachable(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let mut warned = false;
        loop {
            let err = match self.config.connect(postgres::NoTls) {
                Ok(client) => {
                    if warned {
                        tracing::info!("PostgreSQL at {} is reachable", self.target());
                    }
                    drop(client);
                    return Ok(());
                }
                Err(e) => anyhow::Error::from(e),
            };
            let now = Instant::now();
            if now >= deadline {
                anyhow::bail!(
                    "PostgreSQL at {} did not answer within {}s (SESAME_POSTGRES_STARTUP_TIMEOUT): {err:#}",
                    self.target(),
                    timeout.as_secs()
                );
            }
            if !warned {
                tracing::warn!(
                    "PostgreSQL at {} is not reachable ({err:#}); retrying for up to {}s",
                    self.target(),
                    timeout.as_secs()
                );
                warned = true;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(500)));
        }
    }

    /// Applies the pending ones of `migrations` under an advisory lock; returns the names
    /// applied.
    pub fn migrate(&self, migrations: &[Migration]) -> anyhow::Result<Vec<&'static str>> {
        let mut conn = self.pool.get().context("no PostgreSQL connection for migrating")?;
        let applied = migrate::apply(&mut conn.client, migrations).context("applying migrations")?;
        if !applied.is_empty() {
            tracing::info!("applied migrations: {}", applied.join(", "));
        }
        Ok(applied)
    }

    /// The ones of `migrations` not yet applied to this database.
    pub fn pending_migrations(&self, migrations: &[Migration]) -> anyhow::Result<Vec<&'static str>> {
        let mut conn = self.pool.get().context("no PostgreSQL connection")?;
        Ok(migrate::pending(&mut conn.client, migrations)?)
    }

    /// Inserts every row of a snapshot (`sesame copy-to`) into this empty, migrated database,
    /// in one transaction.
    pub fn load(&self, snapshot: &Snapshot) -> anyhow::Result<()> {
        Ok(super::sql::copy::load(self, snapshot)?)
    }

    /// Runs `f` on a pooled connection, mapping errors. A connection whose query failed
    /// because the server went away is marked broken, so the pool replaces it.
    fn run<T>(&self, f: impl FnOnce(&mut PgConn) -> SqlResult<T>) -> StorageResult<T> {
        let waiting = self.counters.waiting();
        let conn = self.pool.get();
        drop(waiting);
        let mut conn = conn.map_err(|e| {
            self.counters.count(StorageError::Unavailable(anyhow::anyhow!(
                "no PostgreSQL connection: {e}"
            )))
        })?;
        let result = f(&mut conn);
        result.map_err(|e| {
            let (err, breaks) = map_error(e);
            if breaks {
                conn.broken = true;
            }
            self.counters.count(err)
        })
    }
}

impl Backend for PgStorage {
    fn sql(&self) -> &'static Statements {
        self.sql
    }

    fn rate_limit_upkeep(&self) -> &crate::storage::rate_limit::RateLimitUpkeep {
        &self.rate_limit
    }

    fn read<T>(&self, f: impl Fn(&mut dyn Conn) -> SqlResult<T>) -> StorageResult<T> {
        self.run(|c| f(&mut c.session()))
    }

    fn write<T>(&self, f: impl Fn(&mut dyn Conn) -> SqlResult<T>) -> StorageResult<T> {
        self.run(|c| f(&mut c.session()))
    }

    fn transaction<T>(&self, f: impl Fn(&mut dyn Conn) -> SqlResult<T>) -> StorageResult<T> {
        self.run(|c| {
            let PgConn { client, statements, .. } = c;
            // Rolled back on drop if `f` fails.
            let mut tx = client.transaction()?;
            let out = f(&mut PgSession::of_transaction(&mut tx, statements))?;
            tx.commit()?;
            Ok(out)
        })
    }

    fn name(&self) -> &'static str {
        "postgres"
    }

    fn session_cache(&self) -> Option<&SessionCache> {
        self.session_cache.as_deref()
    }

    fn pool_exhausted(&self) -> bool {
        let state = self.pool.state();
        state.idle_connections == 0 && state.connections >= self.pool.max_size()
    }
}

/// The one mapping from driver errors to storage errors, and whether the connection is
/// unusable afterwards (anything but an error the server reported, or a lost server).
fn map_error(err: SqlError) -> (StorageError, bool) {
    let Some(pg) = err.downcast_ref::<postgres::Error>() else {
        // Raised by the shared layer itself (a row it could not map): the connection is fine.
        return (StorageError::Other(err.into_anyhow()), false);
    };
    let is_db_error = pg.as_db_error().is_some();
    let mapped = match classify(pg) {
        Class::Conflict(what) => StorageError::Conflict(what),
        Class::Unavailable => StorageError::Unavailable(err.into_anyhow()),
        Class::Other => StorageError::Other(err.into_anyhow()),
    };
    let breaks = !is_db_error || matches!(mapped, StorageError::Unavailable(_));
    (mapped, breaks)
}

enum Class {
    Conflict(&'static str),
    Unavailable,
    Other,
}

fn classify(err: &postgres::Error) -> Class {
    if let Some(db) = err.as_db_error() {
        if *db.code() == SqlState::UNIQUE_VIOLATION {
            return Class::Conflict(match db.table() {
                Some("user") if db.constraint() == Some("user_username_uidx") => "user.username",
                Some("user") => "user.email",
                Some("account") => "account",
                Some("session") => "session.token",
                Some("jwks") => "jwks.id",
                _ => "unique",
            });
        }
        let code = db.code().code();
        // 08: connection exception; 57P: shutdown / cannot connect now / database dropped;
        // 53: insufficient resources (disk full, out of memory, too many connections); 58: I/O
        // error; 25006: a read-only transaction (a hot standby, a database or role set
        // read-only): the write was not saved, and retrying later may work.
        if code.starts_with("08")
            || code.starts_with("57P")
            || code.starts_with("53")
            || code.starts_with("58")
            || code == "25006"
        {
            return Class::Unavailable;
        }
        return Class::Other;
    }
    let io = std::error::Error::source(err).is_some_and(|s| s.is::<std::io::Error>());
    if err.is_closed() || io || err.to_string().starts_with("timeout") {
        return Class::Unavailable;
    }
    Class::Other
}

impl Storage for PgStorage {
    fn health_check(&self, migrations: &[super::sql::Migration]) -> StorageResult<Vec<&'static str>> {
        self.pending_migrations(migrations)
            .map_err(|e| self.counters.count(StorageError::Unavailable(e)))
    }

    fn stats(&self) -> crate::metrics::StorageStats {
        let mut stats = self.counters.stats(Some(self.pool.state()), self.pool.max_size());
        stats.session_cache = self.session_cache.as_ref().map(|c| c.stats());
        stats
    }

    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn rate_limit_store(self: std::sync::Arc<Self>) -> Option<std::sync::Arc<dyn super::rate_limit::RateLimitStore>> {
        Some(self)
    }

    fn mail_queue(self: std::sync::Arc<Self>) -> Option<std::sync::Arc<dyn super::mail_queue::MailQueueStore>> {
        Some(self)
    }
}
