//! Over a real socket (127.0.0.1, ephemeral port): the bytes a client sees. Set-Cookie lines
//! as sent, the session flow, redirects as 200 + Location, keep-alive, 404/405/413/415/400,
//! the CSRF check, the HTML error page and the peer address recorded on sessions.

use std::net::SocketAddr;

use serde_json::json;
use sesame::server::Running;

use crate::support::http_client::{self, Conn, RawResponse};
use crate::support::wire::SetCookie;
use crate::support::{TestApp, ORIGIN, PASSWORD};

const JSON: (&str, &str) = ("content-type", "application/json");

fn post_json(addr: SocketAddr, path: &str, body: serde_json::Value, extra: &[(&str, &str)]) -> RawResponse {
    let mut headers = vec![JSON];
    headers.extend_from_slice(extra);
    http_client::send(
        addr,
        "POST",
        &format!("/api/auth{path}"),
        &headers,
        body.to_string().as_bytes(),
    )
}

fn cookie_of(resp: &RawResponse) -> String {
    resp.set_cookies()
        .iter()
        .filter(|c| !c.contains("Max-Age=0"))
        .map(|c| c.split(';').next().unwrap())
        .collect::<Vec<_>>()
        .join("; ")
}

fn with_server(t: &TestApp, f: impl FnOnce(SocketAddr)) {
    let server: Running = http_client::spawn(t.app.clone());
    f(server.addr);
    server.stop();
}

fn session_flow_over_the_wire(t: &TestApp) {
    with_server(t, |addr| {
        let ua = ("user-agent", "sesame-e2e/1.0");
        let resp = post_json(
            addr,
            "/sign-up/email",
            json!({"name": "Wire", "email": "wire@example.com", "password": PASSWORD}),
            &[ua],
        );
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("content-type"), Some("application/json"));
        let lines = resp.set_cookies();
        assert_eq!(lines.len(), 1, "{lines:?}");
        let c = SetCookie::parse(lines[0]);
        assert_eq!(c.name, "better-auth.session_token");
        assert_eq!(c.order, ["Max-Age", "Path", "HttpOnly", "SameSite"]);
        assert_eq!(c.max_age, Some(604_800));
        c.assert_default_attributes(false);
        let token = resp.json()["token"].as_str().unwrap().to_string();
        assert!(c.value.starts_with(&format!("{token}.")) && c.value.ends_with("%3D"));

        let cookie = cookie_of(&resp);
        let resp = http_client::send(addr, "GET", "/api/auth/get-session", &[("cookie", &cookie)], b"");
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("cache-control"), Some("no-store"));
        assert_eq!(resp.header("pragma"), Some("no-cache"));
        let body = resp.json();
        assert_eq!(body["session"]["token"], token.as_str());
        // Sesame records the socket peer (deliberate difference 6) and the user agent.
        assert_eq!(body["session"]["ipAddress"], "127.0.0.1");
        assert_eq!(body["session"]["userAgent"], "sesame-e2e/1.0");

        // Sign-in with a callbackURL: 200 with a Location header, not a 302.
        let resp = post_json(
            addr,
            "/sign-in/email",
            json!({"email": "wire@example.com", "password": PASSWORD, "callbackURL": "/dashboard", "rememberMe": false}),
            &[],
        );
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("location"), Some("/dashboard"));
        let names: Vec<String> = resp.set_cookies().iter().map(|l| SetCookie::parse(l).name).collect();
        assert_eq!(names, ["better-auth.session_token", "better-auth.dont_remember"]);
        let second = cookie_of(&resp);

        // Sign-out: three separate Set-Cookie headers expire everything.
        let resp = post_json(addr, "/sign-out", json!({}), &[("cookie", &second), ("origin", ORIGIN)]);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.json(), json!({"success": true}));
        assert_eq!(
            resp.set_cookies(),
            [
                "better-auth.session_token=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
                "better-auth.session_data=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
                "better-auth.dont_remember=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
            ]
        );
        let resp = http_client::send(addr, "GET", "/api/auth/get-session", &[("cookie", &second)], b"");
        assert_eq!((resp.status, resp.body.as_slice()), (200, b"null".as_slice()));
        // The first session is untouched.
        let resp = http_client::send(addr, "GET", "/api/auth/get-session", &[("cookie", &cookie)], b"");
        assert_eq!(resp.json()["session"]["token"], token.as_str());
    });
}

