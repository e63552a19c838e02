//! The connection pool's manager: how a pooled PostgreSQL connection is opened, checked and
//! discarded, and the per-connection cache of prepared statements.
//!
//! Why not `r2d2_postgres`: its check-out test is an extra round trip on every request. Here a
//! connection used within the last [`PING_AFTER_IDLE`] is handed out untested (a busy server
//! pays nothing), an idle one is pinged first, and a connection on which a query failed
//! because the server went away is marked broken and replaced when it is returned.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use postgres::{Client, NoTls, Statement};

/// A connection idle for longer than this is pinged before use.
const PING_AFTER_IDLE: Duration = Duration::from_secs(2);
/// How long a ping may take before the connection counts as dead.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

pub struct Manager {
    config: postgres::Config,
}

impl Manager {
    pub fn new(config: postgres::Config) -> Manager {
        Manager { config }
    }
}

/// A pooled connection: the client and its prepared statements.
pub struct PgConn {
    pub client: Client,
    statements: HashMap<&'static str, Statement>,
    last_used: Instant,
    /// Set when a query failed in a way that leaves the connection unusable.
    pub(super) broken: bool,
}

impl PgConn {
    /// The prepared statement for this SQL text, prepared on first use on this connection, so
    /// every later execution is a single round trip (Bind/Execute) instead of Parse + Execute.
    pub fn stmt(&mut self, sql: &'static str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.statements.insert(sql, s.clone());
        Ok(s)
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = PgConn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<PgConn, postgres::Error> {
        Ok(PgConn {
            client: self.config.connect(NoTls)?,
            statements: HashMap::new(),
            last_used: Instant::now(),
            broken: false,
        })
    }

    fn is_valid(&self, conn: &mut PgConn) -> Result<(), postgres::Error> {
        if conn.last_used.elapsed() < PING_AFTER_IDLE {
            return Ok(());
        }
        conn.client.is_valid(PING_TIMEOUT)
    }

    /// Called by r2d2 whenever a connection is returned to the pool.
    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.last_used = Instant::now();
        conn.broken || conn.client.is_closed()
    }
}
