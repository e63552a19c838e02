//! Security details, one test each: `nosniff` everywhere, `no-store` on credentials, the HTML
//! error page escapes, open redirects refused on every route, secret comparisons routed through
//! `constant_time_eq` (measured in `timing.rs`),
//! weak secrets refused for https. (Nothing sensitive in the logs: `logs.rs`, on the binary's
//! own log.)

use serde_json::json;
use sesame::http::{Method, Request};

use crate::support::{assert_error, body_text, cookie_header, http_client, Backend, TestApp, BASE, ORIGIN, PASSWORD};

fn every_answer_is_nosniff(t: &TestApp) {
    let (_, cookies) = t.sign_up("nosniff@example.com");
    let answers = [
        t.get("/ok", None),
        t.get("/nope", None),
        t.get("/get-session", Some(&cookies)),
        t.get("/error?error=X", None),
        t.send(Request::new(Method::Delete, &format!("{BASE}/ok"))),
        t.send(Request::post(&format!("{BASE}/sign-in/email")).with_body("text/plain", b"x")),
        t.post(
            "/sign-in/email",
            json!({"email": "nosniff@example.com", "password": "wrong-password"}),
        ),
    ];
    for resp in &answers {
        assert_eq!(
            resp.header("x-content-type-options"),
            Some("nosniff"),
            "status {}",
            resp.status
        );
    }
}

fn credentials_are_never_cached(t: &TestApp) {
    let (resp, cookies) = t.sign_up("nostore@example.com");
    assert_eq!(resp.header("cache-control"), Some("no-store"), "sign-up");
    let resp = t.sign_in("nostore@example.com", PASSWORD);
    assert_eq!(resp.header("cache-control"), Some("no-store"), "sign-in");
    let resp = t.get("/get-session", Some(&cookies));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("cache-control"), Some("no-store"), "get-session");
    let resp = t.get("/list-sessions", Some(&cookies));
    assert_eq!(resp.header("cache-control"), Some("no-store"), "list-sessions");
    let resp = t.post_with_cookies(
        "/change-password",
        json!({"currentPassword": PASSWORD, "newPassword": "another-good-password", "revokeOtherSessions": true}),
        &cookies,
    );
    assert_eq!(resp.status, 200, "{}", body_text(&resp));
    assert_eq!(resp.header("cache-control"), Some("no-store"), "change-password");
    let resp = t.post_with_cookies("/sign-out", json!({}), &cookie_header(&resp));
    assert_eq!(
        resp.header("cache-control"),
        Some("no-store"),
        "sign-out clears cookies"
    );
    // nothing secret: caches may keep it
    assert_eq!(t.get("/ok", None).header("cache-control"), None);
}

fn error_page_escapes_its_input(t: &TestApp) {
    let resp = t.get(
        "/error?error=%3Cscript%3Ealert(1)%3C%2Fscript%3E&error_description=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E%22%27",
        None,
    );
    assert_eq!(resp.status, 200);
    let html = body_text(&resp);
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;&quot;&#39;"), "{html}");
    assert!(
        html.contains("<code>UNKNOWN</code>"),
        "a code outside [A-Za-z0-9_'-] shows as UNKNOWN"
    );
    assert_eq!(resp.header("x-content-type-options"), Some("nosniff"));
}

const EVIL: &[&str] = &[
    "https://evil.example",
    "//evil.example",
    "/\\evil.example",
    "/%2fevil.example",
    "/%5Cevil.example",
    "http://localhost:3000.evil.example",
    "http://localhost:3000@evil.example",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "\\\\evil.example",
    "https:evil.example",
    "/\t/evil.example",
];

