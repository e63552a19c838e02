//! Times the storage calls of the hot paths directly (no HTTP, no hashing) on SQLite and,
//! when a URL is given, PostgreSQL: get-session's lookup, sign-in's user-with-credential
//! lookup and session insert, the session refresh and a user update.
//!
//! ```sh
//! cargo run --release --example storage_ops -- [postgres://postgres@127.0.0.1:5432/test] [iterations]
//! ```
//!
//! SQLite runs on a file in a temporary directory; PostgreSQL in a fresh schema dropped
//! afterwards. Prints mean and p50/p99 per call after a warm-up, one thread.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use sesame::storage::models::{Account, Session, User, UserUpdate};
use sesame::storage::postgres::{PgOptions, PgStorage};
use sesame::storage::sqlite::{SqliteOptions, SqliteStorage};
use sesame::storage::Storage;
use sesame::Config;
use time::OffsetDateTime;

fn time_op(backend: &str, op: &str, iterations: usize, mut f: impl FnMut(usize)) {
    for i in 0..iterations / 10 {
        f(i);
    }
    let mut times: Vec<Duration> = (0..iterations)
        .map(|i| {
            let t = Instant::now();
            f(i);
            t.elapsed()
        })
        .collect();
    times.sort_unstable();
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    println!(
        "{backend:<9} {op:<26} n={iterations} mean={:>7.1}µs p50={:>7.1}µs p99={:>7.1}µs",
        mean.as_secs_f64() * 1e6,
        pct(0.5).as_secs_f64() * 1e6,
        pct(0.99).as_secs_f64() * 1e6
    );
}

fn session(user_id: &str, now: OffsetDateTime) -> Session {
    Session {
        id: sesame::crypto::new_id(),
        token: sesame::crypto::random_string(32),
        user_id: user_id.to_string(),
        expires_at: now + time::Duration::days(7),
        created_at: now,
        updated_at: now,
        ip_address: Some("127.0.0.1".into()),
        user_agent: Some("bench".into()),
        dont_remember_me: false,
        impersonated_by: None,
    }
}

fn run(backend: &str, s: &dyn Storage, iterations: usize) {
    let now = sesame::clock::millis(OffsetDateTime::now_utc());
    let user = User::new("Bench", "bench@example.com", None, now);
    s.create_user_with_account(&user, &Account::credential(&user.id, "$2b$04$x".into(), now))
        .unwrap();
    let kept = session(&user.id, now);
    s.create_session(&kept).unwrap();
    time_op(backend, "find_session_with_user", iterations, |_| {
        assert!(s.find_session_with_user(&kept.token).unwrap().is_some());
    });
    time_op(backend, "find_user_with_credential", iterations, |_| {
        assert!(s.find_user_with_credential(&user.email).unwrap().is_some());
    });
    time_op(backend, "create_session", iterations / 4, |_| {
        s.create_session(&session(&user.id, now)).unwrap();
    });
    time_op(backend, "refresh_session", iterations / 4, |i| {
        let at = now + time::Duration::milliseconds(i as i64);
        assert!(s.refresh_session(&kept.token, at, at).unwrap().is_some());
    });
    time_op(backend, "update_user", iterations / 4, |i| {
        let update = UserUpdate {
            name: Some(format!("Bench {i}")),
            ..UserUpdate::default()
        };
        assert!(s.update_user(&user.id, &update, now).unwrap().is_some());
    });
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let iterations: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let dir = std::env::temp_dir().join(format!("sesame-storage-ops-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bench.db");
    let sqlite = SqliteStorage::open(path.to_str().unwrap(), &SqliteOptions::default()).unwrap();
    sqlite.migrate(&sesame::app::migrations()).unwrap();
    run("sqlite", &sqlite, iterations);
    drop(sqlite);
    let _ = std::fs::remove_dir_all(&dir);
    let Some(url) = args.first() else { return };
    let schema = format!("bench_{}", std::process::id());
    let mut admin = postgres::Client::connect(url, postgres::NoTls).unwrap();
    admin.batch_execute(&format!("create schema {schema}")).unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let pg_url = format!("{url}{sep}options=-csearch_path%3D{schema}");
    let pg = PgStorage::new(&pg_url, &PgOptions::from_config(&Config::for_tests())).unwrap();
    pg.migrate(&sesame::app::migrations()).unwrap();
    run("postgres", &pg, iterations);
    drop(pg);
    admin.batch_execute(&format!("drop schema {schema} cascade")).unwrap();
}
