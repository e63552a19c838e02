//! Storage area: which database, its pool, and migrations at start-up.

use super::var::{boolean, positive, Default, Reader, Spec, Var};
use super::{Secret, StorageUrl};

pub const TITLE: &str = "Storage";

pub const DATABASE_URL: Var<StorageUrl> = Var::new(
    "DATABASE_URL",
    Default::Value("sqlite:sesame.db"),
    "Storage: `sqlite:PATH` (a file, created if missing), `sqlite::memory:` (ephemeral), `memory`, or `postgres://user:pass@host:port/db`",
    storage_url,
)
.url_with_credentials();
pub const POOL_SIZE: Var<u32> = Var::new(
    "SESAME_POSTGRES_POOL_SIZE",
    Default::Computed("workers + 2"),
    "PostgreSQL connections in the pool",
    positive,
);
pub const AUTO_MIGRATE: Var<bool> = Var::new(
    "SESAME_AUTO_MIGRATE",
    Default::Value("true"),
    "Apply pending migrations when `sesame serve` starts",
    boolean,
);
pub const STARTUP_TIMEOUT: Var<u64> = Var::new(
    "SESAME_POSTGRES_STARTUP_TIMEOUT",
    Default::Value("30"),
    "Seconds to keep retrying an unreachable PostgreSQL at start-up before giving up",
    super::var::number,
);

pub const SESSION_CACHE: Var<bool> = Var::new(
    "SESAME_SESSION_CACHE",
    Default::Value("true"),
    "PostgreSQL only: keep recently used sessions and their users in memory, evicted by the database's change notifications (memory and SQLite keep none: they need none)",
    boolean,
);
pub const SESSION_CACHE_ENTRIES: Var<usize> = Var::new(
    "SESAME_SESSION_CACHE_ENTRIES",
    Default::Value("100000"),
    "Sessions the session cache keeps at most (and users likewise)",
    positive,
);
pub const SESSION_CACHE_MB: Var<usize> = Var::new(
    "SESAME_SESSION_CACHE_MB",
    Default::Value("40"),
    "Memory the session cache keeps at most, in MiB (each entry counted as its encoded row plus its share of the tables)",
    positive,
);

pub const VARIABLES: &[&Spec] = &[
    &DATABASE_URL.spec,
    &POOL_SIZE.spec,
    &AUTO_MIGRATE.spec,
    &STARTUP_TIMEOUT.spec,
    &SESSION_CACHE.spec,
    &SESSION_CACHE_ENTRIES.spec,
    &SESSION_CACHE_MB.spec,
];

/// `memory`, `postgres://…`, or `sqlite:PATH` / `sqlite://PATH` (`sqlite:///abs/path` is
/// `/abs/path`) / `sqlite::memory:`.
fn storage_url(url: &str) -> Result<StorageUrl, String> {
    if url == "memory" {
        return Ok(StorageUrl::Memory);
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(StorageUrl::Postgres(Secret::new(url)));
    }
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return Err("must be `memory`, `sqlite:PATH` or a postgres:// URL".to_string());
    };
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    if rest.is_empty() {
        return Err("sqlite: needs a path, e.g. sqlite:sesame.db".to_string());
    }
    if rest.contains('?') {
        return Err("sqlite:PATH takes no query string".to_string());
    }
    Ok(StorageUrl::Sqlite(rest.to_string()))
}

/// Bounds of the session cache (`SESAME_SESSION_CACHE_ENTRIES`, `SESAME_SESSION_CACHE_MB`;
/// the cache: `storage/session_cache.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    /// Sessions kept at most (users are bounded by the same number).
    pub entries: usize,
    /// Bytes kept at most, sessions and users together, as the cache counts them.
    pub bytes: usize,
}

impl std::default::Default for CacheLimits {
    fn default() -> CacheLimits {
        CacheLimits {
            entries: 100_000,
            bytes: 40 << 20,
        }
    }
}

pub struct Storage {
    pub storage: StorageUrl,
    pub pool_size: Option<u32>,
    pub auto_migrate: bool,
    pub postgres_startup_timeout: u64,
    pub session_cache: Option<CacheLimits>,
}

pub fn read(r: &Reader) -> Storage {
    r.area(TITLE);
    let cache_on: bool = r.get(&SESSION_CACHE);
    let limits = CacheLimits {
        entries: r.get(&SESSION_CACHE_ENTRIES),
        bytes: r.get(&SESSION_CACHE_MB).saturating_mul(1 << 20),
    };
    Storage {
        storage: r.get(&DATABASE_URL),
        pool_size: r.opt(&POOL_SIZE),
        auto_migrate: r.get(&AUTO_MIGRATE),
        postgres_startup_timeout: r.get(&STARTUP_TIMEOUT),
        session_cache: cache_on.then_some(limits),
    }
}
