//! The connection pool's manager: how a pooled PostgreSQL connection is opened, checked and
//! discarded; the per-connection cache of prepared statements; and [`PgSession`], the shared
//! SQL layer's [`Conn`] on a connection or one of its transactions.
//!
//! Why not `r2d2_postgres`: its check-out test is an extra round trip on every request. Here a
//! connection used within the last [`PING_AFTER_IDLE`] is handed out untested (a busy server
//! pays nothing), an idle one is pinged first, and a connection on which a query failed
//! because the server went away is marked broken and replaced when it is returned.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use postgres::types::ToSql;
use postgres::{Client, GenericClient, NoTls, Statement, Transaction};

use crate::storage::sql::{Conn, Row, SqlResult, Value};

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
    pub(super) statements: HashMap<&'static str, Statement>,
    last_used: Instant,
    /// Set when a query failed in a way that leaves the connection unusable.
    pub(super) broken: bool,
}

impl PgConn {
    /// The connection as the shared SQL layer's [`Conn`].
    pub fn session(&mut self) -> PgSession<'_, '_> {
        PgSession {
            client: PgClient::Plain(&mut self.client),
            statements: &mut self.statements,
        }
    }
}

/// A connection, or a transaction on it, with the connection's prepared statements.
pub struct PgSession<'c, 't> {
    client: PgClient<'c, 't>,
    statements: &'c mut HashMap<&'static str, Statement>,
}

enum PgClient<'c, 't> {
    Plain(&'c mut Client),
    Tx(&'c mut Transaction<'t>),
}

impl<'c, 't> PgSession<'c, 't> {
    /// The session of a transaction on a pooled connection (`statements` is that
    /// connection's cache: a prepared statement outlives the transaction it was prepared in).
    pub fn of_transaction(
        tx: &'c mut Transaction<'t>,
        statements: &'c mut HashMap<&'static str, Statement>,
    ) -> PgSession<'c, 't> {
        PgSession {
            client: PgClient::Tx(tx),
            statements,
        }
    }

    fn client(&mut self) -> &mut dyn PgRun {
        match &mut self.client {
            PgClient::Plain(c) => &mut **c,
            PgClient::Tx(t) => &mut **t,
        }
    }

    /// The prepared statement for this SQL text, prepared on first use on this connection, so
    /// every later execution is a single round trip (Bind/Execute) instead of Parse + Execute.
    fn stmt(&mut self, sql: &'static str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client().prepare(sql)?;
        self.statements.insert(sql, s.clone());
        Ok(s)
    }
}

/// `GenericClient`'s three calls, object-safe.
trait PgRun {
    fn prepare(&mut self, sql: &str) -> Result<Statement, postgres::Error>;
    fn query(&mut self, st: &Statement, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<postgres::Row>, postgres::Error>;
    fn execute(&mut self, st: &Statement, params: &[&(dyn ToSql + Sync)]) -> Result<u64, postgres::Error>;
}

impl<C: GenericClient> PgRun for C {
    fn prepare(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        GenericClient::prepare(self, sql)
    }
    fn query(&mut self, st: &Statement, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<postgres::Row>, postgres::Error> {
        GenericClient::query(self, st, params)
    }
    fn execute(&mut self, st: &Statement, params: &[&(dyn ToSql + Sync)]) -> Result<u64, postgres::Error> {
        GenericClient::execute(self, st, params)
    }
}

fn refs<'v>(params: &'v [Value<'_>]) -> Vec<&'v (dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

impl Conn for PgSession<'_, '_> {
    fn query(
        &mut self,
        sql: &'static str,
        params: &[Value<'_>],
        each: &mut dyn FnMut(&dyn Row) -> SqlResult<()>,
    ) -> SqlResult<()> {
        let st = self.stmt(sql)?;
        for row in self.client().query(&st, &refs(params))? {
            each(&row)?;
        }
        Ok(())
    }

    fn execute(&mut self, sql: &'static str, params: &[Value<'_>]) -> SqlResult<u64> {
        let st = self.stmt(sql)?;
        Ok(self.client().execute(&st, &refs(params))?)
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
