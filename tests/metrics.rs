//! Prometheus metrics on `SESAME_METRICS_ADDR`, scraped from the running binary and parsed by
//! the official Python client (`tests/metrics_scrape.py`): the numbers move as requests are
//! made, the gauges follow the pool and the outbox, and README's table is what is served.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use serde_json::json;

use crate::support::binary::{self, tempdir};
use crate::support::http_client;
use crate::support::scrape::{get, metrics_addr, raw, scrape, wait_for_sample};

/// A webhook endpoint that holds each email until the test answers it: each arrival is
/// reported on the first channel, and the status sent on the second is the answer.
fn holding_webhook() -> (String, Receiver<()>, Sender<u16>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (arrived_tx, arrived) = mpsc::channel();
    let (verdict, verdict_rx) = mpsc::channel::<u16>();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(10) {
            let Ok(mut s) = stream else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = [0u8; 65536];
            let _ = s.read(&mut buf);
            if arrived_tx.send(()).is_err() {
                return;
            }
            let Ok(status) = verdict_rx.recv_timeout(Duration::from_secs(30)) else {
                return;
            };
            let answer = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = s.write_all(answer.as_bytes());
        }
    });
    (url, arrived, verdict)
}

const JSON: [(&str, &str); 1] = [("content-type", "application/json")];

/// README's metrics table ("Health and metrics") and the families the binary serves agree
/// both ways, names and types.
#[test]
fn readme_metrics_table_is_what_the_binary_serves() {
    let dir = tempdir::Dir::new();
    let db = format!("sqlite:{}/table.db", dir.path().display());
    let served = binary::serve(&[
        ("DATABASE_URL", &db),
        ("SESAME_METRICS_ADDR", "127.0.0.1:0"),
        ("SESAME_RATE_LIMIT", "true"),
        ("SESAME_RATE_LIMIT_RULES", "/ok=1/60"),
    ]);
    // A family with labels appears once it has a sample: a request, a 429 and a refused sign-in.
    let statuses: Vec<u16> = (0..2)
        .map(|_| http_client::send(served.addr, "GET", "/api/auth/ok", &[], b"").status)
        .collect();
    assert_eq!(statuses, [200, 429]);
    let wrong = json!({"email": "no@example.com", "password": "whatever-Pa55"}).to_string();
    let refused = http_client::send(served.addr, "POST", "/api/auth/sign-in/email", &JSON, wrong.as_bytes());
    assert_eq!(refused.status, 401);
    let text = raw(metrics_addr(&served));
    let families: BTreeSet<(String, String)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .map(|(name, kind)| (name.to_string(), kind.to_string()))
        .collect();
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("\n## Health and metrics\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("README.md has a \"Health and metrics\" section");
    let documented: BTreeSet<(String, String)> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| {
            let (name, rest) = l.split_once('`')?;
            let kind = rest.split('|').nth(1)?.trim();
            // A counter's family is named without the `_total` of its sample.
            let family = match kind {
                "counter" => name.strip_suffix("_total")?,
                _ => name,
            };
            Some((family.to_string(), kind.to_string()))
        })
        .collect();
    assert!(documented.len() >= 15, "{documented:?}");
    assert_eq!(documented, families, "README's table vs the served metrics:\n{text}");
}

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
    let (hook, arrived, verdict) = holding_webhook();
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
    // The outbox delivers in the background: the webhook accepts the email, then the sent
    // counter moves.
    arrived
        .recv_timeout(Duration::from_secs(20))
        .expect("the email reaches the webhook");
    verdict.send(200).unwrap();
    wait_for_sample(metrics, "sesame_mail_sent_total", 1.0, Duration::from_secs(20));
    let after = scrape(metrics);

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

