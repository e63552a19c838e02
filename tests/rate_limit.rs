//! Rate limiting over the HTTP pipeline (spec §9.3) and client-IP resolution (§9.4): the
//! 429 shape, per-client and per-path buckets, unknown paths counted, in-process calls free,
//! overrides, and `X-Forwarded-For` believed only from trusted proxies.

use std::net::IpAddr;

use serde_json::json;
use sesame::http::{Method, Request, Response};
use sesame::ApiInput;

use crate::support::{assert_error, json_body, Backend, TestApp, BASE, PASSWORD};

fn limited(backend: Backend, adjust: impl FnOnce(&mut sesame::Config)) -> TestApp {
    TestApp::with_config(backend, |c| {
        c.rate_limit = true;
        adjust(c);
    })
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn sign_in_from(t: &TestApp, peer: &str, xff: Option<&str>) -> Response {
    let mut req = Request::post(&format!("{BASE}/sign-in/email"))
        .with_json(&json!({"email": "nobody@example.com", "password": "wrong-password"}))
        .with_remote_addr(ip(peer));
    if let Some(x) = xff {
        req = req.with_header("x-forwarded-for", x);
    }
    t.send(req)
}

fn assert_limited(resp: &Response, retry_after: &str) {
    assert_error(resp, 429, "RATE_LIMITED");
    assert_eq!(json_body(resp)["message"], "Too many requests. Please try again later.");
    assert_eq!(resp.header("x-retry-after"), Some(retry_after));
    assert_eq!(resp.header("retry-after"), Some(retry_after));
    assert_eq!(resp.header("content-type"), Some("application/json"));
}

fn fourth_sign_in_is_limited_per_client(b: &TestApp) {
    let t = limited(b.backend, |_| {});
    for _ in 0..3 {
        assert_error(&sign_in_from(&t, "203.0.113.1", None), 401, "INVALID_EMAIL_OR_PASSWORD");
    }
    assert_limited(&sign_in_from(&t, "203.0.113.1", None), "10");
    // another client, and another path of the same client, have buckets of their own
    assert_eq!(sign_in_from(&t, "203.0.113.2", None).status, 401);
    let resp = t.send(Request::get(&format!("{BASE}/ok")).with_remote_addr(ip("203.0.113.1")));
    assert_eq!(resp.status, 200);
    // the window slides from the last allowed request
    t.clock.advance(time::Duration::seconds(9));
    assert_limited(&sign_in_from(&t, "203.0.113.1", None), "1");
    t.clock.advance(time::Duration::seconds(1));
    assert_eq!(sign_in_from(&t, "203.0.113.1", None).status, 401);
}

fn unknown_paths_and_bad_bodies_are_counted(b: &TestApp) {
    let t = limited(b.backend, |_| {});
    let peer = ip("198.51.100.4");
    for i in 0..100 {
        let path = if i % 2 == 0 {
            format!("{BASE}/nope-{i}")
        } else {
            format!("/elsewhere/{i}")
        };
        assert_error(&t.send(Request::get(&path).with_remote_addr(peer)), 404, "NOT_FOUND");
    }
    assert_limited(
        &t.send(Request::get(&format!("{BASE}/again")).with_remote_addr(peer)),
        "10",
    );
    // malformed bodies on a real route count before the body is even parsed
    let bad = || {
        Request::post(&format!("{BASE}/sign-up/email"))
            .with_body("application/json", b"{not json")
            .with_remote_addr(ip("198.51.100.5"))
    };
    for _ in 0..3 {
        assert_error(&t.send(bad()), 400, "BAD_REQUEST");
    }
    assert_limited(&t.send(bad()), "10");
}

fn in_process_calls_are_never_limited(b: &TestApp) {
    let t = limited(b.backend, |_| {});
    for _ in 0..10 {
        let err = t
            .app
            .call(
                "signInEmail",
                ApiInput::new().body(json!({"email": "x@example.com", "password": "wrong-password"})),
            )
            .unwrap_err();
        assert_eq!(err.status, 401);
    }
}

fn overrides_and_switch_off(b: &TestApp) {
    let t = limited(b.backend, |c| {
        c.rate_limit_rules = sesame::ratelimit::rules::parse("/sign-in/email=5/60, /ok=off").unwrap();
    });
    for _ in 0..5 {
        assert_eq!(sign_in_from(&t, "203.0.113.9", None).status, 401);
    }
    assert_limited(&sign_in_from(&t, "203.0.113.9", None), "60");
    for _ in 0..150 {
        let resp = t.send(Request::get(&format!("{BASE}/ok")).with_remote_addr(ip("203.0.113.9")));
        assert_eq!(resp.status, 200);
    }
    let off = TestApp::with_config(b.backend, |c| c.rate_limit = false);
    for _ in 0..10 {
        assert_eq!(sign_in_from(&off, "203.0.113.9", None).status, 401);
    }
}

fn forwarded_for_is_ignored_without_trusted_proxies(b: &TestApp) {
    let t = limited(b.backend, |_| {});
    // a client rotating forged X-Forwarded-For values still has one bucket: its socket address
    for i in 0..3 {
        let forged = format!("192.0.2.{i}");
        assert_eq!(sign_in_from(&t, "203.0.113.20", Some(&forged)).status, 401);
    }
    assert_limited(&sign_in_from(&t, "203.0.113.20", Some("192.0.2.99")), "10");
    // IPv4-mapped IPv6 is the same client as its IPv4 form
    assert_limited(&sign_in_from(&t, "::ffff:203.0.113.20", None), "10");
    // IPv6 clients are grouped by /64
    for host in ["2001:db8:5::1", "2001:db8:5::2", "2001:db8:5::3"] {
        assert_eq!(sign_in_from(&t, host, None).status, 401);
    }
    assert_limited(&sign_in_from(&t, "2001:db8:5::ffff", None), "10");
    assert_eq!(sign_in_from(&t, "2001:db8:6::1", None).status, 401);
}

fn trusted_proxies_walk_forwarded_for_from_the_right(b: &TestApp) {
    let t = limited(b.backend, |c| {
        c.trusted_proxies = sesame::http::client_ip::parse_proxies("10.0.0.0/8").unwrap();
    });
    // two clients behind the same two proxies: separate buckets, whatever they prepend
    for _ in 0..3 {
        assert_eq!(
            sign_in_from(&t, "10.0.0.1", Some("6.6.6.6, 198.51.100.1, 10.0.0.7")).status,
            401
        );
    }
    assert_limited(
        &sign_in_from(&t, "10.0.0.1", Some("7.7.7.7, 198.51.100.1, 10.0.0.7")),
        "10",
    );
    assert_eq!(
        sign_in_from(&t, "10.0.0.1", Some("6.6.6.6, 198.51.100.2, 10.0.0.7")).status,
        401
    );
    // an untrusted peer's header is not believed
    for _ in 0..3 {
        assert_eq!(sign_in_from(&t, "203.0.113.50", Some("198.51.100.3")).status, 401);
    }
    assert_eq!(sign_in_from(&t, "10.0.0.1", Some("198.51.100.3")).status, 401);

    // the session records the same resolved address
    let req = Request::post(&format!("{BASE}/sign-up/email"))
        .with_json(&json!({"name": "Proxied", "email": "proxied@example.com", "password": PASSWORD}))
        .with_remote_addr(ip("10.0.0.1"))
        .with_header("x-forwarded-for", "1.2.3.4, 198.51.100.77, 10.0.0.9");
    let resp = t.send(req);
    assert_eq!(resp.status, 200);
    let cookies = crate::support::cookie_header(&resp);
    let session = json_body(&t.get("/get-session", Some(&cookies)));
    assert_eq!(session["session"]["ipAddress"], "198.51.100.77");
}

fn session_ip_is_the_peer_without_proxies(b: &TestApp) {
    let t = TestApp::new(b.backend);
    let req = Request::new(Method::Post, &format!("{BASE}/sign-up/email"))
        .with_json(&json!({"name": "V6", "email": "v6@example.com", "password": PASSWORD}))
        .with_remote_addr(ip("2001:db8::abcd"))
        .with_header("x-forwarded-for", "1.2.3.4");
    let resp = t.send(req);
    let cookies = crate::support::cookie_header(&resp);
    let session = json_body(&t.get("/get-session", Some(&cookies)));
    assert_eq!(
        session["session"]["ipAddress"],
        "2001:0db8:0000:0000:0000:0000:0000:0000"
    );
}

fn mail_sending_paths_allow_three_a_minute(b: &TestApp) {
    let t = limited(b.backend, |_| {});
    for path in ["/request-password-reset", "/send-verification-email"] {
        let send = || {
            t.send(
                Request::post(&format!("{BASE}{path}"))
                    .with_json(&json!({"email": "someone@example.com", "redirectTo": "/reset"}))
                    .with_remote_addr(ip("203.0.113.60")),
            )
        };
        for _ in 0..3 {
            assert!(send().status < 429, "{path}");
        }
        assert_limited(&send(), "60");
    }
}

crate::suite!(
    mail_sending_paths_allow_three_a_minute,
    fourth_sign_in_is_limited_per_client,
    unknown_paths_and_bad_bodies_are_counted,
    in_process_calls_are_never_limited,
    overrides_and_switch_off,
    forwarded_for_is_ignored_without_trusted_proxies,
    trusted_proxies_walk_forwarded_for_from_the_right,
    session_ip_is_the_peer_without_proxies,
);

#[test]
fn rate_limiting_is_on_by_default() {
    let c = sesame::Config::from_vars(&Default::default()).unwrap();
    assert!(c.rate_limit);
    let vars = [("SESAME_RATE_LIMIT".to_string(), "false".to_string())]
        .into_iter()
        .collect();
    assert!(!sesame::Config::from_vars(&vars).unwrap().rate_limit);
}

/// The same sequence of checks gives the same decisions from every store.
fn store_contract(store: &dyn sesame::ratelimit::RateLimitStore) {
    use sesame::ratelimit::{Decision, Rule};
    let rule = Rule {
        window_secs: 10,
        max: 3,
    };
    let t0 = 1_800_000_000_000i64;
    let key = format!("contract|{}", sesame::crypto::new_id());
    let d = |at: i64| store.consume(&key, rule, t0 + at).unwrap();
    assert_eq!(d(0), Decision::Allowed);
    assert_eq!(d(1_000), Decision::Allowed);
    assert_eq!(d(2_000), Decision::Allowed);
    assert_eq!(d(2_500), Decision::Blocked { retry_after: 10 });
    assert_eq!(d(11_001), Decision::Blocked { retry_after: 1 });
    // the window slides from the last allowed request (2 000), not from the refusals
    assert_eq!(d(12_000), Decision::Allowed);
    assert_eq!(d(12_001), Decision::Allowed);
    assert_eq!(d(12_002), Decision::Allowed);
    assert_eq!(d(12_003), Decision::Blocked { retry_after: 10 });
    // other keys and rules are independent
    let other = format!("contract|{}", sesame::crypto::new_id());
    let mail = Rule {
        window_secs: 60,
        max: 1,
    };
    assert_eq!(store.consume(&other, mail, t0).unwrap(), Decision::Allowed);
    assert_eq!(
        store.consume(&other, mail, t0 + 1).unwrap(),
        Decision::Blocked { retry_after: 60 }
    );
}

#[test]
fn memory_store_contract() {
    store_contract(&sesame::ratelimit::memory::MemoryRateLimitStore::default());
}

/// With `SESAME_RATE_LIMIT_STORAGE=database` on PostgreSQL or SQLite, buckets live in the shared table:
/// the same contract, two processes counting into one bucket, and exact counting under
/// concurrency. Skipped (with a message) only when PostgreSQL is unreachable outside CI.
#[test]
fn postgres_store_is_shared_and_exact() {
    database_store_is_shared_and_exact(Backend::Postgres, "postgres");
}

#[test]
fn sqlite_store_is_shared_and_exact() {
    database_store_is_shared_and_exact(Backend::Sqlite, "sqlite");
}

fn database_store_is_shared_and_exact(backend: Backend, kind: &str) {
    let Some(t) = TestApp::try_with_config(backend, |c| {
        c.rate_limit = true;
        c.rate_limit_storage = sesame::ratelimit::StoreKind::Database;
    }) else {
        return;
    };
    assert_eq!(t.app.rate_limiter.store_kind(), kind);
    let store = t
        .app
        .storage
        .clone()
        .rate_limit_store()
        .expect("the backend has a rate-limit table");
    store_contract(store.as_ref());

    // a second app on the same storage shares the sign-in bucket (two real processes:
    // `two_processes_share_buckets_*` below)
    let other = sesame::App::new(t.app.config.clone(), t.app.storage.clone(), t.clock.clone()).unwrap();
    assert_eq!(sign_in_from(&t, "203.0.113.77", None).status, 401);
    assert_eq!(sign_in_from(&t, "203.0.113.77", None).status, 401);
    let req = || {
        Request::post(&format!("{BASE}/sign-in/email"))
            .with_json(&json!({"email": "nobody@example.com", "password": "wrong-password"}))
            .with_remote_addr(ip("203.0.113.77"))
    };
    assert_eq!(other.handle_http(req()).status, 401);
    assert_limited(&other.handle_http(req()), "10");
    assert_limited(&sign_in_from(&t, "203.0.113.77", None), "10");

    // 24 concurrent checks of one fresh bucket with max 5: exactly 5 pass
    let rule = sesame::ratelimit::Rule {
        window_secs: 60,
        max: 5,
    };
    let key = format!("race|{}", sesame::crypto::new_id());
    let allowed = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..24 {
            s.spawn(|| {
                if store.consume(&key, rule, 1_800_000_000_000).unwrap() == sesame::ratelimit::Decision::Allowed {
                    allowed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            });
        }
    });
    assert_eq!(allowed.into_inner(), 5);
}

