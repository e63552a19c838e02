//! CORS over a real socket: preflights and actual answers for trusted origins (exact and
//! wildcard), nothing for untrusted or absent origins, refused preflights that reach no
//! handler and no rate-limit bucket, and the CSRF rules unchanged underneath.

use std::net::SocketAddr;

use serde_json::json;

use crate::support::http_client::{self, RawResponse};
use crate::support::{TestApp, PASSWORD};

const APP: &str = "http://localhost:5173";
const JSON: (&str, &str) = ("content-type", "application/json");
const CORS_HEADERS: &[&str] = &[
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-max-age",
    "access-control-expose-headers",
];

fn app(t: &TestApp, rate_limit: bool) -> TestApp {
    TestApp::with_config(t.backend, |c| {
        c.trusted_origins = vec![APP.to_string(), "https://*.example.com".to_string()];
        c.rate_limit = rate_limit;
    })
}

fn with_server(t: &TestApp, f: impl FnOnce(SocketAddr)) {
    let server = http_client::spawn(t.app.clone());
    f(server.addr);
    server.stop();
}

fn preflight(addr: SocketAddr, path: &str, origin: Option<&str>) -> RawResponse {
    let mut headers = vec![
        ("access-control-request-method", "POST"),
        ("access-control-request-headers", "content-type"),
    ];
    if let Some(o) = origin {
        headers.push(("origin", o));
    }
    http_client::send(addr, "OPTIONS", path, &headers, b"")
}

fn assert_no_cors(resp: &RawResponse) {
    for h in CORS_HEADERS {
        assert_eq!(resp.header(h), None, "{h} on an answer to an untrusted origin");
    }
    assert_eq!(resp.header("vary"), Some("Origin"));
}

