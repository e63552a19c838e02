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
