//! The hashing pool: only the password hash itself leaves the worker. A request that will be
//! refused is refused before any hashing; a pool that cannot take a hash answers 503
//! `SERVER_BUSY` with `Retry-After`; a worker waiting for a hash leaves its seat, so session
//! checks are answered meanwhile. The pool is held full with `HashPool::hold` (no timing).

use serde_json::json;
use sesame::ApiInput;

use crate::backend_suite;
use crate::support::{http_client, Backend, TestApp, ORIGIN, PASSWORD};

const JSON: (&str, &str) = ("content-type", "application/json");

fn jobs(t: &TestApp) -> u64 {
    t.app.metrics.hash_jobs.get()
}

fn sign_in_body(email: &str) -> Vec<u8> {
    json!({"email": email, "password": PASSWORD}).to_string().into_bytes()
}

/// The error shape, a 503 `SERVER_BUSY` and its `Retry-After`.
fn assert_busy(resp: &http_client::RawResponse) {
    assert_eq!(resp.status, 503, "{}", String::from_utf8_lossy(&resp.body));
    let body = resp.json();
    assert_eq!(body["code"], "SERVER_BUSY", "{body}");
    assert_eq!(body["status"], 503);
    assert!(body["message"].is_string());
    assert_eq!(resp.header("retry-after"), Some("1"));
}

