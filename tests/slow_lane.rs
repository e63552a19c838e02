//! The slow lane: password-hashing requests run on their own bounded pool, so they neither
//! block session checks nor queue without bound.

use std::sync::mpsc;
use std::time::Instant;

use serde_json::json;

use crate::support::{http_client, Backend, TestApp, PASSWORD};

fn sign_in_body(email: &str) -> Vec<u8> {
    json!({"email": email, "password": PASSWORD}).to_string().into_bytes()
}

#[test]
fn session_checks_are_answered_while_hashing_is_saturated_and_overflow_gets_503() {
    // One slow thread, one queue place, and a hash slow enough (bcrypt 13, ~0.5 s) that the
    // sign-ins below overlap.
    let t = TestApp::with_config(Backend::Memory, |c| {
        c.bcrypt_cost = 13;
        c.hash_threads = 1;
        c.hash_queue = 1;
        c.workers = 4;
    });
    let (_, cookies) = t.sign_up("lane@example.com");
    let server = http_client::spawn(t.app.clone());
    let addr = server.addr;

    let (tx, rx) = mpsc::channel();
    let storm: Vec<_> = (0..6)
        .map(|_| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let resp = http_client::send(
                    addr,
                    "POST",
                    "/api/auth/sign-in/email",
                    &[("content-type", "application/json")],
                    &sign_in_body("lane@example.com"),
                );
                tx.send((
                    "sign-in",
                    resp.status,
                    resp.json()["code"].as_str().unwrap_or("").to_string(),
                    Instant::now(),
                ))
                .unwrap();
            })
        })
        .collect();
    // The first refusal is the event that the lane is full: one hash running, one queued,
    // about a second of hashing still ahead. (Nothing else answers as fast.)
    let mut results = Vec::new();
    while !results.iter().any(|r: &(&str, u16, String, Instant)| r.1 == 503) {
        let r = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("a sign-in answered");
        assert!(
            r.1 == 503 || results.len() < 2,
            "three sign-ins done before any refusal: {r:?}"
        );
        results.push(r);
    }
    let resp = http_client::send(addr, "GET", "/api/auth/get-session", &[("cookie", &cookies)], b"");
    let session_answered = Instant::now();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["user"]["email"], "lane@example.com");
    for h in storm {
        h.join().unwrap();
    }
    drop(tx);
    results.extend(rx.iter());
    let ok: Vec<_> = results.iter().filter(|r| r.1 == 200).collect();
    let busy: Vec<_> = results.iter().filter(|r| r.1 == 503).collect();
    assert_eq!(ok.len() + busy.len(), 6, "{results:?}");
    assert!(busy.iter().all(|r| r.2 == "SERVER_BUSY"), "{results:?}");
    assert!(!busy.is_empty(), "a full queue refuses at once: {results:?}");
    // What the lane accepted (the running request and the one queue place) completes.
    assert!((1..=2).contains(&ok.len()), "{results:?}");
    // The session check did not wait behind the hashing: it was answered before the last
    // successful sign-in finished.
    assert!(
        ok.iter().any(|r| r.3 > session_answered),
        "get-session waited for the sign-ins"
    );
    server.stop();
}
