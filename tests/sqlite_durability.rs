//! The real binary on a SQLite file: users signed up over HTTP survive a SIGKILL (no graceful
//! shutdown, no checkpoint) and can sign in after a restart. And the default storage.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::sqlite::SqliteFile;
use crate::support::{http_client, PASSWORD};

const BIN: &str = env!("CARGO_BIN_EXE_sesame");

/// A running `sesame serve`, killed when dropped.
struct Served {
    child: Child,
    addr: SocketAddr,
    /// Its start-up line.
    line: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary in `dir` with `env` and waits (bounded) for its listening line.
fn serve(dir: &Path, env: &[(&str, &str)]) -> Served {
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env("PORT", "0")
        .env("HOST", "127.0.0.1")
        .env("BETTER_AUTH_SECRET", "durability-test-secret-0123456789abcdef")
        .env("SESAME_BCRYPT_COST", "4")
        .env("SESAME_WORKERS", "4")
        // Dozens of sign-ups from one address would be rate-limited.
        .env("SESAME_RATE_LIMIT", "false")
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut line = String::new();
    while Instant::now() < deadline {
        line.clear();
        if stderr.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let addr = rest.split_whitespace().next().unwrap().parse().unwrap();
            // Keep draining stderr so the server never blocks on a full pipe.
            std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
            return Served { child, addr, line };
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("server did not print its address; last line: {line}");
}

/// One sign-up; `None` when the connection broke (the server was killed mid-request).
fn try_sign_up(addr: SocketAddr, email: &str) -> Option<u16> {
    let body = json!({"name": "Durable", "email": email, "password": PASSWORD}).to_string();
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let req = format!(
        "POST /api/auth/sign-up/email HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\ncontent-type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    if !raw.windows(4).any(|w| w == b"\r\n\r\n") {
        return None;
    }
    Some(http_client::parse(&raw).status)
}

#[test]
fn users_signed_up_survive_sigkill() {
    let file = SqliteFile::new();
    let dir = file.path.parent().unwrap().to_path_buf();
    let url = file.url();
    let server = serve(&dir, &[("DATABASE_URL", &url)]);
    assert!(server.line.contains("storage sqlite:"), "{}", server.line);

    // Four clients sign up in a bounded loop; the server is SIGKILLed once 40 have succeeded,
    // while the others are still in flight.
    let confirmed = Mutex::new(Vec::new());
    let successes = AtomicUsize::new(0);
    let killed = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for client in 0..4 {
            let (confirmed, successes, killed) = (&confirmed, &successes, &killed);
            let addr = server.addr;
            scope.spawn(move || {
                for i in 0..100 {
                    if killed.load(Ordering::SeqCst) {
                        break;
                    }
                    let email = format!("durable-{client}-{i}@example.com");
                    match try_sign_up(addr, &email) {
                        Some(200) => {
                            confirmed.lock().unwrap().push(email);
                            successes.fetch_add(1, Ordering::SeqCst);
                        }
                        Some(other) => panic!("sign-up answered {other}"),
                        None => break,
                    }
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while successes.load(Ordering::SeqCst) < 40 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let status = Command::new("kill")
            .args(["-KILL", &server.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        killed.store(true, Ordering::SeqCst);
    });
    drop(server);
    let confirmed = confirmed.into_inner().unwrap();
    assert!(confirmed.len() >= 40, "only {} sign-ups succeeded", confirmed.len());

    let server = serve(&dir, &[("DATABASE_URL", &url)]);
    for email in &confirmed {
        let body = json!({"email": email, "password": PASSWORD}).to_string();
        let resp = http_client::send(
            server.addr,
            "POST",
            "/api/auth/sign-in/email",
            &[("content-type", "application/json")],
            body.as_bytes(),
        );
        assert_eq!(
            resp.status, 200,
            "{email} was confirmed before the kill but cannot sign in"
        );
        assert_eq!(resp.json()["user"]["email"], email.as_str());
    }
}

/// With no DATABASE_URL, `sesame serve` keeps its data in `sesame.db` in the working directory
/// and says so; `sesame migrate` finds it up to date.
#[test]
fn the_default_storage_is_sesame_db_in_the_working_directory() {
    let file = SqliteFile::new();
    let dir = file.path.parent().unwrap().to_path_buf();
    let server = serve(&dir, &[]);
    assert!(
        server.line.contains("storage sqlite:sesame.db (the default"),
        "{}",
        server.line
    );
    assert_eq!(try_sign_up(server.addr, "default@example.com"), Some(200));
    drop(server);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in ["sesame.db", "sesame.db-wal"] {
            let mode = std::fs::metadata(dir.join(f)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{f} is private to its owner");
        }
    }
    let out = Command::new(BIN)
        .arg("migrate")
        .current_dir(&dir)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "sqlite:sesame.db: up to date"
    );
    let server = serve(&dir, &[]);
    assert_eq!(
        try_sign_up(server.addr, "default@example.com"),
        Some(422),
        "the user persisted"
    );
}
