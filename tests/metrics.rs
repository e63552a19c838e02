//! Prometheus metrics on `SESAME_METRICS_ADDR`, scraped from the running binary and parsed by
//! the official Python client (`tests/metrics_scrape.py`): the numbers move as requests are
//! made.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use serde_json::json;

use crate::support::binary::{self, tempdir, Served};
use crate::support::http_client;

type Samples = BTreeMap<String, f64>;

fn metrics_addr(served: &Served) -> SocketAddr {
    let line = served
        .wait_for_line(|l| l.contains("metrics on http://"), Duration::from_secs(10))
        .expect("the metrics address is logged");
    let rest = line.split("metrics on http://").nth(1).unwrap();
    rest.split('/').next().unwrap().parse().unwrap()
}

fn scrape(addr: SocketAddr) -> Samples {
    let out = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/metrics_scrape.py"))
        .arg(format!("http://{addr}/metrics"))
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "scrape failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn get(samples: &Samples, key: &str) -> f64 {
    samples.get(key).copied().unwrap_or(0.0)
}

/// A webhook endpoint that accepts every email (answers 200) on a thread of its own.
fn webhook_sink() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(50) {
            let Ok(mut s) = stream else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = [0u8; 65536];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    addr
}

const JSON: [(&str, &str); 1] = [("content-type", "application/json")];

/// Without `SESAME_METRICS_ADDR` no metrics address is announced (it would be, before the
/// listening line), and the API's own address never serves them.
#[test]
fn metrics_are_off_unless_an_address_is_set() {
    let served = binary::serve(&[]);
    let lines = served.lines();
    assert!(!lines.iter().any(|l| l.contains("metrics on")), "{lines:#?}");
    for path in ["/metrics", "/api/auth/metrics"] {
        assert_eq!(http_client::send(served.addr, "GET", path, &[], b"").status, 404);
    }
    let on = binary::serve(&[("SESAME_METRICS_ADDR", "127.0.0.1:0")]);
    let announced = on.lines();
    let metrics_line = announced.iter().position(|l| l.contains("metrics on http://"));
    let listening = announced.iter().position(|l| l.contains("listening on http://"));
    assert!(
        metrics_line.is_some() && metrics_line < listening,
        "the metrics address comes before the listening line: {announced:#?}"
    );
    assert_eq!(http_client::send(on.addr, "GET", "/metrics", &[], b"").status, 404);
    // And the metrics address serves nothing else.
    let metrics = metrics_addr(&on);
    for (method, path) in [("GET", "/api/auth/ok"), ("GET", "/"), ("POST", "/metrics")] {
        assert_eq!(
            http_client::send(metrics, method, path, &[], b"").status,
            404,
            "{method} {path}"
        );
    }
    assert_eq!(http_client::send(metrics, "GET", "/metrics", &[], b"").status, 200);
}