/// On the app with every route (all plugins, every flow, providers configured), path
/// parameters filled with real values: a configured provider, a live reset token.
fn open_redirects_are_refused_on_every_route(t: &TestApp) {
    let all = crate::support::everything::app(t.backend);
    let t = &all.t;
    t.sign_up("redirect@example.com");
    let values = crate::support::everything::PathValues::for_user(t, "redirect@example.com");
    let before = t.storage().find_user_by_email("redirect@example.com").unwrap();
    for route in t.app.router.routes() {
        let path = crate::support::everything::fill(route.path, &values);
        for evil in EVIL {
            let resp = match route.method {
                Method::Post => {
                    let mut body = json!({"email": "redirect@example.com", "password": PASSWORD, "name": "R"});
                    body["callbackURL"] = json!(evil);
                    t.send(
                        Request::post(&format!("{BASE}{path}"))
                            .with_json(&body)
                            .with_header("origin", ORIGIN),
                    )
                }
                _ => t.send(Request::get(&format!(
                    "{BASE}{path}?callbackURL={}",
                    sesame::http::js::encode_uri_component(evil)
                ))),
            };
            let location = resp.header("location").unwrap_or_default();
            assert!(
                !location.contains("evil") && !location.starts_with("javascript") && !location.starts_with("data"),
                "{} {path} with {evil:?} redirected to {location}",
                route.method.as_str()
            );
            if route.method == Method::Post {
                assert_error(&resp, 403, "INVALID_CALLBACK_URL");
            }
        }
    }
    // refused requests changed nothing
    let after = t.storage().find_user_by_email("redirect@example.com").unwrap();
    assert_eq!(before.map(|u| u.to_json()), after.map(|u| u.to_json()));
    // the reset token swept above was live all along: a safe callback gets it
    let resp = t.get(&format!("/reset-password/{}?callbackURL=/reset", values.token), None);
    assert_eq!(resp.status, 302);
    assert_eq!(
        resp.header("location"),
        Some(format!("{ORIGIN}/reset?token={}", values.token).as_str())
    );
    // a safe relative callback still works on sign-in
    let resp = t.post(
        "/sign-in/email",
        json!({"email": "redirect@example.com", "password": PASSWORD, "callbackURL": "/dashboard"}),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("location"), Some("/dashboard"));
}

/// Regression (the bad-input battery on PostgreSQL): a NUL character cannot be stored in
/// PostgreSQL text, so a name or user agent holding one answered 500. Refused as 400 on every
/// backend, and nothing is stored.
fn nul_characters_are_refused_before_storage(t: &TestApp) {
    let resp = t.post(
        "/sign-up/email",
        json!({"name": "nul\u{0}name", "email": "nul@example.com", "password": PASSWORD}),
    );
    assert_error(&resp, 400, "VALIDATION_ERROR");
    assert!(t.storage().find_user_by_email("nul@example.com").unwrap().is_none());
    t.sign_up("nul@example.com");
    let resp = t.send(
        Request::post(&format!("{BASE}/sign-in/email"))
            .with_json(&json!({"email": "nul@example.com", "password": PASSWORD}))
            .with_header("user-agent", "agent\u{0}"),
    );
    assert_error(&resp, 400, "VALIDATION_ERROR");
    let resp = t.get("/get-session?x=%00", None);
    assert_error(&resp, 400, "VALIDATION_ERROR");
}

crate::suite!(
    nul_characters_are_refused_before_storage,
    every_answer_is_nosniff,
    credentials_are_never_cached,
    error_page_escapes_its_input,
    open_redirects_are_refused_on_every_route,
);

