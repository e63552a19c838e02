//! PostgreSQL for tests: each test gets a fresh random schema in the database named by
//! `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`), reached through
//! connections whose `search_path` is that schema, and dropped when the [`PgSchema`] is.
//!
//! When PostgreSQL is unreachable, PostgreSQL tests are skipped with a visible message, except
//! under CI (`CI` set), where they fail loudly.

use std::sync::OnceLock;
use std::time::Duration;

use postgres::{Client, NoTls};
use sesame::storage::postgres::{PgOptions, PgStorage};

pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn base_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_string())
}

fn connect(url: &str) -> Result<Client, postgres::Error> {
    let mut config: postgres::Config = url.parse()?;
    config.connect_timeout(Duration::from_secs(3));
    config.connect(NoTls)
}

/// Whether PostgreSQL answers; checked once per test binary. Panics under CI when it does not.
pub fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| match connect(&base_url()) {
        Ok(_) => true,
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!(
                "CI is set but PostgreSQL at TEST_DATABASE_URL is unreachable: {:#}",
                anyhow::Error::from(e)
            )
        }
        Err(e) => {
            let e = anyhow::Error::from(e);
            eprintln!(
                "SKIPPING PostgreSQL tests: TEST_DATABASE_URL is unreachable ({e:#}); set CI=1 to make this fail"
            );
            false
        }
    })
}

/// Pool settings for tests: small pools (many tests run at once), generous checkout timeout
/// (a loaded 2-core machine), unless a test asks otherwise.
pub fn test_options() -> PgOptions {
    PgOptions {
        pool_size: 4,
        checkout_timeout: Duration::from_secs(15),
        connect_timeout: Duration::from_secs(3),
        // On, as `sesame serve` has it: every PostgreSQL story runs through the cache.
        session_cache: Some(Default::default()),
    }
}

/// A random schema, dropped on `Drop`.
pub struct PgSchema {
    pub name: String,
}

impl PgSchema {
    /// `None` (after a visible message) when PostgreSQL is unreachable outside CI.
    pub fn create() -> Option<PgSchema> {
        if !available() {
            return None;
        }
        let name = format!("t_{}", sesame::crypto::random_string(16).to_ascii_lowercase());
        let mut admin = connect(&base_url()).expect("connect to TEST_DATABASE_URL");
        admin
            .batch_execute(&format!("create schema \"{name}\""))
            .expect("create schema");
        Some(PgSchema { name })
    }

    /// A connection URL whose sessions use this schema.
    pub fn url(&self) -> String {
        url_with_search_path(&base_url(), &self.name)
    }

    /// A plain client on this schema (for loading fixtures and inspecting rows).
    pub fn client(&self) -> Client {
        connect(&self.url()).expect("connect to the test schema")
    }

    /// A migrated storage on this schema.
    pub fn storage(&self, options: &PgOptions) -> PgStorage {
        let storage = PgStorage::new(&self.url(), options).expect("pool builds");
        storage.migrate(&sesame::app::migrations()).expect("migrations apply");
        storage
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(mut admin) = connect(&base_url()) {
            let _ = admin.batch_execute(&format!("drop schema if exists \"{}\" cascade", self.name));
        }
    }
}

/// Adds `options=-csearch_path=<schema>` to a URL, replacing its host/port when asked.
pub fn url_with_search_path(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-csearch_path%3D{schema}")
}

/// The TCP address of the test server (for pointing a proxy at it).
pub fn server_addr() -> std::net::SocketAddr {
    use std::net::ToSocketAddrs;
    let config: postgres::Config = base_url().parse().expect("TEST_DATABASE_URL parses");
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    (host.as_str(), port).to_socket_addrs().unwrap().next().unwrap()
}

/// A URL for the test database and `schema`, reached through `addr` (a proxy).
pub fn url_via(addr: std::net::SocketAddr, schema: &str) -> String {
    let config: postgres::Config = base_url().parse().expect("TEST_DATABASE_URL parses");
    let user = config.get_user().unwrap_or("postgres");
    let password = config
        .get_password()
        .map(|p| format!(":{}", String::from_utf8_lossy(p)))
        .unwrap_or_default();
    let db = config.get_dbname().unwrap_or(user);
    url_with_search_path(&format!("postgres://{user}{password}@{addr}/{db}"), schema)
}