/// Two `sesame serve` processes on one database with `storage`, the given rule, no other
/// limits in the way; both killed when dropped.
fn two_processes(database_url: &str, storage: &str, rule: &str) -> [crate::support::binary::Served; 2] {
    let env = [
        ("DATABASE_URL", database_url),
        ("SESAME_RATE_LIMIT", "true"),
        ("SESAME_RATE_LIMIT_STORAGE", storage),
        ("SESAME_RATE_LIMIT_RULES", rule),
    ];
    [crate::support::binary::serve(&env), crate::support::binary::serve(&env)]
}

fn sign_in_at(addr: std::net::SocketAddr) -> crate::support::http_client::RawResponse {
    crate::support::http_client::send(
        addr,
        "POST",
        "/api/auth/sign-in/email",
        &[("content-type", "application/json")],
        json!({"email": "nobody@example.com", "password": "wrong-password"})
            .to_string()
            .as_bytes(),
    )
}

/// With `SESAME_RATE_LIMIT_STORAGE=database`, two real processes on one database count a
/// client's requests in one bucket: the fourth is refused whichever process it reaches. (With
/// `memory` each process would allow three.) The window is an hour, so no tick of the real
/// clock resets it.
fn two_processes_share_buckets(database_url: &str) {
    let [a, b] = two_processes(database_url, "database", "/ok=3/3600");
    let ok = |addr| crate::support::http_client::send(addr, "GET", "/api/auth/ok", &[], b"");
    for addr in [a.addr, b.addr, a.addr] {
        assert_eq!(ok(addr).status, 200);
    }
    for addr in [b.addr, a.addr] {
        let resp = ok(addr);
        assert_eq!(resp.status, 429, "{}", String::from_utf8_lossy(&resp.body));
        assert_eq!(resp.json()["code"], "RATE_LIMITED");
    }
    // Another path of the same client has a bucket of its own.
    assert_eq!(sign_in_at(b.addr).status, 401);
}