/// A source check, not a measurement: every comparison of a secret value calls
/// `crypto::constant_time_eq` (subtle's `ct_eq`, measured in `timing.rs`); bcrypt's own
/// verify uses `subtle` too. Session tokens are looked up by key in storage (a hash or B-tree
/// index), never compared by hand. A comparison site added elsewhere needs adding here.
#[test]
fn secret_comparisons_go_through_constant_time_eq() {
    let src = |f: &str| std::fs::read_to_string(format!("{}/src/{f}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    // From `name` to the end of the function holding it.
    let body = |file: &str, name: &str| {
        let text = src(file);
        let (_, rest) = text.split_once(name).unwrap_or_else(|| panic!("{name} not in {file}"));
        rest[..rest.find("\n}").unwrap()].to_string()
    };
    let crypto = body("crypto.rs", "pub fn constant_time_eq");
    assert!(crypto.contains(".ct_eq("), "constant_time_eq must use subtle: {crypto}");
    for (file, function, call) in [
        // the cookie signature
        (
            "http/cookies.rs",
            "pub fn verify",
            "crypto::constant_time_eq(expected.as_bytes(), sig.as_bytes())",
        ),
        // the scrypt hash check
        ("auth/password.rs", "pub fn verify", "crypto::constant_time_eq("),
        // emailed-link tokens (HS256)
        (
            "auth/verification_token.rs",
            "pub fn verify",
            "constant_time_eq(&sig, &expected)",
        ),
        // the OAuth state against its cookie
        (
            "endpoint/social/state.rs",
            "state_mismatch",
            "crypto::constant_time_eq(c.as_bytes(), state.as_bytes())",
        ),
    ] {
        let code = body(file, function);
        assert!(code.contains(call), "{file} {function} must call {call}: {code}");
        assert!(!code.contains("== sig") && !code.contains("sig =="), "{file}: {code}");
    }
    // the delete-user token's owner, the email-verification addresses
    assert!(src("api/delete_user.rs").contains("constant_time_eq(row.value.as_bytes(), user.id.as_bytes())"));
    assert!(body("api/email_verification.rs", "fn same").contains("constant_time_eq(a.as_bytes(), b.as_bytes())"));

    assert!(sesame::crypto::constant_time_eq(b"same", b"same"));
    assert!(!sesame::crypto::constant_time_eq(b"same", b"sane"));
    assert!(!sesame::crypto::constant_time_eq(b"same", b"same-but-longer"));
}

#[test]
fn default_or_short_secret_is_refused_with_https() {
    let vars = |secret: &str| {
        [
            ("BETTER_AUTH_SECRET".to_string(), secret.to_string()),
            ("BETTER_AUTH_URL".to_string(), "https://auth.example.com".to_string()),
        ]
        .into_iter()
        .collect()
    };
    for weak in ["better-auth-secret-12345678901234567890", "too-short"] {
        let err = sesame::Config::from_vars(&vars(weak)).unwrap_err();
        assert!(err.to_string().contains("BETTER_AUTH_SECRET"), "{err}");
    }
    assert!(sesame::Config::from_vars(&vars("m6Qh2Z9rT4vL8pX1cW7nB3kD5fJ0sA2yE")).is_ok());
    let https_only = [("BETTER_AUTH_URL".to_string(), "https://auth.example.com".to_string())]
        .into_iter()
        .collect();
    assert!(sesame::Config::from_vars(&https_only).unwrap().secret_is_ephemeral);
}

#[test]
fn callback_urls_with_control_characters_cannot_split_the_response() {
    let t = TestApp::new(Backend::Memory);
    t.sign_up("crlf@example.com");
    for evil in [
        "http://localhost:3000/x\r\nSet-Cookie: pwned=1",
        "/x\r\nSet-Cookie: pwned=1",
        "http://localhost:3000/\u{7}x",
        "http://localhost:3000/\tx",
    ] {
        let resp = t.post(
            "/sign-in/email",
            json!({"email": "crlf@example.com", "password": PASSWORD, "callbackURL": evil}),
        );
        assert_error(&resp, 403, "INVALID_CALLBACK_URL");
    }
    let server = http_client::spawn(t.app.clone());
    let body = json!({"email": "crlf@example.com", "password": PASSWORD, "callbackURL": "http://localhost:3000/x\r\nSet-Cookie: pwned=1"});
    let resp = http_client::send(
        server.addr,
        "POST",
        "/api/auth/sign-in/email",
        &[("content-type", "application/json")],
        body.to_string().as_bytes(),
    );
    assert_eq!(resp.status, 403);
    assert!(resp.set_cookies().iter().all(|c| !c.contains("pwned")));
    server.stop();
}