fn signed_out_get_session_is_literal_null(t: &TestApp) {
    with_server(t, |addr| {
        let resp = http_client::send(addr, "GET", "/api/auth/get-session", &[], b"");
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("content-type"), Some("application/json"));
        assert_eq!(resp.body, b"null");
        assert!(resp.set_cookies().is_empty());
    });
}

fn keep_alive_serves_several_requests_on_one_connection(t: &TestApp) {
    t.signed_up("ka@example.com");
    with_server(t, |addr| {
        let mut conn = Conn::open(addr);
        let resp = conn.request("GET", "/api/auth/ok", &[], b"");
        assert_eq!((resp.status, resp.json()), (200, json!({"ok": true})));
        assert_ne!(resp.header("connection"), Some("close"));
        let body = json!({"email": "ka@example.com", "password": "wrong-password"}).to_string();
        let resp = conn.request("POST", "/api/auth/sign-in/email", &[JSON], body.as_bytes());
        assert_eq!(resp.status, 401);
        assert_eq!(resp.json()["code"], "INVALID_EMAIL_OR_PASSWORD");
        let body = json!({"email": "ka@example.com", "password": PASSWORD}).to_string();
        let resp = conn.request("POST", "/api/auth/sign-in/email", &[JSON], body.as_bytes());
        assert_eq!(resp.status, 200);
        let cookie = cookie_of(&resp);
        let resp = conn.request("GET", "/api/auth/get-session", &[("cookie", &cookie)], b"");
        assert_eq!(resp.json()["user"]["email"], "ka@example.com");
        let resp = conn.request("GET", "/api/auth/nope", &[], b"");
        assert_eq!(resp.status, 404);
        let resp = conn.request("GET", "/api/auth/ok", &[], b"");
        assert_eq!(resp.status, 200);
    });
}

fn error_statuses_over_the_wire(t: &TestApp) {
    let t = TestApp::with_config(t.backend, |c| c.max_body_bytes = 1024);
    with_server(&t, |addr| {
        let check = |resp: &RawResponse, status: u16, code: &str| {
            assert_eq!(resp.status, status, "{}", String::from_utf8_lossy(&resp.body));
            assert_eq!(resp.header("content-type"), Some("application/json"));
            let body = resp.json();
            assert_eq!(
                (body["code"].as_str(), body["status"].as_u64()),
                (Some(code), Some(status as u64))
            );
            assert!(body["message"].is_string());
        };
        check(
            &http_client::send(addr, "GET", "/api/auth/nope", &[], b""),
            404,
            "NOT_FOUND",
        );
        check(
            &http_client::send(addr, "GET", "/elsewhere", &[], b""),
            404,
            "NOT_FOUND",
        );
        check(
            &http_client::send(addr, "GET", "/api/auth/ok/", &[], b""),
            404,
            "NOT_FOUND",
        );

        let resp = http_client::send(addr, "DELETE", "/api/auth/ok", &[], b"");
        check(&resp, 405, "METHOD_NOT_ALLOWED");
        assert_eq!(resp.header("allow"), Some("GET"));
        let resp = http_client::send(addr, "GET", "/api/auth/sign-in/email", &[], b"");
        check(&resp, 405, "METHOD_NOT_ALLOWED");
        assert_eq!(resp.header("allow"), Some("POST"));
        let resp = http_client::send(addr, "POST", "/api/auth/get-session", &[], b"");
        check(&resp, 405, "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED");

        let big = vec![b'x'; 2048];
        check(
            &http_client::send(addr, "POST", "/api/auth/sign-in/email", &[JSON], &big),
            413,
            "PAYLOAD_TOO_LARGE",
        );
        check(
            &http_client::send(
                addr,
                "POST",
                "/api/auth/sign-in/email",
                &[("content-type", "text/plain")],
                b"hi",
            ),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        );
        let resp = http_client::send(addr, "POST", "/api/auth/sign-in/email", &[JSON], b"{bad");
        check(&resp, 400, "BAD_REQUEST");
        assert_eq!(resp.json()["message"], "Invalid JSON in request body");
        // A body without Content-Type is no body (the reference's Node adapter reads none).
        let resp = http_client::send(addr, "POST", "/api/auth/sign-in/email", &[], b"{}");
        check(&resp, 400, "VALIDATION_ERROR");
        assert_eq!(
            resp.json()["message"],
            "[body] Invalid input: expected object, received undefined"
        );
    });
}