/// Polls (bounded) until `n` hashes wait in the queue.
fn wait_for_queue(t: &TestApp, n: i64) {
    for _ in 0..2000 {
        if t.app.metrics.hash_queue_depth.get() == n {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    panic!("the queue never held {n}");
}

/// A path, a body, extra headers, and the status and code expected.
type Case = (
    &'static str,
    serde_json::Value,
    &'static [(&'static str, &'static str)],
    u16,
    &'static str,
);

fn invalid_requests_to_hashing_routes_are_answered_without_entering_the_pool(backend: Backend) {
    // A held pool with a short start deadline: a request that did reach the pool would be
    // answered 503, not its own 4xx, and would count a job.
    let t = TestApp::with_config(backend, |c| {
        c.hash_threads = 1;
        c.hash_queue = 1;
        c.hash_start_timeout_ms = 50;
    });
    let (_, cookies) = t.sign_up("pool@example.com");
    let server = http_client::spawn(t.app.clone());
    let _held = t.app.hash_pool.hold();
    let before = jobs(&t);

    // Malformed JSON to every route declared as hashing.
    let hashing: Vec<_> = t
        .app
        .router
        .routes()
        .iter()
        .filter(|r| r.slow)
        .map(|r| r.path)
        .collect();
    assert!(
        hashing.contains(&"/sign-up/email") && hashing.contains(&"/sign-in/email"),
        "{hashing:?}"
    );
    for path in &hashing {
        let resp = http_client::send(
            server.addr,
            "POST",
            &format!("/api/auth{path}"),
            &[JSON, ("cookie", &cookies), ("origin", ORIGIN)],
            b"{\"email\": ",
        );
        assert_eq!(resp.status, 400, "{path}: {}", String::from_utf8_lossy(&resp.body));
        assert_eq!(resp.json()["code"], "BAD_REQUEST", "{path}");
    }
    let cases: [Case; 5] = [
        (
            "/sign-up/email",
            json!({"name": "N", "email": "not-an-email", "password": PASSWORD}),
            &[],
            400,
            "VALIDATION_ERROR",
        ),
        (
            "/sign-up/email",
            json!({"name": "N", "email": "short@example.com", "password": "short"}),
            &[],
            400,
            "PASSWORD_TOO_SHORT",
        ),
        (
            "/sign-in/email",
            json!({"email": "pool@example.com"}),
            &[],
            400,
            "VALIDATION_ERROR",
        ),
        (
            "/sign-in/email",
            json!({"email": "pool@example.com", "password": PASSWORD}),
            &[("origin", "http://evil.example")],
            403,
            "INVALID_ORIGIN",
        ),
        (
            "/change-password",
            json!({"currentPassword": PASSWORD, "newPassword": "another-password-1"}),
            &[("origin", ORIGIN)],
            401,
            "UNAUTHORIZED",
        ),
    ];
    for (path, body, headers, status, code) in cases {
        let mut h = vec![JSON];
        h.extend_from_slice(headers);
        let evil_with_cookie = headers.iter().any(|(_, v)| v.contains("evil"));
        if evil_with_cookie {
            h.push(("cookie", &cookies));
        }
        let resp = http_client::send(
            server.addr,
            "POST",
            &format!("/api/auth{path}"),
            &h,
            body.to_string().as_bytes(),
        );
        assert_eq!(
            resp.status,
            status,
            "{path} {body}: {}",
            String::from_utf8_lossy(&resp.body)
        );
        assert_eq!(resp.json()["code"], code, "{path} {body}");
    }
    // The in-process API validates on the caller's thread the same way.
    let err = t
        .app
        .call(
            "signUpEmail",
            ApiInput::new().body(json!({"name": "N", "email": "not-an-email", "password": PASSWORD})),
        )
        .unwrap_err();
    assert_eq!((err.status, err.code.as_ref()), (400, "VALIDATION_ERROR"));

    assert_eq!(jobs(&t), before, "no invalid request entered the pool");
    assert_eq!(t.app.metrics.hash_rejected.get(), 0);
    server.stop();
}

fn a_full_pool_answers_503_with_retry_after_and_sessions_are_still_answered(backend: Backend) {
    // One worker seat: the sign-in waiting for its hash must give it up, or the session check
    // below would never be taken.
    let t = TestApp::with_config(backend, |c| {
        c.hash_threads = 1;
        c.hash_queue = 1;
        c.workers = 1;
    });
    let (_, cookies) = t.sign_up("full@example.com");
    let server = http_client::spawn(t.app.clone());
    let addr = server.addr;
    let held = t.app.hash_pool.hold();
    let before = jobs(&t);

    // The first sign-in takes the one queue place and waits there.
    let waiting = std::thread::spawn(move || {
        http_client::send(
            addr,
            "POST",
            "/api/auth/sign-in/email",
            &[JSON],
            &sign_in_body("full@example.com"),
        )
    });
    wait_for_queue(&t, 1);

    // The next one finds the queue full: 503 at once, over HTTP and in-process.
    let resp = http_client::send(
        addr,
        "POST",
        "/api/auth/sign-in/email",
        &[JSON],
        &sign_in_body("full@example.com"),
    );
    assert_busy(&resp);
    let err = t
        .app
        .call(
            "signInEmail",
            ApiInput::new().body(json!({"email": "full@example.com", "password": PASSWORD})),
        )
        .unwrap_err();
    assert_eq!((err.status, err.code.as_ref()), (503, "SERVER_BUSY"));
    assert!(
        err.headers.iter().any(|(k, v)| k == "retry-after" && v == "1"),
        "{err:?}"
    );
    assert_eq!(t.app.metrics.hash_rejected.get(), 2);

    // The only worker seat is free for a session check while the sign-in waits.
    let session = http_client::send(addr, "GET", "/api/auth/get-session", &[("cookie", &cookies)], b"");
    assert_eq!(session.status, 200);
    assert_eq!(session.json()["user"]["email"], "full@example.com");

    drop(held);
    let signed_in = waiting.join().unwrap();
    assert_eq!(signed_in.status, 200, "{}", String::from_utf8_lossy(&signed_in.body));
    assert_eq!(signed_in.json()["user"]["email"], "full@example.com");
    assert_eq!(jobs(&t), before + 1, "only the admitted sign-in was hashed");
    assert_eq!(t.app.metrics.hash_queue_depth.get(), 0);
    server.stop();
}

fn a_hash_that_cannot_start_in_time_answers_503_with_retry_after(backend: Backend) {
    let t = TestApp::with_config(backend, |c| {
        c.hash_threads = 1;
        c.hash_queue = 4;
        c.hash_start_timeout_ms = 50;
    });
    t.sign_up("late@example.com");
    let server = http_client::spawn(t.app.clone());
    let held = t.app.hash_pool.hold();

    let resp = http_client::send(
        server.addr,
        "POST",
        "/api/auth/sign-in/email",
        &[JSON],
        &sign_in_body("late@example.com"),
    );
    assert_busy(&resp);
    let err = t
        .app
        .call(
            "signUpEmail",
            ApiInput::new().body(json!({"name": "L", "email": "late2@example.com", "password": PASSWORD})),
        )
        .unwrap_err();
    assert_eq!((err.status, err.code.as_ref()), (503, "SERVER_BUSY"));
    assert_eq!(t.app.metrics.hash_rejected.get(), 2);
    assert_eq!(
        t.app.metrics.hash_queue_depth.get(),
        0,
        "withdrawn hashes leave the queue"
    );
    // Nothing was written for the refused sign-up.
    assert!(t.storage().find_user_by_email("late2@example.com").unwrap().is_none());

    drop(held);
    let resp = http_client::send(
        server.addr,
        "POST",
        "/api/auth/sign-in/email",
        &[JSON],
        &sign_in_body("late@example.com"),
    );
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    server.stop();
}

fn admin_create_user_and_set_user_password_hash_on_the_pool(backend: Backend) {
    let t = TestApp::with_config(backend, |c| {
        c.plugins = vec!["admin".into()];
        c.hash_threads = 1;
        c.hash_queue = 1;
        c.hash_start_timeout_ms = 50;
    });
    let (resp, _) = t.sign_up("root@example.com");
    let admin_id = crate::support::json_body(&resp)["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let update = sesame::storage::models::UserUpdate {
        role: Some(Some("admin".into())),
        ..Default::default()
    };
    t.storage()
        .update_user(&admin_id, &update, sesame::clock::Clock::now(&*t.clock))
        .unwrap()
        .unwrap();
    let admin = crate::support::cookie_header(&t.sign_in("root@example.com", PASSWORD));
    let create = |email: &str| {
        t.post_with_cookies(
            "/admin/create-user",
            json!({"email": email, "name": "New", "password": PASSWORD}),
            &admin,
        )
    };

    let before = jobs(&t);
    let created = create("new@example.com");
    assert_eq!(created.status, 200, "{}", String::from_utf8_lossy(&created.body));
    assert_eq!(jobs(&t), before + 1, "create-user hashed on the pool");
    let id = crate::support::json_body(&created)["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // A taken address is refused before any hash.
    let taken = create("new@example.com");
    crate::support::assert_error(&taken, 400, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL");
    assert_eq!(jobs(&t), before + 1);

    let set = |pass: &str| {
        t.post_with_cookies(
            "/admin/set-user-password",
            json!({"userId": id, "newPassword": pass}),
            &admin,
        )
    };
    let resp = set("a-new-password-1");
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    assert_eq!(jobs(&t), before + 2, "set-user-password hashed on the pool");
    assert_eq!(t.sign_in("new@example.com", "a-new-password-1").status, 200);

    // A held pool: both answer 503 and write nothing.
    let held = t.app.hash_pool.hold();
    let busy = create("busy@example.com");
    crate::support::assert_error(&busy, 503, "SERVER_BUSY");
    assert!(t.storage().find_user_by_email("busy@example.com").unwrap().is_none());
    crate::support::assert_error(&set("yet-another-password-1"), 503, "SERVER_BUSY");
    drop(held);
    assert_eq!(t.sign_in("new@example.com", "a-new-password-1").status, 200);
    assert_eq!(t.app.metrics.hash_rejected.get(), 2);
}

backend_suite!(
    admin_create_user_and_set_user_password_hash_on_the_pool,
    invalid_requests_to_hashing_routes_are_answered_without_entering_the_pool,
    a_full_pool_answers_503_with_retry_after_and_sessions_are_still_answered,
    a_hash_that_cannot_start_in_time_answers_503_with_retry_after,
);
