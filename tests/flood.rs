//! Connection floods, slow clients and malformed HTTP over real sockets. The flood tests run
//! the `sesame` binary as a child process so its threads (`/proc/<pid>/task`) and memory
//! (`VmRSS`) are measured alone; the figures are printed (`--nocapture` shows them). Every
//! wait is bounded by a client-side socket timeout, and time bounds are fractions of the
//! server's own timeouts, never tight figures a loaded machine could miss.

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

/// Raises this process's soft open-file limit to its hard limit (children inherit it), and
/// checks there is room for `sockets` descriptors: a CI box's default 1024 is too few for a
/// flood of 600 or 400 sockets held here plus the server's own, with other tests running.
fn room_for(sockets: u64) {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    setrlimit(Resource::Nofile, raised).expect("raise RLIMIT_NOFILE to its hard limit");
    let now = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    assert!(
        now >= 2 * sockets + 512,
        "RLIMIT_NOFILE is {now}: the flood needs about {} descriptors (raise the hard limit)",
        2 * sockets + 512
    );
}

#[test]
fn idle_and_half_sent_connections_do_not_starve_workers() {
    room_for(600);
    // One client address opens them all: its own cap is lifted (`audit_server.rs` tests that one).
    let server = Server::start(&[
        ("SESAME_MAX_CONNECTIONS", "1000"),
        ("SESAME_MAX_CONNECTIONS_PER_IP", "1000"),
        ("SESAME_READ_TIMEOUT_SECS", "120"),
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
    // Ordinary clients are still answered: with 2 workers, any worker held by a slow body would
    // make these wait for the 120 s read timeout (the bound below is a quarter of it, room
    // enough for a loaded machine).
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
    assert!(
        slowest < Duration::from_secs(30),
        "ordinary requests waited {slowest:?}"
    );
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

/// "Refused" means answered (503) or closed by the server, not left to its read timeout: the
/// server's is 60 s and each excess client waits at most 20 s, so a connection the server
/// held open until the timeout would fail the test.
#[test]
fn connections_over_the_cap_are_refused_without_waiting_for_the_read_timeout() {
    room_for(400);
    let server = Server::start(&[
        ("SESAME_MAX_CONNECTIONS", "100"),
        ("SESAME_MAX_CONNECTIONS_PER_IP", "1000"),
        ("SESAME_READ_TIMEOUT_SECS", "60"),
    ]);
    ok_request(server.addr);
    let (threads0, rss0) = (server.threads(), server.rss_kb());
    let idle: Vec<TcpStream> = (0..100).map(|_| connect(server.addr)).collect();
    let started = Instant::now();
    let (mut busy, mut closed) = (0, 0);
    let mut extra = Vec::new();
    for _ in 0..300 {
        let mut s = connect(server.addr);
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
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
    // Slots free up as soon as the idle clients leave. The server notices the closes on its
    // own threads, so the client retries until served (bounded by a generous deadline).
    drop(idle);
    let mut served = false;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let mut s = connect(server.addr);
        s.write_all(b"GET /api/auth/ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        if out.starts_with(b"HTTP/1.1 200") {
            served = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(served, "the server serves again once the flood leaves");
}

/// How a trickled request ended.
struct Trickle {
    answer: Vec<u8>,
    /// The longest pause between two writes, as the client saw it.
    max_gap: Duration,
    /// From the first write to the server's answer.
    elapsed: Duration,
    /// Bytes of `slow` not yet sent when the server answered.
    unsent: usize,
}

/// Writes `head` at once, then `slow` a byte every `every`, until the server answers or closes.
fn trickle(addr: SocketAddr, head: &[u8], slow: &[u8], every: Duration) -> Trickle {
    let mut s = connect(addr);
    let started = Instant::now();
    s.write_all(head).unwrap();
    let (mut last, mut max_gap, mut unsent) = (Instant::now(), Duration::ZERO, 0);
    for (i, b) in slow.iter().enumerate() {
        std::thread::sleep(every);
        // stop as soon as the server has answered (or closed)
        s.set_nonblocking(true).unwrap();
        let answered = !matches!(s.peek(&mut [0u8; 1]), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
        s.set_nonblocking(false).unwrap();
        if answered || s.write_all(&[*b]).is_err() {
            unsent = slow.len() - i;
            break;
        }
        max_gap = max_gap.max(last.elapsed());
        last = Instant::now();
    }
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    Trickle {
        answer,
        max_gap,
        elapsed: started.elapsed(),
        unsent,
    }
}

/// A request trickled a byte at a time, each byte well within the read timeout, is cut off
/// by the total deadline for its headers (and again for its body). The proof that it was the
/// deadline and not the per-read timeout: no pause between writes reached the timeout, the
/// answer came at least the deadline after the first byte, and bytes were still unsent. On a
/// machine so loaded that a pause did reach the timeout, the attempt proves nothing and is
/// repeated (at most three times).
#[test]
fn slow_loris_and_slow_bodies_are_cut_off_by_the_total_deadline() {
    const LIMIT: Duration = Duration::from_secs(2);
    let server = Server::start(&[("SESAME_READ_TIMEOUT_SECS", "2")]);
    // idle: closed with a 408 after the read timeout
    let mut idle = connect(server.addr);
    let mut out = Vec::new();
    idle.read_to_end(&mut out).unwrap();
    assert_eq!(status_of(&out), 408);
    assert_eq!(http_client::parse(&out).json()["code"], "REQUEST_TIMEOUT");

    let body = format!("{{\"email\":\"{}\"}}", "a".repeat(120));
    let head = format!(
        "POST /api/auth/sign-in/email HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let slow_header = format!("X-Slow: {}", "a".repeat(120));
    let cases: [(&str, &[u8], &[u8]); 2] = [
        (
            "headers",
            b"GET /api/auth/ok HTTP/1.1\r\nHost: x\r\n",
            slow_header.as_bytes(),
        ),
        ("body", head.as_bytes(), body.as_bytes()),
    ];
    for (what, head, slow) in cases {
        let mut proved = false;
        for attempt in 1..=3 {
            let t = trickle(server.addr, head, slow, Duration::from_millis(200));
            assert_eq!(status_of(&t.answer), 408, "{}", String::from_utf8_lossy(&t.answer));
            assert_eq!(http_client::parse(&t.answer).json()["code"], "REQUEST_TIMEOUT");
            println!(
                "slow {what} (attempt {attempt}): cut off after {:?}, longest pause {:?}, {} bytes unsent",
                t.elapsed, t.max_gap, t.unsent
            );
            assert!(t.elapsed >= LIMIT, "cut off before the deadline: {:?}", t.elapsed);
            if t.max_gap < LIMIT {
                assert!(t.unsent > 0, "the server waited for the whole trickle");
                proved = true;
                break;
            }
        }
        assert!(
            proved,
            "slow {what}: every attempt had a pause as long as the read timeout"
        );
    }
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