fn assert_cors_answer(resp: &RawResponse, origin: &str) {
    assert_eq!(resp.header("access-control-allow-origin"), Some(origin));
    assert_eq!(resp.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(
        resp.header("access-control-expose-headers"),
        Some("set-auth-token, set-auth-jwt")
    );
    assert_eq!(resp.header("vary"), Some("Origin"));
}

fn preflight_for_trusted_origins_is_204_with_the_allow_headers(t: &TestApp) {
    let t = app(t, false);
    with_server(&t, |addr| {
        for origin in [APP, "https://app.example.com", "http://localhost:3000"] {
            let resp = preflight(addr, "/api/auth/sign-in/email", Some(origin));
            assert_eq!(resp.status, 204, "{origin}");
            assert!(resp.body.is_empty());
            assert_eq!(resp.header("access-control-allow-origin"), Some(origin));
            assert_eq!(resp.header("access-control-allow-credentials"), Some("true"));
            assert_eq!(
                resp.header("access-control-allow-methods"),
                Some("GET, POST, PUT, PATCH, DELETE, OPTIONS")
            );
            assert_eq!(resp.header("access-control-allow-headers"), Some("content-type"));
            assert_eq!(resp.header("access-control-max-age"), Some("600"));
            assert_eq!(resp.header("vary"), Some("Origin"));
            assert_eq!(resp.set_cookies().len(), 0);
        }
    });
}

fn untrusted_or_absent_origins_get_no_cors_headers_and_refused_preflights(t: &TestApp) {
    let t = app(t, false);
    with_server(&t, |addr| {
        for origin in [
            "http://evil.com",
            "http://app.example.com",
            "https://example.com.evil.com",
            "http://localhost:5173/x",
        ] {
            let resp = preflight(addr, "/api/auth/sign-in/email", Some(origin));
            assert_eq!(resp.status, 403, "{origin}");
            assert_eq!(resp.json()["code"], "INVALID_ORIGIN");
            assert_no_cors(&resp);
        }
        for origin in [None, Some("null")] {
            let resp = preflight(addr, "/api/auth/sign-in/email", origin);
            assert_eq!(resp.status, 403);
            assert_eq!(resp.json()["code"], "MISSING_OR_NULL_ORIGIN");
            assert_no_cors(&resp);
        }
        // Actual answers: an untrusted page's sign-up is answered (Better Auth's rules decide
        // what is accepted) but carries nothing that lets its browser read the answer.
        let resp = http_client::send(
            addr,
            "POST",
            "/api/auth/sign-up/email",
            &[JSON],
            json!({"name": "N", "email": "no-origin@example.com", "password": PASSWORD})
                .to_string()
                .as_bytes(),
        );
        assert_eq!(resp.status, 200);
        assert_no_cors(&resp);
        let resp = http_client::send(addr, "GET", "/api/auth/ok", &[("origin", "http://evil.com")], b"");
        assert_eq!(resp.status, 200);
        assert_no_cors(&resp);
        // The CSRF rules are unchanged: a cross-site sign-in from an untrusted origin is 403.
        let resp = http_client::send(
            addr,
            "POST",
            "/api/auth/sign-in/email",
            &[JSON, ("origin", "http://evil.com")],
            json!({"email": "no-origin@example.com", "password": PASSWORD})
                .to_string()
                .as_bytes(),
        );
        assert_eq!(resp.status, 403);
        assert_eq!(resp.json()["code"], "INVALID_ORIGIN");
        assert_no_cors(&resp);
    });
}

fn actual_answers_to_a_trusted_origin_carry_credentials_and_exposed_headers(t: &TestApp) {
    let t = app(t, false);
    with_server(&t, |addr| {
        let origin = ("origin", APP);
        let resp = http_client::send(
            addr,
            "POST",
            "/api/auth/sign-up/email",
            &[JSON, origin],
            json!({"name": "Cors", "email": "cors@example.com", "password": PASSWORD})
                .to_string()
                .as_bytes(),
        );
        assert_eq!(resp.status, 200);
        assert_cors_answer(&resp, APP);
        let cookie = resp.set_cookies()[0].split(';').next().unwrap().to_string();
        let resp = http_client::send(
            addr,
            "GET",
            "/api/auth/get-session",
            &[origin, ("cookie", &cookie)],
            b"",
        );
        assert_eq!(resp.status, 200);
        assert_eq!(resp.json()["user"]["email"], "cors@example.com");
        assert_cors_answer(&resp, APP);
        // Errors are readable too, so the client can show them.
        let resp = http_client::send(
            addr,
            "POST",
            "/api/auth/sign-in/email",
            &[JSON, origin],
            json!({"email": "cors@example.com", "password": "wrong-password"})
                .to_string()
                .as_bytes(),
        );
        assert_eq!(resp.status, 401);
        assert_eq!(resp.json()["code"], "INVALID_EMAIL_OR_PASSWORD");
        assert_cors_answer(&resp, "http://localhost:5173");
        let resp = http_client::send(addr, "GET", "/api/auth/nope", &[origin], b"");
        assert_eq!(resp.status, 404);
        assert_cors_answer(&resp, APP);
        let resp = http_client::send(
            addr,
            "POST",
            "/api/auth/sign-out",
            &[JSON, origin, ("cookie", &cookie)],
            b"{}",
        );
        assert_eq!(resp.status, 200);
        assert_cors_answer(&resp, APP);
        assert!(resp.set_cookies().iter().any(|c| c.contains("Max-Age=0")));
    });
}

fn preflights_reach_no_handler_and_no_rate_limit_bucket(t: &TestApp) {
    let t = app(t, true);
    t.signed_up("limit@example.com");
    with_server(&t, |addr| {
        // Sign-in allows 3 requests per 10 seconds per client; twenty preflights, trusted or
        // refused, leave that allowance untouched.
        for i in 0..20 {
            let origin = if i % 2 == 0 { APP } else { "http://evil.com" };
            let resp = preflight(addr, "/api/auth/sign-in/email", Some(origin));
            assert!(resp.status == 204 || resp.status == 403);
        }
        // A preflight for a path no endpoint has is still only a preflight (the browser then
        // sees the actual 404 with the CORS headers).
        assert_eq!(preflight(addr, "/api/auth/no-such-endpoint", Some(APP)).status, 204);
        // Outside the base path there is nothing to preflight: the usual 404.
        let resp = preflight(addr, "/elsewhere", Some(APP));
        assert_eq!(resp.status, 404);
        for _ in 0..3 {
            let resp = http_client::send(
                addr,
                "POST",
                "/api/auth/sign-in/email",
                &[JSON, ("origin", APP)],
                json!({"email": "limit@example.com", "password": PASSWORD})
                    .to_string()
                    .as_bytes(),
            );
            assert_eq!(resp.status, 200);
        }
        // An OPTIONS that is not a preflight goes through routing as before.
        let resp = http_client::send(addr, "OPTIONS", "/api/auth/ok", &[("origin", APP)], b"");
        assert_eq!(resp.status, 405);
        assert_cors_answer(&resp, APP);
    });
    // No session was made by any preflight: only the three sign-ins and the sign-up.
    let user = t.storage().find_user_by_email("limit@example.com").unwrap().unwrap();
    assert_eq!(t.storage().list_user_sessions(&user.id).unwrap().len(), 4);
}

fn preflight_headers_are_bounded(t: &TestApp) {
    let t = app(t, false);
    with_server(&t, |addr| {
        let many = vec!["x-h"; 33].join(", ");
        for (method, headers) in [
            ("POST", many.as_str()),
            ("POST", "content-type, bad header"),
            ("PO ST", "content-type"),
        ] {
            let resp = http_client::send(
                addr,
                "OPTIONS",
                "/api/auth/sign-in/email",
                &[
                    ("origin", APP),
                    ("access-control-request-method", method),
                    ("access-control-request-headers", headers),
                ],
                b"",
            );
            assert_eq!(resp.status, 400, "{method} {headers}");
            assert_eq!(resp.json()["code"], "INVALID_CORS_REQUEST");
            assert_eq!(resp.header("access-control-allow-headers"), None);
        }
    });
}

crate::suite!(
    preflight_for_trusted_origins_is_204_with_the_allow_headers,
    untrusted_or_absent_origins_get_no_cors_headers_and_refused_preflights,
    actual_answers_to_a_trusted_origin_carry_credentials_and_exposed_headers,
    preflights_reach_no_handler_and_no_rate_limit_bucket,
    preflight_headers_are_bounded,
);
