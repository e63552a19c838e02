//! Small things on the wire where Sesame answers as Better Auth 1.7.25 does (each checked
//! against the reference server): percent-encoded `Location` headers, `Connection: close` on
//! every answer after which the server closes, `POST /update-session`, a byte-order mark before
//! a JSON body, and the one warning about `X-Forwarded-For` from a peer that is not trusted.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::json;
use sesame::http::Request;
use sesame::mail::MailKind;
use sesame::ApiInput;

use crate::support::http_client::{self, RawResponse};
use crate::support::oauth::{self, github_sign_in, location};
use crate::support::{assert_error, json_body, Backend, TestApp, BASE, ORIGIN, PASSWORD};

/// Callback URLs as a client writes them, and the `Location` Better Auth 1.7.25 sends for them.
const TARGETS: &[(&str, &str)] = &[
    ("/ü", "/%C3%BC"),
    ("/café", "/caf%C3%A9"),
    ("/willkommen-ü", "/willkommen-%C3%BC"),
    ("/a b", "/a%20b"),
    ("/<b>", "/%3Cb%3E"),
    // Better Auth answers 500 here (a header value beyond Latin-1); Sesame redirects.
    ("/日本", "/%E6%97%A5%E6%9C%AC"),
    ("/x?q=ü&r=a b#top", "/x?q=%C3%BC&r=a%20b#top"),
    ("/already%20encoded", "/already%20encoded"),
];

fn query(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The error redirect for a target: `?error=` added before any fragment.
fn with_error(wire: &str) -> String {
    let (head, fragment) = match wire.split_once('#') {
        Some((h, f)) => (h, format!("#{f}")),
        None => (wire, String::new()),
    };
    let sep = if head.contains('?') { '&' } else { '?' };
    format!("{head}{sep}error=INVALID_TOKEN{fragment}")
}

fn every_location_is_percent_encoded(t: &TestApp) {
    let t = TestApp::with_config(t.backend, |c| c.email.send_on_sign_up = true);
    t.sign_up("loc@example.com");
    let token = t.mail_to(MailKind::Verification, "loc@example.com").token;
    for (raw, wire) in TARGETS {
        let cb = query(raw);
        // The link's success redirect (the first opening verifies, later ones redirect alike).
        let resp = t.get(&format!("/verify-email?token={token}&callbackURL={cb}"), None);
        assert_eq!(location(&resp), *wire, "{raw}");
        // Its error redirect, the query added before the fragment.
        let resp = t.get(&format!("/verify-email?token=nope&callbackURL={cb}"), None);
        assert_eq!(location(&resp), with_error(wire), "{raw}");
        // Sign-in's 200 with a Location; the JSON keeps the URL as given.
        let resp = t.post(
            "/sign-in/email",
            json!({"email": "loc@example.com", "password": PASSWORD, "callbackURL": raw}),
        );
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("location"), Some(*wire), "{raw}");
        assert_eq!(json_body(&resp)["url"], *raw);
    }
    // The social callback's redirect, too.
    let f = oauth::fake();
    let t = oauth::app(t.backend, &f, &[]);
    let resp = github_sign_in(&t, json!({"provider": "github", "callbackURL": "/café"}));
    assert_eq!(location(&resp), "/caf%C3%A9");
    // In-process, the redirect's target comes out encoded as well.
    let err = t
        .app
        .call(
            "verifyEmail",
            ApiInput::new().query("token", "nope").query("callbackURL", "/a b"),
        )
        .unwrap_err();
    assert_eq!((err.status, err.message.as_ref()), (302, "/a%20b?error=INVALID_TOKEN"));
}

fn locations_on_the_wire_are_ascii(t: &TestApp) {
    let server = http_client::spawn(t.app.clone());
    for (raw, wire) in TARGETS {
        let path = format!("{BASE}/verify-email?token=nope&callbackURL={}", query(raw));
        let resp = http_client::send(server.addr, "GET", &path, &[], b"");
        assert_eq!(resp.status, 302, "{raw}");
        assert_eq!(resp.header("location"), Some(with_error(wire).as_str()), "{raw}");
    }
    server.stop();
}

/// Writes `request` on a fresh connection and reads until the server closes it (bounded by
/// the read timeout): the answer, and whether the server closed (a reset counts: it may close
/// with part of a refused request unread).
fn exchange(addr: SocketAddr, request: &[u8]) -> (RawResponse, bool) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut raw = Vec::new();
    let closed = match s.read_to_end(&mut raw) {
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    };
    (http_client::parse(&raw), closed)
}

