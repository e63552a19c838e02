//! Real transports over real sockets: a signed webhook to a tiny_http sink, and SMTP to a local
//! aiosmtpd server (`tests/smtp_sink.py`), each driving a flow through `sesame`'s HTTP server
//! and following the link from the delivered email.

use std::net::SocketAddr;
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use sesame::clock::SystemClock;
use sesame::config::MailTransport;
use sesame::crypto::hmac_sha256;
use sesame::mail::webhook::WebhookMailer;
use sesame::mail::RetryPolicy;
use sesame::storage::memory::MemoryStorage;
use sesame::{App, Config};

use crate::support::http_client::{self, RawResponse};
use crate::support::mail::link_target;
use crate::support::smtp_sink::{start_smtp_sink, wait_for_messages};
use crate::support::{BASE, PASSWORD};

const NEW_PASSWORD: &str = "a-brand-new-passphrase";

fn app(adjust: impl FnOnce(&mut Config)) -> Config {
    let mut config = Config::for_tests();
    adjust(&mut config);
    config
}

fn post(addr: SocketAddr, path: &str, body: Value) -> RawResponse {
    let body = body.to_string();
    http_client::send(
        addr,
        "POST",
        &format!("{BASE}{path}"),
        &[("content-type", "application/json")],
        body.as_bytes(),
    )
}

/// One request the webhook sink received.
struct Hook {
    signature: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

/// A tiny_http server on 127.0.0.1 that answers each POST with the next status of `statuses`
/// (then 200) and hands the request to the test. Stops when dropped.
struct WebhookSink {
    url: String,
    rx: Receiver<Hook>,
    server: Arc<tiny_http::Server>,
}

impl WebhookSink {
    fn start(statuses: Vec<u16>) -> WebhookSink {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let url = format!("http://{}/hooks/email", server.server_addr().to_ip().unwrap());
        let (tx, rx) = channel();
        let worker = server.clone();
        std::thread::spawn(move || {
            let mut statuses = statuses.into_iter();
            // Bounded: at most 50 requests, and `unblock` on drop ends `recv`.
            for _ in 0..50 {
                let Ok(mut req) = worker.recv() else { return };
                let header = |name: &'static str| {
                    req.headers()
                        .iter()
                        .find(|h| h.field.equiv(name))
                        .map(|h| h.value.as_str().to_string())
                };
                let (signature, content_type) = (header("x-sesame-signature"), header("content-type"));
                let mut body = Vec::new();
                std::io::Read::read_to_end(req.as_reader(), &mut body).unwrap();
                let status = statuses.next().unwrap_or(200);
                let _ = req.respond(tiny_http::Response::empty(status));
                if tx
                    .send(Hook {
                        signature,
                        content_type,
                        body,
                    })
                    .is_err()
                {
                    return;
                }
            }
        });
        WebhookSink { url, rx, server }
    }

    fn next(&self) -> Hook {
        self.rx
            .recv_timeout(Duration::from_secs(20))
            .expect("webhook received a request")
    }
}