#[test]
fn scraped_numbers_move_as_requests_are_made() {
    let dir = tempdir::Dir::new();
    let db = format!("sqlite:{}/metrics.db", dir.path().display());
    let hook = format!("http://{}/hook", webhook_sink());
    let served = binary::serve(&[
        ("DATABASE_URL", &db),
        ("SESAME_METRICS_ADDR", "127.0.0.1:0"),
        ("SESAME_EMAIL_WEBHOOK_URL", &hook),
        ("SESAME_RATE_LIMIT", "true"),
        ("SESAME_RATE_LIMIT_RULES", "/ok=2/60,default=100/10"),
    ]);
    let metrics = metrics_addr(&served);
    let addr = served.addr;
    let before = scrape(metrics);

    let body = |v: serde_json::Value| v.to_string().into_bytes();
    let signup = http_client::send(
        addr,
        "POST",
        "/api/auth/sign-up/email",
        &JSON,
        &body(json!({"name": "M", "email": "m@example.com", "password": "metrics-Pa55-word"})),
    );
    assert_eq!(signup.status, 200);
    for _ in 0..2 {
        let wrong = http_client::send(
            addr,
            "POST",
            "/api/auth/sign-in/email",
            &JSON,
            &body(json!({"email": "m@example.com", "password": "not-the-password"})),
        );
        assert_eq!(wrong.status, 401);
    }
    let ok: Vec<u16> = (0..3)
        .map(|_| http_client::send(addr, "GET", "/api/auth/ok", &[], b"").status)
        .collect();
    assert_eq!(ok, [200, 200, 429]);
    let secret_path = "/api/auth/reset-password/tok-SECRET-123/";
    assert_eq!(http_client::send(addr, "GET", secret_path, &[], b"").status, 404);
    let reset = http_client::send(
        addr,
        "POST",
        "/api/auth/request-password-reset",
        &JSON,
        &body(json!({"email": "m@example.com", "redirectTo": "/reset"})),
    );
    assert_eq!(reset.status, 200);
    // The outbox delivers in the background: wait (bounded) for the sent counter.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let after = loop {
        let s = scrape(metrics);
        if get(&s, "sesame_mail_sent_total{}") >= 1.0 || std::time::Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(100));
    };

    let delta = |key: &str| get(&after, key) - get(&before, key);
    let signup_200 = "sesame_http_requests_total{method=POST,route=/api/auth/sign-up/email,status=200}";
    assert_eq!(delta(signup_200), 1.0, "{after:#?}");
    assert_eq!(
        delta("sesame_http_requests_total{method=POST,route=/api/auth/sign-in/email,status=401}"),
        2.0
    );
    assert_eq!(
        delta("sesame_http_requests_total{method=GET,route=/api/auth/ok,status=429}"),
        1.0
    );
    assert_eq!(
        delta("sesame_http_requests_total{method=GET,route=unmatched,status=404}"),
        1.0
    );
    assert_eq!(
        delta("sesame_http_request_duration_seconds_count{method=POST,route=/api/auth/sign-in/email}"),
        2.0
    );
    assert!(
        get(
            &after,
            "sesame_http_request_duration_seconds_bucket{le=+Inf,method=POST,route=/api/auth/sign-in/email}"
        ) >= 2.0
    );
    assert_eq!(delta("sesame_rate_limited_total{method=GET,route=/api/auth/ok}"), 1.0);
    assert_eq!(delta("sesame_sessions_created_total{}"), 1.0);
    assert_eq!(
        delta("sesame_sign_in_failures_total{reason=INVALID_EMAIL_OR_PASSWORD,route=/api/auth/sign-in/email}"),
        2.0
    );
    assert_eq!(
        delta("sesame_password_hash_wait_seconds_count{}"),
        3.0,
        "sign-up and two sign-ins waited"
    );
    assert_eq!(get(&after, "sesame_password_hash_queue_depth{}"), 0.0);
    assert_eq!(delta("sesame_mail_sent_total{}"), 1.0);
    assert_eq!(get(&after, "sesame_mail_failed_total{}"), 0.0);
    assert_eq!(get(&after, "sesame_mail_queue_depth{}"), 0.0);
    assert!(
        after.contains_key("sesame_db_pool_connections{state=in_use}"),
        "{after:#?}"
    );
    assert!(get(&after, "sesame_db_pool_max_connections{}") >= 1.0);
    assert_eq!(get(&after, "sesame_db_errors_total{kind=unavailable}"), 0.0);
    for key in after.keys() {
        assert!(!key.contains("SECRET"), "a path reached a label: {key}");
    }
}

#[test]
fn password_hash_rejections_match_the_503_answers() {
    let served = binary::serve(&[
        ("SESAME_METRICS_ADDR", "127.0.0.1:0"),
        ("SESAME_HASH_THREADS", "1"),
        ("SESAME_HASH_QUEUE", "1"),
        ("SESAME_BCRYPT_COST", "12"),
    ]);
    let metrics = metrics_addr(&served);
    let addr = served.addr;
    let body = json!({"email": "nobody@example.com", "password": "whatever-Pa55"}).to_string();
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let body = body.clone();
            std::thread::spawn(move || {
                http_client::send(addr, "POST", "/api/auth/sign-in/email", &JSON, body.as_bytes()).status
            })
        })
        .collect();
    let statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let busy = statuses.iter().filter(|s| **s == 503).count();
    let s = scrape(metrics);
    assert_eq!(
        get(&s, "sesame_password_hash_rejected_total{}") as usize,
        busy,
        "{statuses:?}"
    );
    assert_eq!(
        get(
            &s,
            "sesame_http_requests_total{method=POST,route=/api/auth/sign-in/email,status=503}"
        ) as usize,
        busy
    );
}

#[test]
fn database_errors_are_counted() {
    use crate::support::postgres::{self, PgSchema};
    use crate::support::tcp_proxy::TcpProxy;
    let Some(schema) = PgSchema::create() else { return };
    let proxy = TcpProxy::start(postgres::server_addr());
    let url = postgres::url_via(proxy.addr, &schema.name);
    let served = binary::serve(&[("DATABASE_URL", &url), ("SESAME_METRICS_ADDR", "127.0.0.1:0")]);
    let metrics = metrics_addr(&served);
    let signup = http_client::send(
        served.addr,
        "POST",
        "/api/auth/sign-up/email",
        &JSON,
        json!({"name": "D", "email": "d@example.com", "password": "metrics-Pa55-word"})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(signup.status, 200);
    let cookie = signup.set_cookies()[0].split(';').next().unwrap().to_string();
    let before = get(&scrape(metrics), "sesame_db_errors_total{kind=unavailable}");
    proxy.cut();
    let resp = http_client::send(served.addr, "GET", "/api/auth/get-session", &[("cookie", &cookie)], b"");
    assert_eq!(resp.status, 503);
    let after = scrape(metrics);
    assert!(
        get(&after, "sesame_db_errors_total{kind=unavailable}") > before,
        "{after:#?}"
    );
    assert!(get(&after, "sesame_db_pool_max_connections{}") >= 1.0);
    proxy.restore();
}
