//! Regression tests for the connection-level findings of the first outside audit (issue 12),
//! over raw sockets: lenient HTTP framing (request smuggling behind a proxy) and one client
//! address holding every connection.

use crate::support::http_client;
use crate::support::{Backend, TestApp};

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
