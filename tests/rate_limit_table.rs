//! The database rate-limit table stays small: rows leave within seconds of their window's end,
//! and a flood of distinct client addresses (an IPv6 /48 has 65 536 /64 networks, each its own
//! client) never takes it past its cap. Measured over the HTTP pipeline on SQLite and
//! PostgreSQL with `SESAME_RATE_LIMIT_STORAGE=database`.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::time::Instant;

use sesame::config::Config;
use sesame::http::Request;
use sesame::ratelimit::{RateLimitStore, Rule};
use sesame::storage::postgres::PgStorage;
use sesame::storage::rate_limit::{RateLimitUpkeep, SWEEP_EVERY_MS};
use sesame::storage::sql::Backend as _;
use sesame::storage::sqlite::SqliteStorage;

use crate::support::{postgres, sqlite, Backend, TestApp, BASE};

fn rows(t: &TestApp) -> i64 {
    let sql = r#"select count(*) from "rateLimit""#;
    match t.backend {
        Backend::Sqlite => t
            .sqlite
            .as_ref()
            .unwrap()
            .conn()
            .query_row(sql, [], |r| r.get(0))
            .unwrap(),
        Backend::Postgres => t.pg.as_ref().unwrap().client().query_one(sql, &[]).unwrap().get(0),
        Backend::Memory => unreachable!("the memory backend has no table"),
    }
}

/// The storage itself, for its table's upkeep.
enum Typed {
    Sqlite(Arc<SqliteStorage>),
    Postgres(Arc<PgStorage>),
}

impl Typed {
    fn upkeep(&self) -> &RateLimitUpkeep {
        match self {
            Typed::Sqlite(s) => s.rate_limit_upkeep(),
            Typed::Postgres(s) => s.rate_limit_upkeep(),
        }
    }

    fn store(&self) -> Arc<dyn RateLimitStore> {
        match self {
            Typed::Sqlite(s) => s.clone(),
            Typed::Postgres(s) => s.clone(),
        }
    }
}

/// An app on a fresh SQL database, and the storage.
fn app(backend: Backend, adjust: impl FnOnce(&mut Config)) -> (TestApp, Typed) {
    let mut config = Config::for_tests();
    adjust(&mut config);
    match backend {
        Backend::Sqlite => {
            let file = sqlite::SqliteFile::new();
            let s = Arc::new(file.storage(&sqlite::test_options()));
            let mut t = TestApp::with_storage(config, s.clone(), None);
            t.backend = Backend::Sqlite;
            t.sqlite = Some(file);
            (t, Typed::Sqlite(s))
        }
        Backend::Postgres => {
            let schema = postgres::PgSchema::create().expect("PostgreSQL is reachable");
            let s = Arc::new(schema.storage(&postgres::test_options()));
            (
                TestApp::with_storage(config, s.clone(), Some(schema)),
                Typed::Postgres(s),
            )
        }
        Backend::Memory => unreachable!("the memory backend has no table"),
    }
}

fn expired_buckets_leave_the_table_within_seconds(backend: Backend) {
    let (t, typed) = app(backend, |_| {});
    let store = typed.store();
    let short = Rule {
        window_secs: 10,
        max: 3,
    };
    let long = Rule {
        window_secs: 60,
        max: 3,
    };
    let t0 = 1_800_000_000_000;
    for i in 0..50 {
        store.consume(&format!("10.0.0.{i}|/ok"), short, t0).unwrap();
    }
    store.consume("10.0.1.1|/forget-password", long, t0).unwrap();
    assert_eq!(rows(&t), 51);
    // The next request once the sweep is due (at most SWEEP_EVERY_MS apart) removes every row
    // whose window has passed, and only those.
    store.consume("10.0.2.1|/ok", short, t0 + SWEEP_EVERY_MS).unwrap();
    assert_eq!(rows(&t), 2, "the 60 s bucket and the new one are left");
    store.consume("10.0.2.2|/ok", short, t0 + 60_000).unwrap();
    assert_eq!(rows(&t), 1);
}

