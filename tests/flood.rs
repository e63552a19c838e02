//! Connection floods, slow clients and malformed HTTP over real sockets. The flood tests run
//! the `sesame` binary as a child process so its threads (`/proc/<pid>/task`) and memory
//! (`VmRSS`) are measured alone; the figures are printed (`--nocapture` shows them). Every
//! wait is bounded by a client-side socket timeout.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{http_client, Backend, TestApp};

/// The `sesame` binary serving on an ephemeral port; killed on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sesame"));
        cmd.env_clear()
            .env("PORT", "0")
            .env("HOST", "127.0.0.1")
            .env("BETTER_AUTH_SECRET", "flood-test-secret-0123456789abcdef0123")
            .env("SESAME_BCRYPT_COST", "4")
            .env("SESAME_WORKERS", "2")
            // these tests are about connections; one client address sends hundreds of requests
            .env("SESAME_RATE_LIMIT", "false")
            // not the default sesame.db, which would land in the source tree and outlive the test
            .env("DATABASE_URL", "memory")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn sesame");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        // Keep draining stderr so the access log never blocks the server.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(rest.split_whitespace().next().unwrap_or_default().to_string());
                    }
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server announced its address");
        Server {
            child,
            addr: addr.parse().unwrap(),
        }
    }

    fn threads(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/task", self.child.id()))
            .unwrap()
            .count()
    }

    fn rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Sends raw bytes, half-closes, and reads until the server closes (or 10 s pass).
fn raw(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut s = connect(addr);
    s.write_all(bytes).unwrap();
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

fn status_of(raw: &[u8]) -> u16 {
    http_client::parse(raw).status
}

/// One GET /ok, timed.
fn ok_request(addr: SocketAddr) -> Duration {
    let started = Instant::now();
    let resp = http_client::send(addr, "GET", "/api/auth/ok", &[], b"");
    assert_eq!(resp.status, 200);
    started.elapsed()
}

#[test]
fn idle_and_half_sent_connections_do_not_starve_workers() {
    // One client address opens them all: its own cap is lifted (`audit_server.rs` tests that one).
    let server = Server::start(&[
        ("SESAME_MAX_CONNECTIONS", "1000"),
        ("SESAME_MAX_CONNECTIONS_PER_IP", "1000"),
        ("SESAME_READ_TIMEOUT_SECS", "30"),
    ]);
    ok_request(server.addr);
    let (threads0, rss0) = (server.threads(), server.rss_kb());
    let mut held = Vec::new();
    for i in 0..600 {
        let mut s = connect(server.addr);
        match i % 3 {
            0 => {}
            1 => s.write_all(b"GET /api/auth/ok HTTP/1.1\r\nHost: x\r\nX-Slow: aaaa").unwrap(),
            _ => s
                .write_all(b"POST /api/auth/sign-in/email HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 300\r\n\r\n{\"email\":")
                .unwrap(),
        }
        held.push(s);
    }
    // Ordinary clients are still answered promptly: with 2 workers, any worker held by a slow
    // body would make these wait for the 30 s timeout.
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        slowest = slowest.max(ok_request(server.addr));
    }
    let signup = http_client::send(
        server.addr,
        "POST",
        "/api/auth/sign-up/email",
        &[("content-type", "application/json")],
        br#"{"name":"F","email":"flood@example.com","password":"flood-password-1"}"#,
    );
    assert_eq!(signup.status, 200);
    let (threads1, rss1) = (server.threads(), server.rss_kb());
    println!(
        "flood: 600 idle/half-sent connections: threads {threads0} -> {threads1}, VmRSS {rss0} kB -> {rss1} kB, slowest of 20 GET /ok {slowest:?}"
    );
    assert!(slowest < Duration::from_secs(5), "ordinary requests waited {slowest:?}");
    assert!(threads1 <= threads0 + 600 + 16, "threads grew to {threads1}");
    assert!(rss1 < rss0 + 200 * 1024, "memory grew to {rss1} kB");
    // Every accepted connection has a thread reading it: the idle ones are answered as soon as
    // they speak (upstream's task pool could leave some queued until another one closed).
    for s in held.iter_mut().step_by(3) {
        s.write_all(b"GET /api/auth/ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
    }
    for s in held.iter_mut().step_by(3) {
        let mut out = Vec::new();
        s.read_to_end(&mut out).expect("answered within the client timeout");
        assert!(out.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&out));
    }
    drop(held);
}

