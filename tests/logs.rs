//! The binary's log: RFC 3339 timestamps and levels, `SESAME_LOG` filtering, one JSON object
//! per line with `SESAME_LOG_FORMAT=json`, the request id on a span, escaped control
//! characters, and no secret in any line at any level.

use std::time::Duration;

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::support::binary::{self, Served};
use crate::support::http_client;

const JSON: [(&str, &str); 1] = [("content-type", "application/json")];

/// The access-log line of a request to `route`, waiting (bounded) for it to be written.
fn access_line(served: &Served, route: &str) -> String {
    served
        .wait_for_line(
            |l| {
                l.contains("sesame::access")
                    && (l.contains(&format!("route={route} ")) || l.contains(&format!("\"route\":\"{route}\"")))
            },
            Duration::from_secs(10),
        )
        .unwrap_or_else(|| panic!("no access line for {route}: {:#?}", served.lines()))
}

#[test]
fn text_lines_have_an_rfc3339_timestamp_a_level_and_the_request_span() {
    let mut served = binary::serve(&[]);
    let resp = http_client::send(served.addr, "GET", "/api/auth/ok", &[], b"");
    assert_eq!(resp.status, 200);
    let line = access_line(&served, "/api/auth/ok");
    let (stamp, rest) = line.split_once(' ').unwrap();
    let parsed = OffsetDateTime::parse(stamp, &Rfc3339).unwrap_or_else(|e| panic!("{stamp}: {e}"));
    assert_eq!(parsed.offset(), time::UtcOffset::UTC);
    assert!((OffsetDateTime::now_utc() - parsed).abs() < time::Duration::minutes(5));
    assert!(rest.trim_start().starts_with("INFO request{request_id="), "{line}");
    assert!(
        line.contains("sesame::access: answered method=GET route=/api/auth/ok status=200 elapsed_ms="),
        "{line}"
    );
    // Every line of the process is timestamped and levelled.
    for l in served.lines() {
        let (stamp, rest) = l.split_once(' ').unwrap();
        assert!(OffsetDateTime::parse(stamp, &Rfc3339).is_ok(), "{l}");
        let level = rest.split_whitespace().next().unwrap();
        assert!(["ERROR", "WARN", "INFO", "DEBUG", "TRACE"].contains(&level), "{l}");
    }
    assert_eq!(served.terminate(), Some(0));
}