impl Drop for WebhookSink {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

/// What the receiver does: derive the key from the shared secret, recompute the HMAC.
fn expected_signature(secret: &str, body: &[u8]) -> String {
    let key = hmac_sha256(secret.as_bytes(), b"sesame-email-webhook");
    let mac = hmac_sha256(&key, body);
    format!("sha256={}", mac.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

#[test]
fn webhook_delivers_signed_json_and_the_reset_flow_completes() {
    let sink = WebhookSink::start(vec![]);
    let config = app(|c| {
        c.email.transport = MailTransport::Webhook {
            url: sesame::config::Secret::new(sink.url.clone()),
        };
        c.email.app_name = "Acme".to_string();
    });
    let secret = config.secret.expose().to_string();
    let app = Arc::new(App::new(config, Arc::new(MemoryStorage::new()), Arc::new(SystemClock)).unwrap());
    assert_eq!(app.mailer.name(), "webhook");
    let server = http_client::spawn(app.clone());
    let addr = server.addr;

    let resp = post(
        addr,
        "/sign-up/email",
        json!({"name": "W", "email": "hook@example.com", "password": PASSWORD}),
    );
    assert_eq!(resp.status, 200);
    let resp = post(
        addr,
        "/request-password-reset",
        json!({"email": "hook@example.com", "redirectTo": "/reset"}),
    );
    assert_eq!(resp.status, 200);

    let hook = sink.next();
    assert_eq!(hook.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        hook.signature.as_deref(),
        Some(expected_signature(&secret, &hook.body).as_str())
    );
    assert_ne!(
        hook.signature.as_deref(),
        Some(expected_signature("another-secret", &hook.body).as_str())
    );
    let mail: Value = serde_json::from_slice(&hook.body).unwrap();
    let keys: Vec<&str> = mail.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["kind", "to", "subject", "text", "html", "url", "token"]);
    assert_eq!(
        (mail["kind"].as_str(), mail["to"].as_str()),
        (Some("reset-password"), Some("hook@example.com"))
    );
    let (url, token) = (mail["url"].as_str().unwrap(), mail["token"].as_str().unwrap());
    assert!(mail["subject"].as_str().unwrap().contains("Acme"));
    assert!(mail["text"].as_str().unwrap().contains(url) && mail["html"].as_str().unwrap().contains("Acme"));

    let resp = http_client::send(addr, "GET", &link_target(url), &[], b"");
    assert_eq!(resp.status, 302);
    assert_eq!(
        resp.header("location"),
        Some(format!("http://localhost:3000/reset?token={token}").as_str())
    );
    let resp = post(
        addr,
        "/reset-password",
        json!({"newPassword": NEW_PASSWORD, "token": token}),
    );
    assert_eq!((resp.status, resp.json()), (200, json!({"status": true})));
    let resp = post(
        addr,
        "/sign-in/email",
        json!({"email": "hook@example.com", "password": NEW_PASSWORD}),
    );
    assert_eq!(resp.status, 200);
    server.stop();
}

/// The `sesame_mail_*_total` counter `name` from the app's metrics.
fn mail_counter(app: &App, name: &str) -> u64 {
    let text = app.metrics.render();
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("sesame_{name}_total ")))
        .unwrap_or_else(|| panic!("no sesame_{name}_total in {text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn webhook_failures_are_retried_then_given_up() {
    // 503, 500, 200: delivered on the third attempt. Then 503 ×3: retries exhausted. Then 400.
    let sink = WebhookSink::start(vec![503, 500, 200, 503, 503, 503, 400]);
    let config = Config::for_tests();
    let secret = config.secret.expose().to_string();
    let fast = RetryPolicy {
        capacity: 10,
        attempts: 3,
        first_backoff: Duration::from_millis(10),
    };
    let mailer = Arc::new(WebhookMailer::new(&sink.url, &secret).unwrap());
    let app = App::new(config, Arc::new(MemoryStorage::new()), Arc::new(SystemClock))
        .and_then(|a| a.with_mailer_policy(mailer, fast))
        .unwrap();
    let t = crate::support::TestApp {
        app: Arc::new(app),
        ..crate::support::TestApp::new(crate::support::Backend::Memory)
    };
    t.sign_up("retry@example.com");
    let reset = || {
        assert_eq!(
            t.post("/request-password-reset", json!({"email": "retry@example.com"}))
                .status,
            200
        );
    };
    let same_body = |hooks: &[Hook]| {
        hooks
            .iter()
            .all(|h| h.body == hooks[0].body && h.signature == hooks[0].signature)
    };
    let (sent0, failed0) = (mail_counter(&t.app, "mail_sent"), mail_counter(&t.app, "mail_failed"));

    // 503, 500, then 200: the same signed body three times, then delivered.
    reset();
    let attempts: Vec<Hook> = (0..3).map(|_| sink.next()).collect();
    assert!(same_body(&attempts));
    assert!(t.app.outbox.flush(Duration::from_secs(10)));
    assert_eq!(mail_counter(&t.app, "mail_sent"), sent0 + 1);
    assert_eq!(mail_counter(&t.app, "mail_failed"), failed0);

    // 503 three times: all three attempts are made, then the message is given up on; no
    // fourth attempt follows.
    reset();
    let attempts: Vec<Hook> = (0..3).map(|_| sink.next()).collect();
    assert!(same_body(&attempts));
    assert!(t.app.outbox.flush(Duration::from_secs(10)));
    assert!(sink.rx.try_recv().is_err(), "no attempt beyond the policy's three");
    assert_eq!(mail_counter(&t.app, "mail_failed"), failed0 + 1);
    assert_eq!(mail_counter(&t.app, "mail_sent"), sent0 + 1);

    // A 400 is final: one request, no retry. The next request the sink sees is a new mail,
    // so a retry of the refused one would show up as a second copy of its body.
    reset();
    let refused = sink.next();
    assert!(t.app.outbox.flush(Duration::from_secs(10)));
    assert_eq!(mail_counter(&t.app, "mail_failed"), failed0 + 2);
    reset();
    let next = sink.next();
    assert_ne!(next.body, refused.body, "a 4xx answer is not retried");
    assert!(t.app.outbox.flush(Duration::from_secs(10)));
    assert_eq!(mail_counter(&t.app, "mail_sent"), sent0 + 2);
}

#[test]
fn smtp_delivers_to_a_real_server_and_the_verification_link_works() {
    let Some(sink) = start_smtp_sink("sesame", "s3cret pass") else {
        return;
    };
    let config = app(|c| {
        c.require_email_verification = true;
        c.email.send_on_sign_up = true;
        c.email.transport = MailTransport::Smtp {
            url: sesame::config::Secret::new(format!("smtp://sesame:s3cret%20pass@127.0.0.1:{}?tls=none", sink.port)),
            from: "Sesame <no-reply@sesame.test>".to_string(),
        };
    });
    let app = Arc::new(App::new(config, Arc::new(MemoryStorage::new()), Arc::new(SystemClock)).unwrap());
    assert_eq!(app.mailer.name(), "smtp");
    let server = http_client::spawn(app.clone());
    let addr = server.addr;
    let resp = post(
        addr,
        "/sign-up/email",
        json!({"name": "S", "email": "smtp@example.com", "password": PASSWORD, "callbackURL": "/ok-verified"}),
    );
    assert_eq!(resp.status, 200);

    let msg = wait_for_messages(&sink.dir, 1).remove(0);
    assert_eq!(msg["authenticated"], true);
    assert_eq!(msg["mail_from"], "no-reply@sesame.test");
    assert_eq!(msg["rcpt_tos"], json!(["smtp@example.com"]));
    assert_eq!(msg["from"], "Sesame <no-reply@sesame.test>");
    assert_eq!(msg["to"], "smtp@example.com");
    assert_eq!(msg["subject"], "Verify your email address for Sesame");
    assert_eq!(msg["content_type"], "multipart/alternative");
    let text = msg["text"].as_str().unwrap();
    let url = text
        .lines()
        .find(|l| l.starts_with("http://localhost:3000/"))
        .expect("link in the text part");
    assert!(msg["html"].as_str().unwrap().contains(&url.replace('&', "&amp;")));

    let resp = http_client::send(addr, "GET", &link_target(url), &[], b"");
    assert_eq!((resp.status, resp.header("location")), (302, Some("/ok-verified")));
    let resp = post(
        addr,
        "/sign-in/email",
        json!({"email": "smtp@example.com", "password": PASSWORD}),
    );
    assert_eq!(resp.status, 200);
    server.stop();
}

#[test]
fn smtp_with_wrong_credentials_fails_quietly() {
    let Some(sink) = start_smtp_sink("sesame", "right") else {
        return;
    };
    let mut config = Config::for_tests();
    config.email.transport = MailTransport::Smtp {
        url: sesame::config::Secret::new(format!("smtp://sesame:wrong@127.0.0.1:{}?tls=none", sink.port)),
        from: "no-reply@sesame.test".to_string(),
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
    let t = crate::support::TestApp {
        app: Arc::new(app),
        ..crate::support::TestApp::new(crate::support::Backend::Memory)
    };
    t.sign_up("denied@example.com");
    // The answer does not depend on delivery.
    let resp = t.post("/request-password-reset", json!({"email": "denied@example.com"}));
    assert_eq!(resp.status, 200);
    assert!(t.app.outbox.flush(Duration::from_secs(30)));
    assert!(
        std::fs::read_dir(&sink.dir).unwrap().next().is_none(),
        "nothing delivered"
    );
}