#[test]
fn two_processes_share_buckets_on_sqlite() {
    let file = crate::support::sqlite::SqliteFile::new();
    two_processes_share_buckets(&format!("sqlite:{}", file.path.display()));
}

#[test]
fn two_processes_share_buckets_on_postgres() {
    let Some(schema) = crate::support::postgres::PgSchema::create() else {
        return;
    };
    two_processes_share_buckets(&schema.url());
}

/// Password attempts are counted in the database even when the other buckets live in each
/// process's memory: an attacker spreading sign-ins over the processes behind a load balancer
/// still gets the sign-in limit once, not once per process.
#[test]
fn two_processes_share_password_attempts_even_with_memory_buckets() {
    let file = crate::support::sqlite::SqliteFile::new();
    let [a, b] = two_processes(
        &format!("sqlite:{}", file.path.display()),
        "memory",
        "/sign-in/email=3/3600",
    );
    for addr in [a.addr, b.addr, a.addr] {
        assert_eq!(sign_in_at(addr).status, 401);
    }
    // b has seen two sign-ins of its own: only the shared attempt count refuses this one.
    let resp = sign_in_at(b.addr);
    assert_eq!(resp.status, 429, "{}", String::from_utf8_lossy(&resp.body));
    assert_eq!(resp.json()["code"], "RATE_LIMITED");
}