#[test]
fn each_request_gets_its_own_id_on_its_span() {
    let served = binary::serve(&[("SESAME_LOG", "debug")]);
    for _ in 0..2 {
        http_client::send(served.addr, "GET", "/api/auth/ok", &[], b"");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let ids: Vec<String> = loop {
        let ids: Vec<String> = served
            .lines()
            .iter()
            .filter(|l| l.contains("route=/api/auth/ok "))
            .map(|l| {
                l.split("request_id=")
                    .nth(1)
                    .unwrap()
                    .split('}')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect();
        if ids.len() == 2 || std::time::Instant::now() > deadline {
            break ids;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
    assert!(ids
        .iter()
        .all(|id| id.len() == 12 && id.chars().all(|c| c.is_ascii_alphanumeric())));
}

/// A free loopback port (bound and released; the server binds it right after).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn sesame_log_filters_by_level_and_by_module() {
    // A level: nothing below WARN, not even the start-up line.
    let port = free_port();
    let mut cmd = binary::command(&std::env::temp_dir());
    cmd.arg("serve")
        .env("PORT", port.to_string())
        .env("DATABASE_URL", "memory")
        .env("SESAME_LOG", "warn")
        .env("SESAME_RATE_LIMT", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(std::time::Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(http_client::send(addr, "GET", "/api/auth/ok", &[], b"").status, 200);
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(" WARN ") && stderr.contains("SESAME_RATE_LIMT"),
        "{stderr}"
    );
    assert!(!stderr.contains(" INFO "), "{stderr}");
}

#[test]
fn the_access_log_is_quiet_when_its_module_is_filtered_out() {
    let mut served = binary::serve(&[("SESAME_LOG", "info,sesame::access=warn")]);
    assert_eq!(
        http_client::send(served.addr, "GET", "/api/auth/ok", &[], b"").status,
        200
    );
    assert_eq!(served.terminate(), Some(0));
    let lines = served.lines();
    assert!(lines.iter().any(|l| l.contains("received signal")), "{lines:#?}");
    assert!(!lines.iter().any(|l| l.contains("sesame::access")), "{lines:#?}");
}

#[test]
fn bad_log_settings_are_configuration_errors() {
    let dir = binary::tempdir::Dir::new();
    let mut cmd = binary::command(dir.path());
    cmd.args(["config", "check"])
        .env("SESAME_LOG", "sesame=loud")
        .env("SESAME_LOG_FORMAT", "xml");
    let out = binary::run_bounded(cmd, Duration::from_secs(20)).unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("SESAME_LOG=\"sesame=loud\""), "{stderr}");
    assert!(
        stderr.contains("SESAME_LOG_FORMAT=\"xml\": must be text or json"),
        "{stderr}"
    );
}

#[test]
fn json_format_writes_one_object_per_line_with_the_span() {
    let mut served = binary::serve(&[("SESAME_LOG_FORMAT", "json")]);
    assert_eq!(
        http_client::send(served.addr, "GET", "/api/auth/ok", &[], b"").status,
        200
    );
    assert_eq!(
        http_client::send(served.addr, "GET", "/api/auth/ok?x=1", &[], b"").status,
        200
    );
    assert_eq!(served.terminate(), Some(0));
    let lines = served.lines();
    let events: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON object ({e}): {l}")))
        .collect();
    for e in &events {
        let stamp = e["timestamp"].as_str().unwrap();
        assert!(OffsetDateTime::parse(stamp, &Rfc3339).is_ok(), "{e}");
        assert!(
            e["level"].is_string() && e["target"].is_string() && e["message"].is_string(),
            "{e}"
        );
    }
    let access: Vec<&Value> = events.iter().filter(|e| e["target"] == "sesame::access").collect();
    assert_eq!(access.len(), 2, "{lines:#?}");
    for a in &access {
        assert_eq!(a["level"], "INFO");
        assert_eq!(a["message"], "answered");
        assert_eq!(a["method"], "GET");
        assert_eq!(a["route"], "/api/auth/ok");
        assert_eq!(a["status"], 200);
        assert!(a["elapsed_ms"].is_number());
        assert_eq!(a["span"]["name"], "request");
        assert_eq!(a["span"]["request_id"].as_str().unwrap().len(), 12);
    }
    assert_ne!(access[0]["span"]["request_id"], access[1]["span"]["request_id"]);
    assert!(events
        .iter()
        .any(|e| e["message"].as_str().unwrap().contains("listening on http://")));
}

#[test]
fn control_characters_from_clients_never_reach_the_log_raw() {
    let served = binary::serve(&[]);
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(served.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /api/auth/\x1b[31mred\x07/\x7f HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    // Whatever became of it (refused by the HTTP parser, or answered and logged), the next
    // request's access line marks the point by which it was logged, if at all.
    assert_eq!(
        http_client::send(served.addr, "GET", "/api/auth/ok", &[], b"").status,
        200
    );
    access_line(&served, "/api/auth/ok");
    for line in served.lines() {
        assert!(
            !line.chars().any(|c| c.is_control()),
            "raw control character in {line:?}"
        );
    }
}

/// Sign-up, sign-in, a wrong password, get-session, change-password and a reset link against the binary at
/// the most verbose level, in both formats: no password, token, cookie or query string in any
/// line.
#[test]
fn logs_hold_no_secrets_at_any_level_in_either_format() {
    for format in ["text", "json"] {
        let mut served = binary::serve(&[
            ("SESAME_LOG", "trace"),
            ("SESAME_LOG_FORMAT", format),
            ("BETTER_AUTH_URL", "http://localhost:3000"),
        ]);
        let addr = served.addr;
        let password = "bin-log-Pa55word-zz9";
        let new_password = "bin-log-N3wPass-qq7";
        let body = |v: Value| v.to_string().into_bytes();
        let signup = http_client::send(
            addr,
            "POST",
            "/api/auth/sign-up/email?leakyquery=qv-8841",
            &JSON,
            &body(json!({"name": "Logger", "email": "logger@example.com", "password": password})),
        );
        assert_eq!(signup.status, 200);
        let token = signup.json()["token"].as_str().unwrap().to_string();
        let cookie = signup.set_cookies()[0].split(';').next().unwrap().to_string();
        let cookie_value = cookie.split_once('=').unwrap().1.to_string();
        let signin = http_client::send(
            addr,
            "POST",
            "/api/auth/sign-in/email",
            &JSON,
            &body(json!({"email": "logger@example.com", "password": password})),
        );
        assert_eq!(signin.status, 200);
        let signin_token = signin.json()["token"].as_str().unwrap().to_string();
        let wrong = http_client::send(
            addr,
            "POST",
            "/api/auth/sign-in/email",
            &JSON,
            &body(json!({"email": "logger@example.com", "password": "wrong-Pa55-xx1"})),
        );
        assert_eq!(wrong.status, 401);
        let session = http_client::send(
            addr,
            "GET",
            "/api/auth/get-session?token=qv-7730",
            &[("cookie", &cookie)],
            b"",
        );
        assert_eq!(session.status, 200);
        let change = http_client::send(
            addr,
            "POST",
            "/api/auth/change-password",
            &[
                ("content-type", "application/json"),
                ("cookie", &cookie),
                ("origin", "http://localhost:3000"),
            ],
            &body(json!({"currentPassword": password, "newPassword": new_password})),
        );
        assert_eq!(change.status, 200, "{}", String::from_utf8_lossy(&change.body));
        let reset = http_client::send(
            addr,
            "GET",
            &format!("/api/auth/reset-password/{token}?callbackURL=/x"),
            &[],
            b"",
        );
        assert!(reset.status >= 300);
        assert_eq!(served.terminate(), Some(0));
        let lines = served.lines();
        // This process's own log: exactly the six requests above.
        let access = lines.iter().filter(|l| l.contains("sesame::access")).count();
        assert_eq!(access, 6, "{format}: the access log was captured: {lines:#?}");
        for line in &lines {
            for secret in [
                password,
                new_password,
                "wrong-Pa55-xx1",
                token.as_str(),
                signin_token.as_str(),
                cookie_value.as_str(),
                "qv-8841",
                "qv-7730",
                "leakyquery",
            ] {
                assert!(!line.contains(secret), "{format}: log line leaks {secret:?}: {line}");
            }
        }
    }
}

/// The passwordless plugins at the most verbose level: the magic link's token (read back from
/// the database), a guessed token in the verify query, a guest's session token and cookie never
/// reach the log. The webhook is unreachable, so delivery fails and is logged too.
#[test]
fn magic_link_and_guest_tokens_never_reach_the_log() {
    let db = crate::support::sqlite::SqliteFile::new();
    let url = format!("sqlite:{}", db.path.display());
    let mut served = binary::serve(&[
        ("SESAME_LOG", "trace"),
        ("DATABASE_URL", &url),
        ("SESAME_PLUGINS", "magic-link,anonymous"),
        ("SESAME_EMAIL_WEBHOOK_URL", "http://127.0.0.1:9/hook"),
        ("BETTER_AUTH_URL", "http://localhost:3000"),
    ]);
    let addr = served.addr;
    let sent = http_client::send(
        addr,
        "POST",
        "/api/auth/sign-in/magic-link",
        &JSON,
        json!({"email": "quiet@example.com", "callbackURL": "/x"})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(sent.status, 200, "{}", String::from_utf8_lossy(&sent.body));
    let guessed = http_client::send(
        addr,
        "GET",
        "/api/auth/magic-link/verify?token=guessQvMagicZz&callbackURL=/x",
        &[],
        b"",
    );
    assert_eq!(guessed.status, 302);
    let guest = http_client::send(addr, "POST", "/api/auth/sign-in/anonymous", &JSON, b"{}");
    assert_eq!(guest.status, 200);
    let guest_token = guest.json()["token"].as_str().unwrap().to_string();
    let cookie = guest.set_cookies()[0].split(';').next().unwrap().to_string();
    let session = http_client::send(addr, "GET", "/api/auth/get-session", &[("cookie", &cookie)], b"");
    assert_eq!(session.status, 200);
    let identifier: String = rusqlite::Connection::open(&db.path)
        .unwrap()
        .query_row(
            r#"select "identifier" from "verification" where "identifier" like 'magic-link:%'"#,
            [],
            |r| r.get(0),
        )
        .unwrap();
    let link_token = identifier.strip_prefix("magic-link:").unwrap().to_string();
    assert_eq!(link_token.len(), 32);
    assert_eq!(served.terminate(), Some(0));
    let lines = served.lines();
    assert!(lines.iter().any(|l| l.contains("route=/api/auth/magic-link/verify")));
    let cookie_value = cookie.split_once('=').unwrap().1;
    for line in &lines {
        for secret in [
            link_token.as_str(),
            "guessQvMagicZz",
            guest_token.as_str(),
            cookie_value,
        ] {
            assert!(!line.contains(secret), "log line leaks {secret:?}: {line}");
        }
    }
}