#[test]
fn connections_over_the_cap_are_refused_quickly() {
    let server = Server::start(&[
        ("SESAME_MAX_CONNECTIONS", "100"),
        ("SESAME_MAX_CONNECTIONS_PER_IP", "1000"),
        ("SESAME_READ_TIMEOUT_SECS", "30"),
    ]);
    ok_request(server.addr);
    let (threads0, rss0) = (server.threads(), server.rss_kb());
    let idle: Vec<TcpStream> = (0..100).map(|_| connect(server.addr)).collect();
    let started = Instant::now();
    let (mut busy, mut closed) = (0, 0);
    let mut extra = Vec::new();
    for _ in 0..300 {
        let mut s = connect(server.addr);
        let mut out = Vec::new();
        match s.read_to_end(&mut out) {
            Ok(_) if out.starts_with(b"HTTP/1.1 503") => {
                let resp = http_client::parse(&out);
                assert_eq!(resp.json()["code"], "SERVER_BUSY");
                assert_eq!(resp.header("retry-after"), Some("1"));
                busy += 1;
            }
            Ok(_) => closed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => closed += 1,
            Err(e) => panic!("an excess connection was held open: {e}"),
        }
        extra.push(s);
    }
    let refused_in = started.elapsed();
    let (threads1, rss1) = (server.threads(), server.rss_kb());
    println!(
        "cap 100: 300 excess connections refused in {refused_in:?} ({busy} got 503, {closed} closed); threads {threads0} -> {threads1}, VmRSS {rss0} kB -> {rss1} kB"
    );
    assert_eq!(busy + closed, 300);
    assert!(busy > 0, "the busy answer is sent");
    assert!(threads1 <= threads0 + 100 + 16, "threads grew to {threads1}");
    // Slots free up as soon as the idle clients leave.
    drop(idle);
    let mut served = false;
    for _ in 0..100 {
        let mut s = connect(server.addr);
        s.write_all(b"GET /api/auth/ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        if out.starts_with(b"HTTP/1.1 200") {
            served = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(served, "the server serves again once the flood leaves");
}

#[test]
fn slow_loris_and_slow_bodies_are_cut_off() {
    let server = Server::start(&[("SESAME_READ_TIMEOUT_SECS", "1")]);
    // idle: closed with a 408 after the read timeout
    let mut idle = connect(server.addr);
    let mut out = Vec::new();
    idle.read_to_end(&mut out).unwrap();
    assert_eq!(status_of(&out), 408);
    assert_eq!(http_client::parse(&out).json()["code"], "REQUEST_TIMEOUT");

    // headers trickled a byte at a time (each byte within the read timeout): the total
    // deadline cuts the request off
    let trickle = |head: &[u8], slow: &[u8]| -> Vec<u8> {
        let mut s = connect(server.addr);
        s.write_all(head).unwrap();
        for b in slow {
            // stop as soon as the server has answered (or closed)
            s.set_nonblocking(true).unwrap();
            let answered = !matches!(s.peek(&mut [0u8; 1]), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
            s.set_nonblocking(false).unwrap();
            if answered || s.write_all(&[*b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        out
    };
    let started = Instant::now();
    let out = trickle(
        b"GET /api/auth/ok HTTP/1.1\r\nHost: x\r\n",
        b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    );
    assert_eq!(status_of(&out), 408, "{}", String::from_utf8_lossy(&out));
    let body = b"{\"email\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}";
    let head = format!(
        "POST /api/auth/sign-in/email HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let out = trickle(head.as_bytes(), body);
    assert_eq!(status_of(&out), 408, "{}", String::from_utf8_lossy(&out));
    println!(
        "slow loris: both trickling clients cut off, {:?} in all",
        started.elapsed()
    );
    ok_request(server.addr);
}

#[test]
fn malformed_http_gets_json_errors_and_never_kills_the_server() {
    let t = TestApp::new(Backend::Memory);
    let server = http_client::spawn(t.app.clone());
    let addr = server.addr;
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (
            format!("GET /api/auth/ok HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(20_000)).into_bytes(),
            431,
            "REQUEST_HEADER_FIELDS_TOO_LARGE",
        ),
        (
            format!("GET /api/auth/ok HTTP/1.1\r\n{}\r\n", "X-H: v\r\n".repeat(3000)).into_bytes(),
            431,
            "REQUEST_HEADER_FIELDS_TOO_LARGE",
        ),
        (b"POST /api/auth/sign-in/email HTTP/1.1\r\nContent-Length: abc\r\n\r\n".to_vec(), 400, "MALFORMED_REQUEST"),
        (b"POST /api/auth/sign-in/email HTTP/1.1\r\nContent-Length: -1\r\n\r\n".to_vec(), 400, "MALFORMED_REQUEST"),
        (
            b"POST /api/auth/sign-in/email HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef".to_vec(),
            400,
            "MALFORMED_REQUEST",
        ),
        (
            b"POST /api/auth/sign-in/email HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n".to_vec(),
            400,
            "MALFORMED_REQUEST",
        ),
        (
            b"POST /api/auth/sign-in/email HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
            400,
            "MALFORMED_REQUEST",
        ),
        (b"GET /api/auth/ok HTTP/2.0\r\n\r\n".to_vec(), 400, "MALFORMED_REQUEST"),
        (b"GET /api/auth/\xc3\xa9 HTTP/1.1\r\n\r\n".to_vec(), 400, "MALFORMED_REQUEST"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(), 400, "MALFORMED_REQUEST"),
        (b"GET\r\n\r\n".to_vec(), 400, "MALFORMED_REQUEST"),
        (b"GET /api/auth/ok HTTP/1.1\r\nNo colon here\r\n\r\n".to_vec(), 400, "MALFORMED_REQUEST"),
        (b"GET /api/auth/ok HTTP/1.1\r\nExpect: 200-ok\r\n\r\n".to_vec(), 417, "EXPECTATION_FAILED"),
        (
            b"POST /api/auth/sign-in/email HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 99999999999999999\r\n\r\n{}".to_vec(),
            413,
            "PAYLOAD_TOO_LARGE",
        ),
        (
            b"POST /api/auth/sign-in/email HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 99999999999999999999999\r\n\r\n".to_vec(),
            400,
            "MALFORMED_REQUEST",
        ),
        (b"BREW /api/auth/ok HTTP/1.1\r\n\r\n".to_vec(), 405, "METHOD_NOT_ALLOWED"),
        (b"GET /api/auth/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\n\r\n".to_vec(), 404, "NOT_FOUND"),
    ];
    for (bytes, status, code) in &cases {
        let out = raw(addr, bytes);
        let resp = http_client::parse(&out);
        assert_eq!(resp.status, *status, "{}", String::from_utf8_lossy(&out));
        assert_eq!(resp.json()["code"], *code, "{}", String::from_utf8_lossy(&out));
        assert_eq!(resp.json()["status"], *status);
        assert_eq!(
            resp.header("x-content-type-options"),
            Some("nosniff"),
            "{}",
            String::from_utf8_lossy(&out)
        );
    }
    // a chunked body is read like any other
    let chunk = br#"{"name":"C","email":"chunked@example.com","password":"chunked-password"}"#;
    let mut req = b"POST /api/auth/sign-up/email HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    req.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
    req.extend_from_slice(chunk);
    req.extend_from_slice(b"\r\n0\r\n\r\n");
    assert_eq!(status_of(&raw(addr, &req)), 200);
    // Expect: 100-continue is honoured
    let body = br#"{"email":"chunked@example.com","password":"chunked-password"}"#;
    let mut s = connect(addr);
    s.write_all(
        format!(
            "POST /api/auth/sign-in/email HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    let mut interim = [0u8; 25];
    s.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    assert_eq!(status_of(&out), 200);
    // pipelined requests are all answered, in order
    let out = raw(
        addr,
        b"GET /api/auth/ok HTTP/1.1\r\n\r\nGET /api/auth/nope HTTP/1.1\r\nConnection: close\r\n\r\n",
    );
    let text = String::from_utf8_lossy(&out);
    let first = text.find("HTTP/1.1 200").unwrap();
    let second = text.find("HTTP/1.1 404").unwrap();
    assert!(first < second, "{text}");
    // after all that, the server still serves
    ok_request(addr);
    server.stop();
}