#[test]
fn database_storage_falls_back_to_memory_without_a_table() {
    let t = limited(Backend::Memory, |c| {
        c.rate_limit_storage = sesame::ratelimit::StoreKind::Database
    });
    assert_eq!(t.app.rate_limiter.store_kind(), "memory");
    for _ in 0..3 {
        assert_eq!(sign_in_from(&t, "203.0.113.78", None).status, 401);
    }
    assert_limited(&sign_in_from(&t, "203.0.113.78", None), "10");
}

/// By default (`SESAME_RATE_LIMIT_STORAGE` unset) on PostgreSQL, the strict rules' buckets
/// live in the database and the general rule's in memory; elsewhere all in memory.
#[test]
fn by_default_only_postgres_shares_the_strict_buckets() {
    for (backend, general, strict) in [
        (Backend::Memory, "memory", "memory"),
        (Backend::Sqlite, "memory", "memory"),
        (Backend::Postgres, "memory", "postgres"),
    ] {
        let Some(t) = TestApp::try_with_config(backend, |c| c.rate_limit = true) else {
            continue;
        };
        assert_eq!(t.app.config.rate_limit_storage, sesame::ratelimit::StoreKind::Auto);
        assert_eq!(t.app.rate_limiter.store_kind(), general, "{backend:?}");
        assert_eq!(t.app.rate_limiter.strict_store_kind(), strict, "{backend:?}");
    }
}

