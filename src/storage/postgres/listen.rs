//! The session cache's listener: one dedicated PostgreSQL connection per process that
//! `LISTEN`s on the schema's channel and evicts what the triggers of `0007_session_notify`
//! name (the cache and its rules: `storage/session_cache.rs`).
//!
//! The channel is `sesame_cache_<md5 of the schema>` (what the trigger computes from its
//! table's schema), so processes serving other schemas of the same database never hear each
//! other. The schema is the one `"session"` resolves to on this connection, the same
//! `search_path` the pool uses.
//!
//! The cache is used only while this connection is up: a lost connection (an error, the
//! server closing it, a ping unanswered within [`PING_TIMEOUT`]) stops and empties the cache
//! before reconnecting, and a new `LISTEN` empties it again before it is used. It is not used
//! either while the triggers are missing (migrations not applied): nothing would evict.
//! The connection's `application_name` is the pool's with ` cache listener` appended, so an
//! operator can tell it apart in `pg_stat_activity`.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls};

use crate::storage::session_cache::SessionCache;

/// How long one wait for a notification lasts before the listener checks whether it should
/// stop or ping.
const WAIT: Duration = Duration::from_millis(200);
/// A quiet connection is pinged this often.
const PING_EVERY: Duration = Duration::from_secs(1);
const PING_TIMEOUT: Duration = Duration::from_secs(1);
/// Reconnection backoff bounds.
const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// The channel the triggers notify, and whether they are installed.
const SETUP: &str = r#"select 'sesame_cache_' || md5(n.nspname::text),
       count(t.oid) filter (where t.tgname in ('sesame_session_notify', 'sesame_user_notify'))
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  left join pg_trigger t on t.tgrelid in (c.oid, to_regclass('"user"'))
 where c.oid = to_regclass('"session"')
 group by n.nspname"#;

/// Starts the listener thread; it ends soon after `cache` is dropped.
pub fn spawn(mut config: postgres::Config, cache: &Arc<SessionCache>) -> std::io::Result<()> {
    let name = format!("{} cache listener", config.get_application_name().unwrap_or("sesame"));
    config.application_name(&name);
    let cache = Arc::downgrade(cache);
    std::thread::Builder::new()
        .name("sesame-cache-listener".to_string())
        .spawn(move || run(&config, &cache))
        .map(|_| ())
}

fn run(config: &postgres::Config, cache: &Weak<SessionCache>) {
    let mut retry = RETRY_FIRST;
    let mut warned = false;
    // The listener starts with the storage, before start-up applies the migrations: triggers
    // missing at the first look are expected, still missing at the second (2 s later) are not.
    let mut missing = 0u32;
    loop {
        match cache.upgrade() {
            Some(c) if !c.is_stopped() => drop(c),
            _ => return,
        }
        match listen(config) {
            Ok(Some(client)) => {
                missing = 0;
                if warned {
                    tracing::info!("session cache: listening again");
                    warned = false;
                }
                retry = RETRY_FIRST;
                if let Err(e) = serve(client, cache) {
                    tracing::warn!("session cache: listener connection lost ({e:#}); cache off until it is back");
                }
            }
            Ok(None) => {
                missing += 1;
                if missing >= 2 && !warned {
                    tracing::warn!(
                        "session cache: off until the migration 0007_session_notify is applied (`sesame migrate`)"
                    );
                    warned = true;
                }
                retry = RETRY_MAX;
            }
            Err(e) => {
                if !warned {
                    tracing::warn!("session cache: cannot listen ({e:#}); cache off until it can");
                    warned = true;
                }
            }
        }
        if let Some(c) = cache.upgrade() {
            c.disconnected();
        }
        std::thread::sleep(retry);
        retry = (retry * 2).min(RETRY_MAX);
    }
}

/// Connects and LISTENs; `None` when the triggers are missing.
fn listen(config: &postgres::Config) -> Result<Option<Client>, postgres::Error> {
    let mut client = config.connect(NoTls)?;
    let Some(row) = client.query_opt(SETUP, &[])? else {
        return Ok(None);
    };
    let channel: String = row.try_get(0)?;
    let triggers: i64 = row.try_get(1)?;
    if triggers < 2 {
        return Ok(None);
    }
    // The name is `sesame_cache_` and 32 hex digits: nothing to escape.
    client.batch_execute(&format!("LISTEN \"{channel}\""))?;
    Ok(Some(client))
}

/// Listens until the connection fails or the cache is dropped.
fn serve(mut client: Client, cache: &Weak<SessionCache>) -> anyhow::Result<()> {
    match cache.upgrade() {
        Some(c) => c.connected(),
        None => return Ok(()),
    }
    let mut pinged = Instant::now();
    loop {
        let Some(c) = cache.upgrade() else {
            return Ok(());
        };
        if c.is_stopped() {
            return Ok(());
        }
        {
            // At most one wait long, so a steady stream of notifications still lets the
            // listener ping and notice that the cache was dropped.
            let started = Instant::now();
            let mut notifications = client.notifications();
            let mut waiting = notifications.timeout_iter(WAIT);
            while started.elapsed() < WAIT {
                let Some(n) = waiting.next()? else { break };
                c.apply(n.payload());
            }
        }
        if client.is_closed() {
            anyhow::bail!("the server closed the connection");
        }
        if pinged.elapsed() >= PING_EVERY {
            client.is_valid(PING_TIMEOUT)?;
            pinged = Instant::now();
            c.heard_from_server();
        }
    }
}
