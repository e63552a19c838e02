//! Measures `GET /get-session` through `App::handle_http` (in-process, no socket) on memory
//! and, when a URL is given, on PostgreSQL:
//!
//! ```sh
//! cargo run --release --example get_session_latency -- [postgres://postgres@127.0.0.1:5432/test] [iterations]
//! ```
//!
//! On PostgreSQL it works in a fresh schema it drops afterwards. Prints mean, p50 and p99 per
//! call after a warm-up.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use sesame::clock::SystemClock;
use sesame::http::Request;
use sesame::storage::memory::MemoryStorage;
use sesame::storage::postgres::{PgOptions, PgStorage};
use sesame::storage::Storage;
use sesame::{App, Config};

fn measure(name: &str, storage: Arc<dyn Storage>, iterations: usize) {
    let app = App::new(Config::for_tests(), storage, Arc::new(SystemClock)).unwrap();
    let body = r#"{"name":"Bench","email":"bench@example.com","password":"bench-password-1"}"#;
    let resp = app.handle_http(Request::post("/api/auth/sign-up/email").with_body("application/json", body.as_bytes()));
    assert_eq!(resp.status, 200);
    let cookie = resp.set_cookies()[0].split(';').next().unwrap().to_string();
    let call = || {
        let r = app.handle_http(Request::get("/api/auth/get-session").with_header("cookie", &cookie));
        assert_eq!(r.status, 200);
    };
    for _ in 0..iterations / 10 {
        call();
    }
    let mut times: Vec<Duration> = (0..iterations)
        .map(|_| {
            let t = Instant::now();
            call();
            t.elapsed()
        })
        .collect();
    times.sort_unstable();
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    println!(
        "{name:<10} n={iterations} mean={:.1}µs p50={:.1}µs p99={:.1}µs",
        mean.as_secs_f64() * 1e6,
        pct(0.5).as_secs_f64() * 1e6,
        pct(0.99).as_secs_f64() * 1e6
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let iterations: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(20_000);
    measure("memory", Arc::new(MemoryStorage::new()), iterations);
    let Some(url) = args.first() else { return };
    let schema = format!("bench_{}", std::process::id());
    let mut admin = postgres::Client::connect(url, postgres::NoTls).unwrap();
    admin.batch_execute(&format!("create schema {schema}")).unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let pg_url = format!("{url}{sep}options=-csearch_path%3D{schema}");
    let pg = PgStorage::new(&pg_url, &PgOptions::from_config(&Config::for_tests())).unwrap();
    pg.migrate(&sesame::app::migrations()).unwrap();
    measure("postgres", Arc::new(pg), iterations);
    admin.batch_execute(&format!("drop schema {schema} cascade")).unwrap();
}