/// Two `sesame serve` processes on one PostgreSQL with the default storage: wrong passwords
/// for different accounts (so the per-account buckets stay below their limit) spread over
/// both reach 429 on the fourth, as one process would; the general rule (`/ok`) still counts
/// per process.
#[test]
fn two_processes_on_postgres_share_the_strict_limits_by_default() {
    let Some(schema) = crate::support::postgres::PgSchema::create() else {
        return;
    };
    let env = [
        ("DATABASE_URL", schema.url()),
        ("SESAME_RATE_LIMIT", "true".to_string()),
        // An hour, so no tick of the real clock resets the buckets.
        (
            "SESAME_RATE_LIMIT_RULES",
            "/sign-in/email=3/3600,/ok=2/3600".to_string(),
        ),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let [a, b] = [crate::support::binary::serve(&env), crate::support::binary::serve(&env)];
    let sign_in = |addr, n: usize| {
        crate::support::http_client::send(
            addr,
            "POST",
            "/api/auth/sign-in/email",
            &[("content-type", "application/json")],
            json!({"email": format!("nobody{n}@example.com"), "password": "wrong-password"})
                .to_string()
                .as_bytes(),
        )
    };
    for (n, addr) in [a.addr, b.addr, a.addr].into_iter().enumerate() {
        assert_eq!(sign_in(addr, n).status, 401);
    }
    let resp = sign_in(b.addr, 3);
    assert_eq!(resp.status, 429, "{}", String::from_utf8_lossy(&resp.body));
    assert_eq!(resp.json()["code"], "RATE_LIMITED");
    assert_eq!(sign_in(a.addr, 4).status, 429);
    // The general rule stays per process: two on each.
    let ok = |addr| crate::support::http_client::send(addr, "GET", "/api/auth/ok", &[], b"").status;
    assert_eq!([ok(a.addr), ok(a.addr), ok(b.addr), ok(b.addr)], [200; 4]);
    assert_eq!([ok(a.addr), ok(b.addr)], [429; 2]);
}
