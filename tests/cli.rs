//! The `sesame` binary: help text, `secret`, and graceful shutdown on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::http_client;

const BIN: &str = env!("CARGO_BIN_EXE_sesame");

#[test]
fn help_documents_every_variable() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for v in sesame::config::VARIABLES {
        assert!(text.contains(v.name), "--help does not mention {}", v.name);
    }
}

#[test]
fn secret_prints_a_fresh_random_secret() {
    let a = Command::new(BIN).arg("secret").output().unwrap();
    let b = Command::new(BIN).arg("secret").output().unwrap();
    let (a, b) = (
        String::from_utf8(a.stdout).unwrap(),
        String::from_utf8(b.stdout).unwrap(),
    );
    assert!(a.trim().len() >= 32 && a.trim().chars().all(|c| c.is_ascii_alphanumeric()));
    assert_ne!(a, b);
}

#[test]
fn unknown_command_fails_with_usage() {
    let out = Command::new(BIN).arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bad_configuration_fails_with_a_clear_message() {
    let out = Command::new(BIN)
        .arg("serve")
        .env("PORT", "not-a-port")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PORT"));
}

#[test]
fn serve_answers_then_stops_cleanly_on_sigterm() {
    let mut child = Command::new(BIN)
        .arg("serve")
        .env("PORT", "0")
        .env("HOST", "127.0.0.1")
        .env("BETTER_AUTH_SECRET", "cli-test-secret-0123456789abcdefghijkl")
        .env("SESAME_WORKERS", "2")
        // Not the default sesame.db, which would land in the source tree.
        .env("DATABASE_URL", "memory")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut addr = None;
    let mut line = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while addr.is_none() && Instant::now() < deadline {
        line.clear();
        if stderr.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(rest) = line.split("listening on http://").nth(1) {
            addr = rest.split_whitespace().next().map(|a| a.parse().unwrap());
        }
    }
    let addr = addr.expect("server printed its address");
    let resp = http_client::send(addr, "GET", "/api/auth/ok", &[], b"");
    assert_eq!(resp.status, 200);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(code) = child.try_wait().unwrap() {
            assert_eq!(code.code(), Some(0), "exit status after SIGTERM");
            break;
        }
        assert!(Instant::now() < deadline, "server did not stop within 10 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `sesame serve` with `env` until it exits or announces its address (then it is killed):
/// `(exit code or None when it kept running, stderr so far)`.
fn serve_outcome(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .env_clear()
        .env("PORT", "0")
        .env("DATABASE_URL", "memory")
        .env("SESAME_WORKERS", "1")
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut text = String::new();
    let mut line = String::new();
    // Bounded: the server either fails its configuration or announces itself promptly.
    for _ in 0..200 {
        line.clear();
        if stderr.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        text.push_str(&line);
        if line.contains("listening on http://") {
            let _ = child.kill();
            let _ = child.wait();
            return (None, text);
        }
    }
    (child.wait().unwrap().code(), text)
}

/// Issue 12, item 5: Better Auth's published default secret (anyone can forge session cookies
/// with it) started without a word on a public `http` URL. It is refused unless the URL is a
/// loopback one, where it is warned about loudly.
#[test]
fn a_published_secret_is_refused_outside_loopback() {
    let default = "better-auth-secret-12345678901234567890";
    for url in [
        "http://auth.example.com",
        "https://auth.example.com",
        "http://10.1.2.3:3000",
    ] {
        let (code, err) = serve_outcome(&[
            ("HOST", "127.0.0.1"),
            ("BETTER_AUTH_SECRET", default),
            ("BETTER_AUTH_URL", url),
        ]);
        assert_eq!(code, Some(1), "started with the default secret on {url}: {err}");
        assert!(err.contains("BETTER_AUTH_SECRET") && err.contains("published"), "{err}");
        assert!(!err.contains(default), "the secret is never printed: {err}");
    }
    for url in ["http://localhost:3000", "http://127.0.0.1:3000", "http://[::1]:3000"] {
        let (code, err) = serve_outcome(&[
            ("HOST", "127.0.0.1"),
            ("BETTER_AUTH_SECRET", default),
            ("BETTER_AUTH_URL", url),
        ]);
        assert_eq!(code, None, "refused on {url}: {err}");
        assert!(
            err.contains("WARN") && err.contains("published") && err.contains("never use it in production"),
            "{err}"
        );
    }
}

/// Issue 12, item 5: a secret shorter than 32 characters is refused when the server listens on
/// an address other machines can reach.
#[test]
fn a_short_secret_is_refused_on_a_public_address() {
    let (code, err) = serve_outcome(&[
        ("HOST", "0.0.0.0"),
        ("BETTER_AUTH_SECRET", "only-twenty-chars-xx"),
        ("BETTER_AUTH_URL", "http://localhost:3000"),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("BETTER_AUTH_SECRET") && err.contains("32"), "{err}");
    let (code, err) = serve_outcome(&[("HOST", "127.0.0.1"), ("BETTER_AUTH_SECRET", "only-twenty-chars-xx")]);
    assert_eq!(code, None, "a short secret on loopback only warns: {err}");
    assert!(err.contains("shorter than 32"), "{err}");
}