fn every_close_is_announced(t: &TestApp) {
    let t = TestApp::with_config(t.backend, |c| {
        c.max_body_bytes = 1024;
        c.max_header_bytes = 4096;
    });
    let server = http_client::spawn(t.app.clone());
    let addr = server.addr;
    let big_header = format!(
        "GET {BASE}/ok HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(8192)
    );
    let oversized = format!(
        "POST {BASE}/sign-in/email HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2048\r\n\r\n{}",
        " ".repeat(2048)
    );
    for (what, request, status) in [
        ("headers over the limit", big_header, 431),
        ("body over the limit", oversized, 413),
        (
            "unparsable Content-Length",
            format!("GET {BASE}/ok HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"),
            400,
        ),
        (
            "the client's own Connection: close",
            format!("GET {BASE}/ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            200,
        ),
        ("HTTP/1.0", format!("GET {BASE}/ok HTTP/1.0\r\n\r\n"), 200),
    ] {
        let (resp, closed) = exchange(addr, request.as_bytes());
        assert_eq!(resp.status, status, "{what}");
        assert_eq!(resp.header("connection"), Some("close"), "{what}: {:?}", resp.headers);
        assert!(closed, "{what}: the server closes after announcing it");
    }
    // A keep-alive client that sent an oversized body learns the connection ends with the 413.
    let mut conn = http_client::Conn::open(addr);
    let resp = conn.request("GET", &format!("{BASE}/ok"), &[], b"");
    assert_eq!((resp.status, resp.header("connection")), (200, None));
    let resp = conn.request(
        "POST",
        &format!("{BASE}/sign-in/email"),
        &[("content-type", "application/json")],
        &[b' '; 2048],
    );
    assert_eq!(resp.status, 413);
    assert_eq!(resp.header("connection"), Some("close"));
    server.stop();
}

fn update_session_answers_as_better_auth_without_additional_fields(t: &TestApp) {
    let s = t.signed_up("upd@example.com");
    let before = t.session_of(&s.cookie)["session"].clone();
    let post = |body: &[u8], cookie: Option<&str>| {
        let mut req = Request::post(&format!("{BASE}/update-session")).with_body("application/json", body);
        if let Some(c) = cookie {
            req = req.with_header("cookie", c).with_header("origin", ORIGIN);
        }
        t.send(req)
    };
    // Body shape first (even signed out), then the session, then the fields.
    let resp = post(b"[1]", None);
    assert_error(&resp, 400, "VALIDATION_ERROR");
    assert_eq!(
        json_body(&resp)["message"],
        "[body] Invalid input: expected record, received array"
    );
    assert_error(&post(b"null", Some(&s.cookie)), 400, "VALIDATION_ERROR");
    assert_error(&post(b"", Some(&s.cookie)), 400, "VALIDATION_ERROR");
    assert_error(&post(b"{}", None), 401, "UNAUTHORIZED");
    assert_error(&post(b"{}", Some(&s.cookie)), 400, "NO_FIELDS_TO_UPDATE");
    // Core session fields are not input: nothing about the session can be rewritten.
    let attempt = json!({"expiresAt": "2099-01-01T00:00:00.000Z", "userId": "someone-else", "token": "chosen", "ipAddress": "1.2.3.4", "__proto__": {"x": 1}});
    let resp = post(attempt.to_string().as_bytes(), Some(&s.cookie));
    assert_error(&resp, 400, "NO_FIELDS_TO_UPDATE");
    assert_eq!(json_body(&resp)["message"], "No fields to update");
    assert_eq!(t.session_of(&s.cookie)["session"], before);
    let form = Request::post(&format!("{BASE}/update-session"))
        .with_body("application/x-www-form-urlencoded", b"a=b")
        .with_header("cookie", &s.cookie)
        .with_header("origin", ORIGIN);
    assert_error(&t.send(form), 415, "UNSUPPORTED_MEDIA_TYPE");
    // In-process, through the typed function.
    let err = t
        .app
        .endpoint(&sesame::api::UPDATE_SESSION)
        .header("cookie", &s.cookie)
        .body(sesame::endpoint::NoInput {})
        .send()
        .unwrap_err();
    assert_eq!((err.status, err.code.as_ref()), (400, "NO_FIELDS_TO_UPDATE"));
    let err = t
        .app
        .call("updateSession", ApiInput::new().body(json!({})))
        .unwrap_err();
    assert_eq!((err.status, err.code.as_ref()), (401, "UNAUTHORIZED"));
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

fn with_bom(body: serde_json::Value) -> Vec<u8> {
    [BOM, body.to_string().as_bytes()].concat()
}

fn a_json_body_may_start_with_a_byte_order_mark(t: &TestApp) {
    let sign_up = json!({"name": "Bom", "email": "bom@example.com", "password": PASSWORD});
    let resp =
        t.send(Request::post(&format!("{BASE}/sign-up/email")).with_body("application/json", &with_bom(sign_up)));
    assert_eq!(resp.status, 200, "{}", crate::support::body_text(&resp));
    assert_eq!(json_body(&resp)["user"]["email"], "bom@example.com");
    let sign_in = json!({"email": "bom@example.com", "password": PASSWORD});
    let resp = t.send(
        Request::post(&format!("{BASE}/sign-in/email"))
            .with_body("application/json; charset=utf-8", &with_bom(sign_in.clone())),
    );
    assert_eq!(resp.status, 200);
    // Only one, only first: anything else is still malformed JSON.
    for bad in [
        [BOM, &with_bom(sign_in.clone())].concat(),
        [b" ", &with_bom(sign_in.clone())[..]].concat(),
        BOM.to_vec(),
    ] {
        let resp = t.send(Request::post(&format!("{BASE}/sign-in/email")).with_body("application/json", &bad));
        assert_error(&resp, 400, "BAD_REQUEST");
    }
    // Over a real socket.
    let server = http_client::spawn(t.app.clone());
    let resp = http_client::send(
        server.addr,
        "POST",
        &format!("{BASE}/sign-in/email"),
        &[("content-type", "application/json")],
        &with_bom(sign_in),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["user"]["email"], "bom@example.com");
    server.stop();
}

fn forwarded_for_from_an_untrusted_peer_is_warned_about_once(t: &TestApp) {
    // One peer per backend: the suites run side by side and the log tap sees every thread.
    let peer: IpAddr = match t.backend {
        Backend::Memory => "192.0.2.61",
        Backend::Postgres => "192.0.2.62",
        Backend::Sqlite => "192.0.2.63",
    }
    .parse()
    .unwrap();
    let tap = sesame::log::tap();
    let warnings = || {
        tap.lines()
            .iter()
            .filter(|l| l.contains(" WARN ") && l.contains("SESAME_TRUSTED_PROXIES") && l.contains(&peer.to_string()))
            .count()
    };
    let sign_up = |email: &str| {
        let body = json!({"name": "X", "email": email, "password": PASSWORD});
        let req = Request::post(&format!("{BASE}/sign-up/email"))
            .with_json(&body)
            .with_remote_addr(peer)
            .with_header("x-forwarded-for", "203.0.113.9");
        json_body(&t.send(req))["token"].as_str().unwrap().to_string()
    };
    // In-process calls have no peer: nothing to warn about.
    t.app
        .call("ok", ApiInput::new().header("x-forwarded-for", "203.0.113.9"))
        .unwrap();
    assert_eq!(warnings(), 0);
    let token = sign_up("xff1@example.com");
    sign_up("xff2@example.com");
    assert_eq!(warnings(), 1, "{:?}", tap.lines());
    // The documented consequence: the session records the proxy, not the header.
    let cookie = t.cookie_for(&token);
    assert_eq!(t.session_of(&cookie)["session"]["ipAddress"], peer.to_string());

    // Behind a trusted proxy the header is believed and there is nothing to warn about.
    let trusted = TestApp::with_config(t.backend, |c| {
        c.trusted_proxies = sesame::http::client_ip::parse_proxies(&peer.to_string()).unwrap()
    });
    let before = warnings();
    let req = Request::post(&format!("{BASE}/sign-up/email"))
        .with_json(&json!({"name": "X", "email": "xff3@example.com", "password": PASSWORD}))
        .with_remote_addr(peer)
        .with_header("x-forwarded-for", "203.0.113.9");
    let token = json_body(&trusted.send(req))["token"].as_str().unwrap().to_string();
    assert_eq!(warnings(), before);
    let cookie = trusted.cookie_for(&token);
    assert_eq!(trusted.session_of(&cookie)["session"]["ipAddress"], "203.0.113.9");
}

crate::suite!(
    every_location_is_percent_encoded,
    locations_on_the_wire_are_ascii,
    every_close_is_announced,
    update_session_answers_as_better_auth_without_additional_fields,
    a_json_body_may_start_with_a_byte_order_mark,
    forwarded_for_from_an_untrusted_peer_is_warned_about_once,
);
