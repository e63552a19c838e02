//! The whole HTTP pipeline (`App::handle_http`: base path, router, body parsing, CSRF and
//! redirect checks, handlers) with arbitrary method, path, headers and body. Input layout:
//! `method byte, path, '\n', header lines ("name: value"), "\n\n", body`.
//! Oracle: no panic, never a 5xx, every error is JSON with a `code`.

use std::sync::OnceLock;

use sesame::http::{Method, Request};
use sesame::{App, Config};

const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "BREW", ""];

fn app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| match App::from_config(Config::for_tests()) {
        Ok(app) => app,
        Err(e) => panic!("app: {e:#}"),
    })
}

/// The oracle: panics on any violation. Fed by libFuzzer (`fuzz_targets/`) and, on stable,
/// by the corpus replay test (`tests/fuzz_replay.rs`).
pub fn check(data: &[u8]) {
    let Some((&m, rest)) = data.split_first() else { return };
    let method = METHODS[m as usize % METHODS.len()];
    let (head, body) = match rest.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&rest[..i], &rest[i + 2..]),
        None => (rest, &[][..]),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split('\n');
    let target = lines.next().unwrap_or_default();
    let mut req = Request::new(Method::parse(method), &format!("/api/auth{target}"));
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            req = req.with_header(k.trim(), v.trim());
        }
    }
    req.body = body.to_vec();
    req.remote_addr = Some(std::net::IpAddr::from([127, 0, 0, 1]));
    let resp = app().handle_http(req);
    assert!(
        resp.status < 500,
        "status {} body {}",
        resp.status,
        String::from_utf8_lossy(&resp.body)
    );
    if resp.status >= 400 {
        let v: serde_json::Value = serde_json::from_slice(&resp.body).expect("error body is JSON");
        assert!(v["code"].is_string(), "error without code: {v}");
        assert_eq!(v["status"], resp.status);
    }
}
