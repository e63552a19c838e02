//! `GET /api/auth/ok` (liveness) and `GET /api/auth/ready` (readiness) on the real binary:
//! database reachable, migrations applied, mail configured; never rate-limited.

use std::time::{Duration, Instant};

use crate::support::binary::{self, tempdir};
use crate::support::http_client::{self, RawResponse};
use crate::support::postgres::{self as pg, PgSchema};
use crate::support::tcp_proxy::TcpProxy;

const WEBHOOK: (&str, &str) = ("SESAME_EMAIL_WEBHOOK_URL", "http://127.0.0.1:9/hook");

fn ready(addr: std::net::SocketAddr) -> RawResponse {
    http_client::send(addr, "GET", "/api/auth/ready", &[], b"")
}

#[test]
fn ready_is_200_when_database_migrations_and_mail_are_in_order() {
    let dir = tempdir::Dir::new();
    let db = format!("sqlite:{}/ready.db", dir.path().display());
    let served = binary::serve(&[("DATABASE_URL", &db), WEBHOOK]);
    let resp = ready(served.addr);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("cache-control"), Some("no-store"));
    assert_eq!(
        resp.json(),
        serde_json::json!({"ready": true, "checks": {"database": "ok", "migrations": "ok", "mail": "ok"}})
    );
    assert_eq!(
        http_client::send(served.addr, "GET", "/api/auth/ok", &[], b"").status,
        200
    );
}

#[test]
fn ready_is_503_naming_a_missing_mail_transport() {
    let served = binary::serve(&[]);
    let resp = ready(served.addr);
    assert_eq!(resp.status, 503);
    let body = resp.json();
    assert_eq!(body["code"], "NOT_READY");
    assert_eq!(body["status"], 503);
    assert_eq!(body["ready"], false);
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["mail"], "not configured (emails are printed to stderr)");
    assert!(
        body["message"].as_str().unwrap().contains("mail: not configured"),
        "{body}"
    );
}

#[test]
fn ready_is_503_naming_pending_migrations() {
    let dir = tempdir::Dir::new();
    let db = format!("sqlite:{}/unmigrated.db", dir.path().display());
    let served = binary::serve(&[("DATABASE_URL", &db), ("SESAME_AUTO_MIGRATE", "false"), WEBHOOK]);
    let resp = ready(served.addr);
    assert_eq!(resp.status, 503);
    let body = resp.json();
    assert_eq!(body["checks"]["database"], "ok");
    let migrations = body["checks"]["migrations"].as_str().unwrap();
    assert!(migrations.ends_with("pending (run `sesame migrate`)"), "{body}");
    assert_eq!(body["checks"]["mail"], "ok");
}

#[test]
fn ready_is_never_rate_limited() {
    let served = binary::serve(&[
        ("SESAME_RATE_LIMIT", "true"),
        ("SESAME_RATE_LIMIT_RULES", "default=2/60"),
        WEBHOOK,
    ]);
    for _ in 0..10 {
        assert_eq!(ready(served.addr).status, 200);
    }
    let statuses: Vec<u16> = (0..3)
        .map(|_| http_client::send(served.addr, "GET", "/api/auth/ok", &[], b"").status)
        .collect();
    assert_eq!(statuses, [200, 200, 429], "the limit applies to other routes");
}

/// PostgreSQL behind a proxy that the test cuts: `/ok` stays 200, `/ready` answers 503 naming
/// the database within its budget, and 200 again once the database is back.
#[test]
fn ready_follows_postgres_going_away_and_coming_back() {
    let Some(schema) = PgSchema::create() else { return };
    let proxy = TcpProxy::start(pg::server_addr());
    let url = pg::url_via(proxy.addr, &schema.name);
    let served = binary::serve(&[("DATABASE_URL", &url), WEBHOOK]);
    assert_eq!(ready(served.addr).status, 200);
    proxy.cut();
    let started = Instant::now();
    let resp = ready(served.addr);
    assert!(started.elapsed() < Duration::from_secs(5), "answered within the budget");
    assert_eq!(resp.status, 503);
    let body = resp.json();
    let database = body["checks"]["database"].as_str().unwrap();
    assert!(
        database == "unreachable" || database.starts_with("no answer within"),
        "{body}"
    );
    assert!(
        !body.to_string().contains(&proxy.addr.port().to_string()),
        "no address in the answer: {body}"
    );
    assert_eq!(
        http_client::send(served.addr, "GET", "/api/auth/ok", &[], b"").status,
        200
    );
    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if ready(served.addr).status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "ready again after the database came back");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A database that hangs (its migrations table locked by another session): concurrent probes