fn chunked_bodies_are_read_and_capped(t: &TestApp) {
    let t = TestApp::with_config(t.backend, |c| c.max_body_bytes = 1024);
    t.signed_up("chunk@example.com");
    with_server(&t, |addr| {
        let chunked = |payload: &[u8]| {
            let mut body = Vec::new();
            for part in payload.chunks(100) {
                body.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
                body.extend_from_slice(part);
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(b"0\r\n\r\n");
            body
        };
        let send = |payload: &[u8]| {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
            let head = format!(
                "POST /api/auth/sign-in/email HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            );
            s.write_all(head.as_bytes()).unwrap();
            s.write_all(&chunked(payload)).unwrap();
            let mut raw = Vec::new();
            s.read_to_end(&mut raw).unwrap();
            http_client::parse(&raw)
        };
        let ok = json!({"email": "chunk@example.com", "password": PASSWORD}).to_string();
        assert_eq!(send(ok.as_bytes()).status, 200);
        let resp = send(&vec![b' '; 4096]);
        assert_eq!(resp.status, 413);
        assert_eq!(resp.json()["code"], "PAYLOAD_TOO_LARGE");
    });
}

fn csrf_over_the_wire(t: &TestApp) {
    let s = t.signed_up("wirecsrf@example.com");
    with_server(t, |addr| {
        let body = json!({"name": "Nope"});
        let resp = post_json(addr, "/update-user", body.clone(), &[("cookie", &s.cookie)]);
        assert_eq!(
            (resp.status, resp.json()["code"].as_str()),
            (403, Some("MISSING_OR_NULL_ORIGIN"))
        );
        let resp = post_json(
            addr,
            "/update-user",
            body.clone(),
            &[("cookie", &s.cookie), ("origin", "http://evil.com")],
        );
        assert_eq!(
            (resp.status, resp.json()["code"].as_str()),
            (403, Some("INVALID_ORIGIN"))
        );
        let resp = post_json(
            addr,
            "/sign-in/email",
            json!({"email": "wirecsrf@example.com", "password": PASSWORD}),
            &[
                ("sec-fetch-site", "cross-site"),
                ("sec-fetch-mode", "navigate"),
                ("sec-fetch-dest", "document"),
            ],
        );
        assert_eq!(resp.json()["code"], "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED");
        let resp = post_json(
            addr,
            "/update-user",
            json!({"name": "Yes"}),
            &[("cookie", &s.cookie), ("origin", ORIGIN)],
        );
        assert_eq!((resp.status, resp.json()), (200, json!({"status": true})));
    });
}

fn error_page_over_the_wire(t: &TestApp) {
    with_server(t, |addr| {
        let resp = http_client::send(
            addr,
            "GET",
            "/api/auth/error?error=%3Cscript%3Ealert(1)%3C%2Fscript%3E&error_description=%3Cb%3Ehi%3C%2Fb%3E%20%26%20%22q%22",
            &[],
            b"",
        );
        assert_eq!(resp.status, 200);
        assert!(resp.header("content-type").unwrap().starts_with("text/html"));
        let html = String::from_utf8(resp.body).unwrap();
        assert!(html.contains("UNKNOWN"), "{html}");
        assert!(!html.contains("<script>") && !html.contains("alert(1)"), "{html}");
        assert!(html.contains("&lt;b&gt;hi&lt;/b&gt; &amp; &quot;q&quot;"), "{html}");
        assert!(!html.contains("<b>hi"));

        let resp = http_client::send(addr, "GET", "/api/auth/error?error=state_mismatch", &[], b"");
        assert!(String::from_utf8(resp.body).unwrap().contains("state_mismatch"));
        let resp = http_client::send(addr, "GET", "/api/auth/error?error=it's-OK_1", &[], b"");
        let html = String::from_utf8(resp.body).unwrap();
        assert!(html.contains("it&#39;s-OK_1"), "the code is shown escaped: {html}");
        let resp = http_client::send(addr, "GET", "/api/auth/error?error=a%20b", &[], b"");
        assert!(String::from_utf8(resp.body).unwrap().contains("UNKNOWN"));
        let resp = http_client::send(addr, "GET", "/api/auth/error", &[], b"");
        assert_eq!(resp.status, 200);
        assert!(String::from_utf8(resp.body).unwrap().contains("UNKNOWN"));
    });
}

/// The session-management and password endpoints, each once over the socket.
fn account_endpoints_over_the_wire(t: &TestApp) {
    let a = t.signed_up("acct@example.com");
    let b = t.signed_in("acct@example.com", PASSWORD);
    let c = t.signed_in("acct@example.com", PASSWORD);
    with_server(t, |addr| {
        let auth = |cookie: &str| vec![("cookie", cookie.to_string()), ("origin", ORIGIN.to_string())];
        let post = |path: &str, body: serde_json::Value, cookie: &str| {
            let h = auth(cookie);
            let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_json(addr, path, body, &h)
        };
        let resp = http_client::send(addr, "GET", "/api/auth/list-sessions", &[("cookie", &a.cookie)], b"");
        assert_eq!(resp.status, 200);
        assert_eq!(resp.json().as_array().unwrap().len(), 3);
        let resp = post("/verify-password", json!({"password": PASSWORD}), &a.cookie);
        assert_eq!((resp.status, resp.json()), (200, json!({"status": true})));
        let resp = post("/verify-password", json!({"password": "nope"}), &a.cookie);
        assert_eq!(
            (resp.status, resp.json()["code"].as_str()),
            (400, Some("INVALID_PASSWORD"))
        );
        let resp = post("/revoke-session", json!({"token": c.token}), &a.cookie);
        assert_eq!((resp.status, resp.json()), (200, json!({"status": true})));
        assert!(resp.set_cookies().is_empty());
        let resp = post("/revoke-other-sessions", json!({}), &a.cookie);
        assert_eq!((resp.status, resp.json()), (200, json!({"status": true})));
        let resp = http_client::send(addr, "GET", "/api/auth/get-session", &[("cookie", &b.cookie)], b"");
        assert_eq!(resp.body, b"null");
        assert_eq!(resp.set_cookies().len(), 3);

        let resp = post(
            "/change-password",
            json!({"newPassword": "wire-password-2", "currentPassword": PASSWORD, "revokeOtherSessions": true}),
            &a.cookie,
        );
        assert_eq!(resp.status, 200);
        let token = resp.json()["token"].as_str().unwrap().to_string();
        let lines = resp.set_cookies();
        assert_eq!(lines.len(), 1);
        let set = SetCookie::parse(lines[0]);
        assert_eq!(
            (set.name.as_str(), set.max_age),
            ("better-auth.session_token", Some(604_800))
        );
        assert!(set.value.starts_with(&format!("{token}.")));
        let fresh = cookie_of(&resp);
        let resp = http_client::send(addr, "GET", "/api/auth/get-session", &[("cookie", &a.cookie)], b"");
        assert_eq!(resp.body, b"null");

        let resp = post("/revoke-sessions", json!({}), &fresh);
        assert_eq!((resp.status, resp.json()), (200, json!({"status": true})));
        assert_eq!(resp.set_cookies().len(), 3);
        let resp = http_client::send(addr, "GET", "/api/auth/get-session", &[("cookie", &fresh)], b"");
        assert_eq!(resp.body, b"null");
        let resp = http_client::send(addr, "GET", "/api/auth/list-sessions", &[("cookie", &fresh)], b"");
        assert_eq!((resp.status, resp.json()["code"].as_str()), (401, Some("UNAUTHORIZED")));
    });
}

fn configured_ip_address_headers_name_the_client_behind_a_trusted_proxy(t: &TestApp) {
    let t = TestApp::with_config(t.backend, |c| {
        c.trusted_proxies = sesame::http::client_ip::parse_proxies("127.0.0.1").unwrap();
        c.ip_address_headers = vec!["x-real-ip".into()];
        c.rate_limit = true;
    });
    with_server(&t, |addr| {
        let creds = json!({"email": "realip@example.com", "password": PASSWORD});
        let resp = post_json(
            addr,
            "/sign-up/email",
            json!({"name": "R", "email": "realip@example.com", "password": PASSWORD}),
            &[("x-real-ip", "203.0.113.5"), ("x-forwarded-for", "198.51.100.1")],
        );
        assert_eq!(resp.status, 200);
        let cookie = cookie_of(&resp);
        let session = http_client::send(addr, "GET", "/api/auth/get-session", &[("cookie", &cookie)], b"").json();
        // The configured header, not X-Forwarded-For (no longer read) nor the proxy's address.
        assert_eq!(session["session"]["ipAddress"], "203.0.113.5");
        // Rate-limit buckets follow it: 3 sign-ins per 10 s per client.
        let sign_in = |ip: &str| post_json(addr, "/sign-in/email", creds.clone(), &[("x-real-ip", ip)]).status;
        for _ in 0..3 {
            assert_eq!(sign_in("203.0.113.6"), 200);
        }
        assert_eq!(sign_in("203.0.113.6"), 429);
        assert_eq!(sign_in("203.0.113.7"), 200);
    });
}

crate::suite!(
    configured_ip_address_headers_name_the_client_behind_a_trusted_proxy,
    session_flow_over_the_wire,
    account_endpoints_over_the_wire,
    signed_out_get_session_is_literal_null,
    keep_alive_serves_several_requests_on_one_connection,
    error_statuses_over_the_wire,
    chunked_bodies_are_read_and_capped,
    csrf_over_the_wire,
    error_page_over_the_wire,
);

/// The keep-alive idle time (`SESAME_READ_TIMEOUT_SECS`) starts when an answer is written, not
/// when its request was read: a request the server takes longer than that to answer (here one
/// waiting on a locked PostgreSQL table) leaves its connection usable, and the client's next
/// request on it is answered, not met with a 408 (found by the soak run: 408s after each
/// PostgreSQL restart).
#[test]
fn a_slow_answer_does_not_use_up_the_keep_alive_idle_time() {
    use crate::support::postgres::PgSchema;
    let Some(schema) = PgSchema::create() else { return };
    let url = schema.url();
    let served = crate::support::binary::serve(&[("DATABASE_URL", &url), ("SESAME_READ_TIMEOUT_SECS", "1")]);
    let mut conn = http_client::Conn::open(served.addr);
    let body = serde_json::json!({"email": "slow@example.com", "redirectTo": "/r"}).to_string();
    assert_eq!(
        conn.request("POST", "/api/auth/request-password-reset", &[JSON], body.as_bytes())
            .status,
        200
    );
    let mut locker = schema.client();
    let mut lock = locker.transaction().unwrap();
    lock.batch_execute("LOCK TABLE \"user\" IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let slow = std::thread::spawn(move || {
        let first = conn
            .request("POST", "/api/auth/request-password-reset", &[JSON], body.as_bytes())
            .status;
        (conn, first)
    });
    // The length of the slow answer under test: twice the idle time.
    std::thread::sleep(std::time::Duration::from_secs(2));
    lock.rollback().unwrap();
    let (mut conn, first) = slow.join().unwrap();
    assert_eq!(first, 200);
    let next = conn.request("GET", "/api/auth/ok", &[], b"");
    assert_eq!(next.status, 200, "{}", String::from_utf8_lossy(&next.body));
}

/// The request head is scanned in the connection's buffer (vendor/tiny_http, SESAME_PATCHES.md):
/// every byte still counts against `max_header_bytes` (a head of exactly the limit is served,
/// one byte more is 431), a head arriving a byte per write is read the same, and a head ends
/// at its blank line, leaving a pipelined request after it in the buffer to be served next.
#[test]
fn the_request_head_is_counted_and_ended_the_same_however_it_arrives() {
    use std::io::{Read, Write};
    const LIMIT: usize = 200;
    let t = TestApp::with_config(crate::support::Backend::Memory, |c| c.max_header_bytes = LIMIT);
    let server = http_client::spawn(t.app.clone());
    let head = |len: usize| {
        let start = "GET /api/auth/ok HTTP/1.1\r\nHost: x\r\nX-Pad: ";
        let end = "\r\n\r\n";
        format!("{start}{}{end}", "a".repeat(len - start.len() - end.len()))
    };
    let exchange = |bytes: &[u8], one_at_a_time: bool| {
        let mut s = std::net::TcpStream::connect(server.addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        s.set_nodelay(true).unwrap();
        // A head known to be bad is answered and the connection closed at once, before the
        // rest of it is sent: writing after that fails (a reset), and the answer is still read.
        if one_at_a_time {
            for b in bytes {
                if s.write_all(&[*b]).is_err() {
                    break;
                }
            }
        } else {
            let _ = s.write_all(bytes);
        }
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    };
    let statuses = |answer: &str| {
        answer
            .match_indices("HTTP/1.1 ")
            .map(|(at, _)| answer[at + 9..at + 12].to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(statuses(&exchange(head(LIMIT).as_bytes(), false)), ["200"]);
    assert_eq!(statuses(&exchange(head(LIMIT + 1).as_bytes(), false)), ["431"]);
    assert_eq!(statuses(&exchange(head(LIMIT).as_bytes(), true)), ["200"]);
    assert_eq!(statuses(&exchange(head(LIMIT + 1).as_bytes(), true)), ["431"]);
    let pipelined = format!("{}{}", head(LIMIT), head(LIMIT));
    assert_eq!(statuses(&exchange(pipelined.as_bytes(), false)), ["200", "200"]);
    let bare_lf = "GET /api/auth/ok HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n";
    assert_eq!(statuses(&exchange(bare_lf.as_bytes(), true)), ["400"]);
}
