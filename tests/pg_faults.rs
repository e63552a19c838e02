//! PostgreSQL under stress and failure: concurrent sign-ups racing for one email, and the
//! database going away and coming back while requests flow over a real socket.
//!
//! The outage is made with a TCP proxy between Sesame's pool and PostgreSQL (the shared
//! server itself is never touched): cutting it drops every pooled connection and refuses new
//! ones.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use serde_json::json;
use sesame::config::Config;
use sesame::storage::postgres::{PgOptions, PgStorage};

use crate::support::postgres::{server_addr, url_via, PgSchema};
use crate::support::tcp_proxy::TcpProxy;
use crate::support::{assert_error, http_client, Backend, TestApp, PASSWORD};

#[test]
fn fifty_concurrent_sign_ups_with_one_email_make_one_user() {
    let Some(t) = TestApp::try_with_config(Backend::Postgres, |c| c.pool_size = Some(8)) else {
        return;
    };
    let barrier = Barrier::new(50);
    let responses: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let (t, barrier) = (&t, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    t.post(
                        "/sign-up/email",
                        json!({"name": format!("Racer {i}"), "email": "Race@Example.com", "password": PASSWORD}),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok = responses.iter().filter(|r| r.status == 200).count();
    assert_eq!(ok, 1, "exactly one sign-up wins");
    for r in responses.iter().filter(|r| r.status != 200) {
        assert_error(r, 422, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL");
    }
    let mut c = t.pg.as_ref().unwrap().client();
    let users: i64 = c.query_one(r#"select count(*) from "user""#, &[]).unwrap().get(0);
    let accounts: i64 = c.query_one(r#"select count(*) from "account""#, &[]).unwrap().get(0);
    assert_eq!((users, accounts), (1, 1));
}

/// One sign-up over the socket: (email, status, code).
fn sign_up(addr: std::net::SocketAddr, email: &str) -> (u16, String) {
    let body = json!({"name": "N", "email": email, "password": PASSWORD}).to_string();
    let r = http_client::send(
        addr,
        "POST",
        "/api/auth/sign-up/email",
        &[("content-type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(
        r.header("content-type"),
        Some("application/json"),
        "status {}",
        r.status
    );
    (r.status, r.json()["code"].as_str().unwrap_or_default().to_string())
}

fn get_session(addr: std::net::SocketAddr, cookie: &str) -> (u16, serde_json::Value) {
    let r = http_client::send(addr, "GET", "/api/auth/get-session", &[("cookie", cookie)], b"");
    (r.status, r.json())
}

#[test]
fn database_outage_answers_503_and_service_resumes() {
    let Some(schema) = PgSchema::create() else { return };
    let proxy = TcpProxy::start(server_addr());
    let options = PgOptions {
        pool_size: 4,
        checkout_timeout: Duration::from_millis(800),
        connect_timeout: Duration::from_secs(1),
        // The pool's behaviour in an outage, without the session cache answering from memory.
        session_cache: None,
    };
    let storage = PgStorage::new(&url_via(proxy.addr, &schema.name), &options).unwrap();
    storage.migrate(&sesame::app::migrations()).unwrap();
    let mut config = Config::for_tests();
    config.workers = 4;
    let t = TestApp::with_storage(config, Arc::new(storage), Some(schema));
    let server = http_client::spawn(t.app.clone());
    let addr = server.addr;

    let first = http_client::send(
        addr,
        "POST",
        "/api/auth/sign-up/email",
        &[("content-type", "application/json")],
        json!({"name": "N", "email": "first@example.com", "password": PASSWORD})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(first.status, 200);
    let cookie = first.set_cookies()[0].split(';').next().unwrap().to_string();
    assert_eq!(get_session(addr, &cookie).0, 200);

    // Background clients keep signing up through the outage.
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::<(String, u16, String)>::new()));
    let clients: Vec<_> = (0..2)
        .map(|c| {
            let (stop, seen) = (stop.clone(), seen.clone());
            std::thread::spawn(move || {
                for i in 0..400 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let email = format!("flow-{c}-{i}@example.com");
                    let (status, code) = sign_up(addr, &email);
                    seen.lock().unwrap().push((email, status, code));
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));

    proxy.cut();
    for _ in 0..3 {
        let (status, body) = get_session(addr, &cookie);
        assert_eq!(
            (status, body["code"].as_str()),
            (503, Some("DATABASE_UNAVAILABLE")),
            "{body}"
        );
        assert_eq!(body["status"], 503);
        assert_eq!(
            sign_up(addr, "during@example.com"),
            (503, "DATABASE_UNAVAILABLE".to_string())
        );
    }

    proxy.restore();
    let mut resumed = false;
    for _ in 0..60 {
        if get_session(addr, &cookie).0 == 200 {
            resumed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(
        resumed,
        "service did not resume within 15 s of the database coming back"
    );
    assert_eq!(sign_up(addr, "after@example.com").0, 200);
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().unwrap();
    }
    server.stop();

    let seen = seen.lock().unwrap();
    let statuses: HashSet<u16> = seen.iter().map(|(_, s, _)| *s).collect();
    assert!(
        statuses.is_subset(&HashSet::from([200, 503])),
        "only 200 or 503: {statuses:?}"
    );
    assert!(seen
        .iter()
        .filter(|(_, s, _)| *s == 503)
        .all(|(_, _, c)| c == "DATABASE_UNAVAILABLE"));
    let created: Vec<&String> = seen.iter().filter(|(_, s, _)| *s == 200).map(|(e, _, _)| e).collect();
    assert!(!created.is_empty());
    for email in created {
        assert!(
            t.storage().find_user_by_email(email).unwrap().is_some(),
            "{email} got 200 but is gone"
        );
    }
}

/// A port nothing listens on: bind, note the port, close.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn unreachable_database_is_503_not_a_hang() {
    let url = format!("postgres://postgres@127.0.0.1:{}/none", closed_port());
    let options = PgOptions {
        pool_size: 2,
        checkout_timeout: Duration::from_millis(300),
        connect_timeout: Duration::from_millis(300),
        session_cache: None,
    };
    let storage = PgStorage::new(&url, &options).unwrap();
    let t = TestApp::with_storage(Config::for_tests(), Arc::new(storage), None);
    let resp = t.post(
        "/sign-in/email",
        json!({"email": "a@example.com", "password": PASSWORD}),
    );
    assert_error(&resp, 503, "DATABASE_UNAVAILABLE");
    let resp = t.get("/get-session", Some("better-auth.session_token=abc.def"));
    assert_eq!(resp.status, 200, "a badly signed cookie needs no database");
}

#[test]
fn start_up_gives_up_after_the_bounded_wait() {
    let url = format!("postgres://postgres:secret-pw@127.0.0.1:{}/none", closed_port());
    let storage = PgStorage::new(
        &url,
        &PgOptions {
            pool_size: 1,
            ..sesame_options()
        },
    )
    .unwrap();
    let started = std::time::Instant::now();
    let err = storage
        .wait_until_reachable(Duration::from_millis(700))
        .unwrap_err()
        .to_string();
    assert!(started.elapsed() >= Duration::from_millis(700));
    assert!(
        err.contains("did not answer within") && err.contains("SESAME_POSTGRES_STARTUP_TIMEOUT"),
        "{err}"
    );
    assert!(!err.contains("secret-pw"), "the password never appears in messages");
    // Through the app's entry point too.
    let mut config = Config::for_tests();
    config.postgres_startup_timeout = 0;
    config.storage = sesame::config::StorageUrl::Postgres(sesame::config::Secret::new(url));
    let err = sesame::App::from_config(config)
        .err()
        .expect("start-up fails")
        .to_string();
    assert!(err.contains("did not answer"), "{err}");
}

fn sesame_options() -> PgOptions {
    PgOptions::from_config(&Config::for_tests())
}