/// A distinct client: its own IPv6 /64.
fn client(i: u32) -> IpAddr {
    let [hi, lo] = u16::try_from(i % 65_536).unwrap().to_be_bytes();
    let net = u16::from_be_bytes([hi, lo]);
    IpAddr::V6(Ipv6Addr::new(
        0x2001,
        0xdb8,
        0x4800 + u16::try_from(i / 65_536).unwrap(),
        net,
        0,
        0,
        0,
        1,
    ))
}

fn a_flood_of_distinct_addresses_stays_under_the_cap(backend: Backend) {
    let (t, typed) = app(backend, |c| {
        c.rate_limit = true;
        c.rate_limit_storage = sesame::ratelimit::StoreKind::Database;
    });
    let upkeep = typed.upkeep();
    assert_eq!(
        upkeep.max_rows(),
        sesame::ratelimit::memory::DEFAULT_MAX_KEYS,
        "the memory store's cap"
    );
    // PostgreSQL commits each upsert to disk: a smaller table keeps the run short while the
    // flood is still many times the cap.
    let cap: usize = if backend == Backend::Postgres { 50 } else { 1_000 };
    upkeep.set_max_rows(cap);
    let flood = u32::try_from(cap * 12).unwrap();
    let check_every = u32::try_from(cap / 4).unwrap();
    let started = Instant::now();
    let mut peak = 0;
    for i in 0..flood {
        let resp = t.send(Request::get(&format!("{BASE}/ok")).with_remote_addr(client(i)));
        assert_eq!(resp.status, 200);
        if i % check_every == check_every - 1 {
            let n = rows(&t);
            peak = peak.max(n);
            assert!(n <= i64::try_from(cap).unwrap(), "{n} rows after {} clients", i + 1);
        }
    }
    let elapsed = started.elapsed();
    eprintln!(
        "rate-limit table flood ({backend:?}): {flood} distinct /64 clients in {:.2} s ({:.0}/s), peak {peak} rows, cap {cap}",
        elapsed.as_secs_f64(),
        f64::from(flood) / elapsed.as_secs_f64()
    );
    // A client seen recently still has its bucket (the oldest go first).
    let newest = Request::get("/").with_remote_addr(client(flood - 1));
    let key = sesame::http::client_ip::client_key(&newest, &[]).unwrap();
    assert_eq!(rows_for(&t, &format!("{key}|/ok")), 1);
}

fn rows_for(t: &TestApp, key: &str) -> i64 {
    match t.backend {
        Backend::Sqlite => t
            .sqlite
            .as_ref()
            .unwrap()
            .conn()
            .query_row(r#"select count(*) from "rateLimit" where "key" = ?1"#, [key], |r| {
                r.get(0)
            })
            .unwrap(),
        Backend::Postgres => {
            t.pg.as_ref()
                .unwrap()
                .client()
                .query_one(r#"select count(*) from "rateLimit" where "key" = $1"#, &[&key])
                .unwrap()
                .get(0)
        }
        Backend::Memory => unreachable!(),
    }
}

mod on_sqlite {
    #[test]
    fn expired_buckets_leave_the_table_within_seconds() {
        super::expired_buckets_leave_the_table_within_seconds(crate::support::Backend::Sqlite);
    }
    #[test]
    fn a_flood_of_distinct_addresses_stays_under_the_cap() {
        super::a_flood_of_distinct_addresses_stays_under_the_cap(crate::support::Backend::Sqlite);
    }
}

mod on_postgres {
    #[test]
    fn expired_buckets_leave_the_table_within_seconds() {
        if crate::support::postgres::available() {
            super::expired_buckets_leave_the_table_within_seconds(crate::support::Backend::Postgres);
        }
    }
    #[test]
    fn a_flood_of_distinct_addresses_stays_under_the_cap() {
        if crate::support::postgres::available() {
            super::a_flood_of_distinct_addresses_stays_under_the_cap(crate::support::Backend::Postgres);
        }
    }
}
