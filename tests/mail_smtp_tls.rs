//! SMTP and TLS (issue 12, "also tighten"): `smtp://` used STARTTLS only when the server
//! offered it, so a network attacker who strips the offer read the SMTP password and every
//! reset link. TLS is now required unless the URL opts out (`?tls=none`). The server here is a
//! plain-text SMTP server on 127.0.0.1 that never offers STARTTLS — exactly what a client sees
//! behind such an attacker — and records every command it is sent.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use sesame::clock::SystemClock;
use sesame::config::{Config, MailTransport, Secret};
use sesame::mail::{Mail, MailKind, Mailer, RetryPolicy};
use sesame::storage::memory::MemoryStorage;
use sesame::App;

use crate::support::http_client;

/// A plain-text SMTP server that advertises AUTH but not STARTTLS; it serves connections one
/// after another until the test ends and keeps every command line it receives.
struct StrippedServer {
    addr: SocketAddr,
    commands: Arc<Mutex<Vec<String>>>,
}

impl StrippedServer {
    fn start() -> StrippedServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let commands = Arc::new(Mutex::new(Vec::new()));
        let log = commands.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let mut out = stream.try_clone().unwrap();
                let mut lines = BufReader::new(stream);
                let _ = out.write_all(b"220 fake.test ESMTP\r\n");
                let mut in_data = false;
                let mut line = String::new();
                // Bounded by the read timeout and the client closing.
                while lines.read_line(&mut line).unwrap_or(0) > 0 {
                    let cmd = line.trim_end().to_string();
                    line.clear();
                    if in_data {
                        if cmd == "." {
                            in_data = false;
                            let _ = out.write_all(b"250 queued\r\n");
                        }
                        continue;
                    }
                    log.lock().unwrap().push(cmd.clone());
                    let upper = cmd.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") {
                        b"250-fake.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("AUTH") {
                        b"235 ok\r\n"
                    } else if upper.starts_with("DATA") {
                        in_data = true;
                        b"354 go on\r\n"
                    } else if upper.starts_with("QUIT") {
                        let _ = out.write_all(b"221 bye\r\n");
                        break;
                    } else {
                        b"250 ok\r\n"
                    };
                    let _ = out.write_all(reply);
                }
            }
        });
        StrippedServer { addr, commands }
    }

    fn url(&self, query: &str) -> String {
        format!("smtp://mailer:hunter2-pass@{}{query}", self.addr)
    }

    fn commands(&self) -> Vec<String> {
        self.commands.lock().unwrap().clone()
    }
}

fn mail() -> Mail {
    Mail {
        kind: MailKind::ResetPassword,
        to: "victim@example.com".into(),
        subject: "Reset your password".into(),
        text: "http://localhost:3000/api/auth/reset-password/tok".into(),
        html: "<a href=\"x\">x</a>".into(),
        url: "http://localhost:3000/api/auth/reset-password/tok".into(),
        token: "tok".into(),
    }
}

#[test]
fn smtp_without_starttls_is_refused_by_default() {
    let server = StrippedServer::start();
    let mailer = sesame::mail::smtp::SmtpMailer::new(&server.url(""), "no-reply@sesame.test").unwrap();
    let err = mailer.deliver(&mail()).expect_err("delivered without TLS");
    assert!(err.reason.contains("TLS"), "{}", err.reason);
    let commands = server.commands();
    assert!(commands.iter().any(|c| c.starts_with("EHLO")), "{commands:?}");
    for c in &commands {
        let upper = c.to_ascii_uppercase();
        assert!(
            !upper.starts_with("AUTH") && !upper.starts_with("MAIL") && !upper.starts_with("RCPT"),
            "sent in clear text: {c}"
        );
    }
}

#[test]
fn smtp_plaintext_needs_an_explicit_opt_in() {
    let server = StrippedServer::start();
    let mailer = sesame::mail::smtp::SmtpMailer::new(&server.url("?tls=none"), "no-reply@sesame.test").unwrap();
    mailer.deliver(&mail()).expect("delivered with ?tls=none");
    let commands = server.commands();
    assert!(commands.iter().any(|c| c.starts_with("AUTH")), "{commands:?}");
    assert!(commands.iter().any(|c| c.starts_with("RCPT TO:<victim@example.com>")));
    // Unknown values are refused at start-up rather than guessed.
    for bad in ["?tls=off", "?tls=", "?starttls=no"] {
        let err = sesame::mail::smtp::SmtpMailer::new(&server.url(bad), "a@example.com").err();
        let err = err.unwrap_or_else(|| panic!("{bad} accepted"));
        assert!(format!("{err:#}").contains("SESAME_SMTP_URL"), "{err:#}");
        assert!(!format!("{err:#}").contains("hunter2"));
    }
}

/// The whole flow: a reset requested over HTTP never puts the SMTP password or the link on a
/// connection that did not upgrade to TLS.
#[test]
fn a_reset_link_never_travels_over_a_stripped_connection() {
    let server = StrippedServer::start();
    let mut config = Config::for_tests();
    config.email.transport = MailTransport::Smtp {
        url: Secret::new(server.url("")),
        from: "no-reply@sesame.test".into(),
    };
    let mailer = sesame::mail::from_config(&config).unwrap();
    let fast = RetryPolicy {
        capacity: 10,
        attempts: 2,
        first_backoff: Duration::from_millis(10),
    };
    let app = App::new(config, Arc::new(MemoryStorage::new()), Arc::new(SystemClock))
        .and_then(|a| a.with_mailer_policy(mailer, fast))
        .unwrap();
    let app = Arc::new(app);
    let http = http_client::spawn(app.clone());
    let json = [("content-type", "application/json")];
    let body = json!({"name": "V", "email": "victim@example.com", "password": "victim-password-1"});
    let resp = http_client::send(
        http.addr,
        "POST",
        "/api/auth/sign-up/email",
        &json,
        body.to_string().as_bytes(),
    );
    assert_eq!(resp.status, 200);
    let body = json!({"email": "victim@example.com"});
    let resp = http_client::send(
        http.addr,
        "POST",
        "/api/auth/request-password-reset",
        &json,
        body.to_string().as_bytes(),
    );
    assert_eq!(resp.status, 200);
    assert!(app.outbox.flush(Duration::from_secs(30)));
    http.stop();
    let commands = server.commands();
    assert!(commands.iter().any(|c| c.starts_with("EHLO")), "{commands:?}");
    assert!(
        !commands.iter().any(|c| c.starts_with("AUTH") || c.starts_with("MAIL")),
        "{commands:?}"
    );
}
