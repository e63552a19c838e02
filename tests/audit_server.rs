//! Regression tests for the server-side findings of the first outside audit (issue 12), each
//! an attack over a real socket: the long-password pre-hash typed as a password, a token in
//! the access log, lines forged in the log, the `/forget-password` alias doubling the reset
//! allowance, and unsigned bearer tokens with `SESAME_BEARER_REQUIRE_SIGNATURE`.

use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::http_client::{self, RawResponse};
use crate::support::oauth;
use crate::support::{Backend, TestApp};

const JSON: (&str, &str) = ("content-type", "application/json");

fn post(addr: std::net::SocketAddr, path: &str, body: serde_json::Value) -> RawResponse {
    http_client::send(addr, "POST", path, &[JSON], body.to_string().as_bytes())
}

fn sign_in(addr: std::net::SocketAddr, email: &str, password: &str) -> RawResponse {
    post(
        addr,
        "/api/auth/sign-in/email",
        json!({"email": email, "password": password}),
    )
}

/// What bcrypt was given for a password longer than 72 bytes before the fix.
fn legacy_prehash(password: &str) -> String {
    let digest = Sha256::digest(password.as_bytes());
    format!(
        "sesame-sha256:{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// Item 4: a long password was pre-hashed to `sesame-sha256:` + base64(SHA-256(pw)), a
/// 58-byte string that, typed as the password, signed in as the owner — an unsalted SHA-256
/// leaked elsewhere became a working password here. Hashes stored in that form keep working
/// for their real password, and never for the typed pre-hash.
fn typed_prehash_of_a_long_password_does_not_sign_in(t: &TestApp) {
    let server = http_client::spawn(t.app.clone());
    let long = "correct horse battery staple, and then some more words ".repeat(2);
    assert!(long.len() > 72);
    let resp = post(
        server.addr,
        "/api/auth/sign-up/email",
        json!({"name": "Long", "email": "long@example.com", "password": long}),
    );
    assert_eq!(resp.status, 200);
    let literal = legacy_prehash(&long);
    assert_eq!(sign_in(server.addr, "long@example.com", &literal).status, 401);
    assert_eq!(sign_in(server.addr, "long@example.com", &long).status, 200);

    // A hash stored by an earlier version (bcrypt over the legacy pre-hash).
    let stored = bcrypt::hash(&literal, 4).unwrap();
    t.insert_user("legacy@example.com", Some(&stored));
    assert_eq!(sign_in(server.addr, "legacy@example.com", &long).status, 200);
    let resp = sign_in(server.addr, "legacy@example.com", &literal);
    assert_eq!(resp.status, 401);
    assert_eq!(resp.json()["code"], "INVALID_EMAIL_OR_PASSWORD");

    // A password that merely looks like a pre-hash is an ordinary password.
    let odd = "sesame-sha256:my-password-looks-odd";
    let resp = post(
        server.addr,
        "/api/auth/sign-up/email",
        json!({"name": "Odd", "email": "odd@example.com", "password": odd}),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(sign_in(server.addr, "odd@example.com", odd).status, 200);
    assert_eq!(sign_in(server.addr, "odd@example.com", "sesame-sha256:x").status, 401);
    server.stop();
}

/// Item 9: `/forget-password` had a bucket of its own, so one client got 6 reset emails a
/// minute instead of 3. An alias shares its target's bucket.
fn forget_password_shares_the_reset_bucket(t: &TestApp) {
    let t = TestApp::with_config(t.backend, |c| c.rate_limit = true);
    t.sign_up("bucket@example.com");
    let server = http_client::spawn(t.app.clone());
    let body = json!({"email": "bucket@example.com"});
    for _ in 0..3 {
        assert_eq!(
            post(server.addr, "/api/auth/request-password-reset", body.clone()).status,
            200
        );
    }
    let resp = post(server.addr, "/api/auth/forget-password", body.clone());
    assert_eq!(resp.status, 429, "{}", String::from_utf8_lossy(&resp.body));
    assert_eq!(resp.json()["code"], "RATE_LIMITED");
    server.stop();

    // And the other way round.
    let t = TestApp::with_config(t.backend, |c| c.rate_limit = true);
    t.sign_up("bucket@example.com");
    let server = http_client::spawn(t.app.clone());
    for _ in 0..3 {
        assert_eq!(post(server.addr, "/api/auth/forget-password", body.clone()).status, 200);
    }
    assert_eq!(post(server.addr, "/api/auth/request-password-reset", body).status, 429);
    server.stop();
}

/// Also: with `SESAME_BEARER_REQUIRE_SIGNATURE` (Better Auth's `requireSignature`), a raw
/// session token — read from a JSON body, a log or a database dump — is no bearer token; only
/// the signed `set-auth-token` value is.
fn unsigned_bearer_tokens_are_refused_when_signatures_are_required(t: &TestApp) {
    let t = TestApp::with_config(t.backend, |c| {
        c.plugins = vec!["bearer".into()];
        c.bearer_require_signature = true;
    });
    let server = http_client::spawn(t.app.clone());
    let resp = post(
        server.addr,
        "/api/auth/sign-up/email",
        json!({"name": "B", "email": "signed@example.com", "password": "signed-password-1"}),
    );
    assert_eq!(resp.status, 200);
    let raw = resp.json()["token"].as_str().unwrap().to_string();
    let signed = resp.header("set-auth-token").unwrap().to_string();
    let with = |token: &str, path: &str| {
        let auth = format!("Bearer {token}");
        http_client::send(server.addr, "GET", path, &[("authorization", &auth)], b"")
    };
    assert!(with(&raw, "/api/auth/get-session").json().is_null());
    assert_eq!(with(&raw, "/api/auth/list-sessions").status, 401);
    assert_eq!(
        with(&signed, "/api/auth/get-session").json()["user"]["email"],
        "signed@example.com"
    );
    server.stop();
}

crate::suite!(
    unsigned_bearer_tokens_are_refused_when_signatures_are_required,
    typed_prehash_of_a_long_password_does_not_sign_in,
    forget_password_shares_the_reset_bucket,
);

/// Item 6: a path that matches no route was logged as sent, so
/// `GET /api/auth/reset-password/<token>/` (a trailing slash, 404) wrote the token to the log.
#[test]
fn unmatched_paths_are_logged_without_what_follows_their_first_segment() {
    let tap = sesame::log::tap();
    let t = TestApp::new(Backend::Memory);
    let server = http_client::spawn(t.app.clone());
    let secret = "Zq8LcXv2Tn5RpW7mKd3HsF9gBy4Je6Ua";
    for target in [
        format!("/api/auth/reset-password/{secret}/"),
        format!("/api/auth/reset-password/{secret}/extra"),
        format!("/api/auth/{secret}"),
        format!("/api/auth/{secret}/reset-password"),
        format!("/{secret}"),
        format!("/static/{secret}"),
        format!("/api/auth/verify-email/{secret}"),
    ] {
        let resp = http_client::send(server.addr, "GET", &target, &[], b"");
        assert_eq!(resp.status, 404, "{target}");
    }
    server.stop();
    let lines = tap.lines();
    let access: Vec<&String> = lines.iter().filter(|l| l.contains(" 404 ")).collect();
    assert!(access.len() >= 7, "{lines:?}");
    for line in &lines {
        assert!(!line.contains(secret), "the log leaks the token: {line}");
    }
    assert!(
        access.iter().any(|l| l.contains("GET /api/auth/reset-password/… 404")),
        "{access:?}"
    );
}

/// Also: every value written to the log is escaped — a provider's error text carrying CR/LF
/// cannot start a forged log line.
#[test]
fn provider_text_cannot_forge_a_log_line() {
    let tap = sesame::log::tap();
    let f = oauth::fake();
    f.respond(
        "/github/token",
        400,
        r#"{"error":"bad_code\r\nERROR forged: admin signed in","error_description":"x\ny"}"#,
    );
    let t = oauth::app(Backend::Memory, &f, &[]);
    let server = http_client::spawn(t.app.clone());
    let flow = oauth::start(
        &t,
        json!({"provider": "github", "callbackURL": "/dash", "errorCallbackURL": "/err"}),
    );
    let resp = http_client::send(
        server.addr,
        "GET",
        &format!("/api/auth/callback/github?code=c&state={}", flow.state),
        &[("cookie", &flow.cookies)],
        b"",
    );
    assert_eq!(resp.header("location"), Some("/err?error=invalid_code"));
    server.stop();
    let lines = tap.lines();
    assert!(lines.iter().any(|l| l.contains("bad_code")), "{lines:?}");
    for line in &lines {
        assert!(!line.contains('\n') && !line.contains('\r'), "raw CR/LF in {line:?}");
        assert!(!line.starts_with("ERROR forged"), "{line}");
    }
}

/// Sends raw bytes on one connection, half-closes, and reads until the server closes.
fn raw(addr: std::net::SocketAddr, bytes: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    s.write_all(bytes).unwrap();
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Item 7: lenient framing is the raw material of request smuggling behind a proxy that reads
/// the bytes differently. A bare LF inside a header value (`X-Foo: a\nTransfer-Encoding:
/// chunked` — a header of its own to some proxies) was accepted with `Content-Length` framing
/// and the pipelined request after it served; so were chunk sizes like `+2` and chunk
/// extensions ended by a bare LF. Each is now a 400 that closes the connection, and nothing
/// after it is served.
#[test]
fn ambiguous_framing_is_refused_and_closes_the_connection() {
    let t = TestApp::new(Backend::Memory);
    let server = http_client::spawn(t.app.clone());
    let smuggled = "GET /api/auth/ok?smuggled=1 HTTP/1.1\r\nHost: x\r\n\r\n";
    let post = "POST /api/auth/sign-in/email HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
    let chunked = format!("{post}Transfer-Encoding: chunked\r\n\r\n");
    let cases: Vec<(&str, String)> = vec![
        (
            "bare LF in a header value",
            format!("{post}X-Foo: a\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n{smuggled}"),
        ),
        (
            "bare CR in a header value",
            format!("{post}X-Foo: a\rTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n{smuggled}"),
        ),
        (
            "NUL in a header value",
            format!("{post}X-Foo: a\0b\r\nContent-Length: 2\r\n\r\n{{}}{smuggled}"),
        ),
        (
            "obsolete line folding",
            format!("{post}X-Foo: a\r\n Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n{smuggled}"),
        ),
        (
            "LF-only line ends",
            format!("GET /api/auth/ok HTTP/1.1\nHost: x\n\n{smuggled}"),
        ),
        (
            "empty header name",
            format!("{post}: v\r\nContent-Length: 2\r\n\r\n{{}}{smuggled}"),
        ),
        (
            "signed chunk size",
            format!("{chunked}+2\r\n{{}}\r\n0\r\n\r\n{smuggled}"),
        ),
        ("0x chunk size", format!("{chunked}0x2\r\n{{}}\r\n0\r\n\r\n{smuggled}")),
        (
            "chunk size with a space",
            format!("{chunked}2 \r\n{{}}\r\n0\r\n\r\n{smuggled}"),
        ),
        (
            "bare LF after a chunk extension",
            format!("{chunked}2;ext\n{{}}\r\n0\r\n\r\n{smuggled}"),
        ),
        (
            "bare LF after a chunk size",
            format!("{chunked}2\n{{}}\r\n0\r\n\r\n{smuggled}"),
        ),
        (
            "chunk data not followed by CRLF",
            format!("{chunked}2\r\n{{}}XX0\r\n\r\n{smuggled}"),
        ),
        (
            "overflowing chunk size",
            format!("{chunked}1{}\r\n{{}}\r\n0\r\n\r\n{smuggled}", "0".repeat(20)),
        ),
        (
            "bare LF in a trailer",
            format!("{chunked}2\r\n{{}}\r\n0\r\nX-T: a\nb\r\n\r\n{smuggled}"),
        ),
    ];
    for (what, bytes) in &cases {
        let out = raw(server.addr, bytes.as_bytes());
        let resp = http_client::parse(out.as_bytes());
        assert_eq!(resp.status, 400, "{what}: {out}");
        assert_eq!(resp.json()["code"], "MALFORMED_REQUEST", "{what}: {out}");
        assert_eq!(
            out.matches("HTTP/1.1 ").count(),
            1,
            "{what}: a second request was served: {out}"
        );
    }
    // Well-formed chunked bodies, extensions and trailers included, are still read (and the
    // request after them served).
    for body in [
        "2\r\n{}\r\n0\r\n\r\n",
        "2;name=value\r\n{}\r\n0\r\n\r\n",
        "2 ; name=\"quoted value\"\r\n{}\r\n0\r\nX-Trailer: v\r\n\r\n",
        "1\r\n{\r\n1\r\n}\r\n0\r\n\r\n",
    ] {
        let out = raw(server.addr, format!("{chunked}{body}{smuggled}").as_bytes());
        let resp = http_client::parse(out.as_bytes());
        assert_eq!(resp.status, 400, "{body:?}: {out}");
        assert_eq!(resp.json()["code"], "VALIDATION_ERROR", "{body:?}: {out}");
        assert!(out.contains("HTTP/1.1 200"), "the next request is served: {out}");
    }
    server.stop();
}

/// A connection to `addr` from the local address `from` (any 127.0.0.0/8 address is this host).
fn connect_from(from: &str, addr: std::net::SocketAddr) -> std::net::TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let local: std::net::SocketAddr = format!("{from}:0").parse().unwrap();
    socket.bind(&local.into()).unwrap();
    socket.connect(&addr.into()).unwrap();
    let stream: std::net::TcpStream = socket.into();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Item 8: with no per-address limit, one client holding idle sockets kept the whole
/// connection cap busy and honest clients got 503. Measured here with the defaults (512 in all,
/// `SESAME_MAX_CONNECTIONS_PER_IP` 64): a flood of 200 idle connections from 127.0.0.2 gets 64
/// served and the rest refused, while 127.0.0.1 is served normally throughout.
#[test]
fn one_address_cannot_hold_every_connection() {
    use std::io::{Read, Write};
    // The defaults: SESAME_MAX_CONNECTIONS 512, SESAME_MAX_CONNECTIONS_PER_IP 64.
    let per_ip = 64;
    let t = TestApp::new(Backend::Memory);
    assert_eq!(t.app.config.max_connections, 512);
    let server = http_client::spawn(t.app.clone());
    let started = std::time::Instant::now();
    let mut held = Vec::new();
    let (mut refused, mut slowest) = (0, std::time::Duration::ZERO);
    for i in 0..200 {
        let mut s = connect_from("127.0.0.2", server.addr);
        if i < per_ip {
            held.push(s);
        } else {
            // Over the cap: answered 503 and closed at once (a held one would time out here).
            let mut out = Vec::new();
            s.read_to_end(&mut out).expect("refused at once");
            assert!(
                out.starts_with(b"HTTP/1.1 503"),
                "connection {i}: {}",
                String::from_utf8_lossy(&out)
            );
            assert_eq!(http_client::parse(&out).json()["code"], "SERVER_BUSY");
            refused += 1;
        }
        if i % 20 == 0 {
            let began = std::time::Instant::now();
            let resp = http_client::send(server.addr, "GET", "/api/auth/ok", &[], b"");
            assert_eq!(resp.status, 200, "127.0.0.1 during the flood");
            slowest = slowest.max(began.elapsed());
        }
    }
    let flood = started.elapsed();
    // Every held connection is served when it speaks.
    for s in held.iter_mut() {
        s.write_all(b"GET /api/auth/ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        assert!(out.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&out));
    }
    println!(
        "per-IP cap {per_ip}: 200 connections from 127.0.0.2 in {flood:?}: {} held, {refused} refused; slowest of 10 GET /ok from 127.0.0.1 during the flood {slowest:?}",
        held.len()
    );
    assert_eq!(refused, 200 - per_ip);
    drop(held);
    server.stop();
}

/// Item 8: a trusted reverse proxy carries many clients, so it is exempt from the per-address
/// cap (its clients are told apart, and rate limited, by `X-Forwarded-For`).
#[test]
fn trusted_proxies_are_exempt_from_the_per_address_cap() {
    use std::io::{Read, Write};
    let t = TestApp::with_config(Backend::Memory, |c| {
        c.max_connections_per_ip = 2;
        c.trusted_proxies = sesame::http::client_ip::parse_proxies("127.0.0.2").unwrap();
    });
    let server = http_client::spawn(t.app.clone());
    let serves = |s: &mut std::net::TcpStream| {
        s.write_all(b"GET /api/auth/ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        String::from_utf8_lossy(&out).into_owned()
    };
    let mut proxy: Vec<_> = (0..5).map(|_| connect_from("127.0.0.2", server.addr)).collect();
    let mut other: Vec<_> = (0..3).map(|_| connect_from("127.0.0.3", server.addr)).collect();
    for s in proxy.iter_mut() {
        assert!(serves(s).starts_with("HTTP/1.1 200"));
    }
    // The third from 127.0.0.3 is refused at once, before it sends anything.
    let mut refused = Vec::new();
    other[2].read_to_end(&mut refused).unwrap();
    assert!(
        refused.starts_with(b"HTTP/1.1 503"),
        "{}",
        String::from_utf8_lossy(&refused)
    );
    for s in other.iter_mut().take(2) {
        assert!(serves(s).starts_with("HTTP/1.1 200"));
    }
    server.stop();
}