/// The outbox's numbers: an email the transport has not accepted yet counts in the queue depth;
/// a refusal (the webhook answers 400, a permanent failure) counts as failed, never as sent.
#[test]
fn mail_queue_depth_and_failures_follow_the_outbox() {
    let (hook, arrived, verdict) = holding_webhook();
    let served = binary::serve(&[
        ("SESAME_METRICS_ADDR", "127.0.0.1:0"),
        ("SESAME_EMAIL_WEBHOOK_URL", &hook),
    ]);
    let metrics = metrics_addr(&served);
    let body = |v: serde_json::Value| v.to_string().into_bytes();
    let signup = http_client::send(
        served.addr,
        "POST",
        "/api/auth/sign-up/email",
        &JSON,
        &body(json!({"name": "Q", "email": "q@example.com", "password": "metrics-Pa55-word"})),
    );
    assert_eq!(signup.status, 200);
    let reset = http_client::send(
        served.addr,
        "POST",
        "/api/auth/request-password-reset",
        &JSON,
        &body(json!({"email": "q@example.com", "redirectTo": "/reset"})),
    );
    assert_eq!(reset.status, 200);
    arrived
        .recv_timeout(Duration::from_secs(20))
        .expect("the email reaches the webhook");
    let held = scrape(metrics);
    assert_eq!(get(&held, "sesame_mail_queue_depth{}"), 1.0, "{held:#?}");
    assert_eq!(get(&held, "sesame_mail_sent_total{}"), 0.0);
    assert_eq!(get(&held, "sesame_mail_failed_total{}"), 0.0);
    verdict.send(400).unwrap();
    wait_for_sample(metrics, "sesame_mail_queue_depth", 0.0, Duration::from_secs(20));
    let after = scrape(metrics);
    assert_eq!(get(&after, "sesame_mail_failed_total{}"), 1.0, "{after:#?}");
    assert_eq!(get(&after, "sesame_mail_sent_total{}"), 0.0);
}

/// The PostgreSQL pool's gauges, with a pool of one connection: a request stuck on a locked
/// table holds it (`in_use` 1), the next request waits for it (`waiting` 1), and both go
/// back to 0 once the lock is released and both requests are answered.
#[test]
fn pool_gauges_follow_connections_in_use_and_waiting() {
    use crate::support::postgres::PgSchema;
    let Some(schema) = PgSchema::create() else { return };
    let url = schema.url();
    let served = binary::serve(&[
        ("DATABASE_URL", &url),
        ("SESAME_POSTGRES_POOL_SIZE", "1"),
        ("SESAME_METRICS_ADDR", "127.0.0.1:0"),
    ]);
    let metrics = metrics_addr(&served);
    let in_use = "sesame_db_pool_connections{state=\"in_use\"}";
    wait_for_sample(metrics, "sesame_db_pool_max_connections", 1.0, Duration::from_secs(10));
    wait_for_sample(metrics, in_use, 0.0, Duration::from_secs(10));
    let mut locker = schema.client();
    let mut lock = locker.transaction().unwrap();
    lock.batch_execute("LOCK TABLE \"user\" IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let addr = served.addr;
    // A reset request for an unknown address reads the user table and sends nothing.
    let request = move || {
        std::thread::spawn(move || {
            let body = json!({"email": "nobody@example.com", "redirectTo": "/r"}).to_string();
            http_client::send(addr, "POST", "/api/auth/request-password-reset", &JSON, body.as_bytes()).status
        })
    };
    let first = request();
    wait_for_sample(metrics, in_use, 1.0, Duration::from_secs(10));
    let second = request();
    wait_for_sample(metrics, "sesame_db_pool_waiting", 1.0, Duration::from_secs(10));
    let stuck = scrape(metrics);
    assert_eq!(
        get(&stuck, "sesame_db_pool_connections{state=in_use}"),
        1.0,
        "{stuck:#?}"
    );
    assert_eq!(get(&stuck, "sesame_db_pool_waiting{}"), 1.0, "{stuck:#?}");
    lock.rollback().unwrap();
    assert_eq!((first.join().unwrap(), second.join().unwrap()), (200, 200));
    wait_for_sample(metrics, in_use, 0.0, Duration::from_secs(10));
    let after = scrape(metrics);
    assert_eq!(get(&after, "sesame_db_pool_waiting{}"), 0.0, "{after:#?}");
    assert_eq!(get(&after, "sesame_db_errors_total{kind=unavailable}"), 0.0);
}