/// each answer 503 within the budget, sharing the one check in flight instead of queueing
/// behind each other or starting one each, and `/ready` is 200 again once the lock goes.
#[test]
fn ready_probes_of_a_hung_database_share_one_check() {
    let Some(schema) = PgSchema::create() else { return };
    let url = schema.url();
    let served = binary::serve(&[("DATABASE_URL", &url), ("SESAME_WORKERS", "8"), WEBHOOK]);
    assert_eq!(ready(served.addr).status, 200);
    let mut locker = schema.client();
    let mut lock = locker.transaction().unwrap();
    lock.batch_execute("LOCK TABLE \"_sesame_migrations\" IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let addr = served.addr;
    let started = Instant::now();
    let probes: Vec<_> = (0..6)
        .map(|_| std::thread::spawn(move || (ready(addr), started.elapsed())))
        .collect();
    for probe in probes {
        let (resp, took) = probe.join().unwrap();
        assert_eq!(resp.status, 503);
        assert_eq!(resp.json()["checks"]["database"], "no answer within 1000 ms");
        // Queued behind each other, the sixth would answer after six budgets.
        assert!(took < Duration::from_secs(4), "a probe took {took:?}");
    }
    let stuck: i64 = schema
        .client()
        .query_one(
            "select count(*) from pg_locks where relation = '\"_sesame_migrations\"'::regclass and not granted",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(stuck, 1, "one check waits on the lock, not one per probe");
    lock.rollback().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while ready(served.addr).status != 200 {
        assert!(Instant::now() < deadline, "ready again once the lock is gone");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The storage check on each backend, in-process (the test apps record their mail, so the
/// mail check passes too).
fn ready_is_200_on_a_migrated_database(t: &crate::support::TestApp) {
    let resp = t.get("/ready", None);
    assert_eq!(resp.status, 200, "{}", crate::support::body_text(&resp));
    assert_eq!(
        crate::support::json_body(&resp),
        serde_json::json!({"ready": true, "checks": {"database": "ok", "migrations": "ok", "mail": "ok"}})
    );
}

crate::suite!(ready_is_200_on_a_migrated_database);

/// In process, `/ready` is a typed function like every endpoint: the typed answer when ready,
/// the typed `ApiError` (503 `NOT_READY`, naming the problem) when not.
#[test]
fn ready_in_process_is_the_typed_answer_or_a_typed_error() {
    use std::sync::Arc;
    let config = sesame::Config::for_tests();
    let storage = Arc::new(sesame::storage::memory::MemoryStorage::new());
    let unready = sesame::App::new(config, storage, Arc::new(sesame::clock::SystemClock)).unwrap();
    let err = unready.endpoint(&sesame::api::READY).send().unwrap_err();
    assert_eq!((err.status, err.code.as_ref()), (503, "NOT_READY"));
    assert_eq!(
        err.message,
        "Not ready: mail: not configured (emails are printed to stderr)"
    );
    assert_eq!(unready.call("ready", Default::default()).unwrap_err().code, "NOT_READY");

    let t = crate::support::TestApp::new(crate::support::Backend::Memory);
    let answer = t.app.endpoint(&sesame::api::READY).send().unwrap();
    assert!(answer.ready);
    assert_eq!(answer.checks.get("database").map(String::as_str), Some("ok"));
    assert_eq!(answer.checks.get("mail").map(String::as_str), Some("ok"));
}
