//! Regression tests for the server-side findings of the first outside audit (issue 12), each
//! an attack over a real socket: the long-password pre-hash typed as a password, a token in
//! the access log, lines forged in the log, the `/forget-password` alias doubling the reset
//! allowance, and unsigned bearer tokens with `SESAME_BEARER_REQUIRE_SIGNATURE`. The
//! connection-level ones (framing, the per-address cap) are in `audit_http.rs`.

use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::http_client::{self, RawResponse};
use crate::support::oauth;
use crate::support::{Backend, TestApp};

const JSON: (&str, &str) = ("content-type", "application/json");

fn post(addr: std::net::SocketAddr, path: &str, body: serde_json::Value) -> RawResponse {
    http_client::send(addr, "POST", path, &[JSON], body.to_string().as_bytes())
}

fn sign_in(addr: std::net::SocketAddr, email: &str, password: &str) -> RawResponse {
    post(
        addr,
        "/api/auth/sign-in/email",
        json!({"email": email, "password": password}),
    )
}

/// What bcrypt was given for a password longer than 72 bytes before the fix.
fn legacy_prehash(password: &str) -> String {
    let digest = Sha256::digest(password.as_bytes());
    format!(
        "sesame-sha256:{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// Item 4: a long password was pre-hashed to `sesame-sha256:` + base64(SHA-256(pw)), a
/// 58-byte string that, typed as the password, signed in as the owner — an unsalted SHA-256
/// leaked elsewhere became a working password here. Hashes stored in that form keep working
/// for their real password, and never for the typed pre-hash.
fn typed_prehash_of_a_long_password_does_not_sign_in(t: &TestApp) {
    let server = http_client::spawn(t.app.clone());
    let long = "correct horse battery staple, and then some more words ".repeat(2);
    assert!(long.len() > 72);
    let resp = post(
        server.addr,
        "/api/auth/sign-up/email",
        json!({"name": "Long", "email": "long@example.com", "password": long}),
    );
    assert_eq!(resp.status, 200);
    let literal = legacy_prehash(&long);
    assert_eq!(sign_in(server.addr, "long@example.com", &literal).status, 401);
    assert_eq!(sign_in(server.addr, "long@example.com", &long).status, 200);

    // A hash stored by an earlier version (bcrypt over the legacy pre-hash).
    let stored = bcrypt::hash(&literal, 4).unwrap();
    t.insert_user("legacy@example.com", Some(&stored));
    assert_eq!(sign_in(server.addr, "legacy@example.com", &long).status, 200);
    let resp = sign_in(server.addr, "legacy@example.com", &literal);
    assert_eq!(resp.status, 401);
    assert_eq!(resp.json()["code"], "INVALID_EMAIL_OR_PASSWORD");

    // A password that merely looks like a pre-hash is an ordinary password.
    let odd = "sesame-sha256:my-password-looks-odd";
    let resp = post(
        server.addr,
        "/api/auth/sign-up/email",
        json!({"name": "Odd", "email": "odd@example.com", "password": odd}),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(sign_in(server.addr, "odd@example.com", odd).status, 200);
    assert_eq!(sign_in(server.addr, "odd@example.com", "sesame-sha256:x").status, 401);
    server.stop();
}

/// Item 9: `/forget-password` had a bucket of its own, so one client got 6 reset emails a
/// minute instead of 3. An alias shares its target's bucket.
fn forget_password_shares_the_reset_bucket(t: &TestApp) {
    let t = TestApp::with_config(t.backend, |c| c.rate_limit = true);
    t.sign_up("bucket@example.com");
    let server = http_client::spawn(t.app.clone());
    let body = json!({"email": "bucket@example.com"});
    for _ in 0..3 {
        assert_eq!(
            post(server.addr, "/api/auth/request-password-reset", body.clone()).status,
            200
        );
    }
    let resp = post(server.addr, "/api/auth/forget-password", body.clone());
    assert_eq!(resp.status, 429, "{}", String::from_utf8_lossy(&resp.body));
    assert_eq!(resp.json()["code"], "RATE_LIMITED");
    server.stop();

    // And the other way round.
    let t = TestApp::with_config(t.backend, |c| c.rate_limit = true);
    t.sign_up("bucket@example.com");
    let server = http_client::spawn(t.app.clone());
    for _ in 0..3 {
        assert_eq!(post(server.addr, "/api/auth/forget-password", body.clone()).status, 200);
    }
    assert_eq!(post(server.addr, "/api/auth/request-password-reset", body).status, 429);
    server.stop();
}

/// Also: with `SESAME_BEARER_REQUIRE_SIGNATURE` (Better Auth's `requireSignature`), a raw
/// session token — read from a JSON body, a log or a database dump — is no bearer token; only
/// the signed `set-auth-token` value is.
fn unsigned_bearer_tokens_are_refused_when_signatures_are_required(t: &TestApp) {
    let t = TestApp::with_config(t.backend, |c| {
        c.plugins = vec!["bearer".into()];
        c.bearer_require_signature = true;
    });
    let server = http_client::spawn(t.app.clone());
    let resp = post(
        server.addr,
        "/api/auth/sign-up/email",
        json!({"name": "B", "email": "signed@example.com", "password": "signed-password-1"}),
    );
    assert_eq!(resp.status, 200);
    let raw = resp.json()["token"].as_str().unwrap().to_string();
    let signed = resp.header("set-auth-token").unwrap().to_string();
    let with = |token: &str, path: &str| {
        let auth = format!("Bearer {token}");
        http_client::send(server.addr, "GET", path, &[("authorization", &auth)], b"")
    };
    assert!(with(&raw, "/api/auth/get-session").json().is_null());
    assert_eq!(with(&raw, "/api/auth/list-sessions").status, 401);
    assert_eq!(
        with(&signed, "/api/auth/get-session").json()["user"]["email"],
        "signed@example.com"
    );
    server.stop();
}

crate::suite!(
    unsigned_bearer_tokens_are_refused_when_signatures_are_required,
    typed_prehash_of_a_long_password_does_not_sign_in,
    forget_password_shares_the_reset_bucket,
);

/// Item 6: a path that matches no route was logged as sent, so
/// `GET /api/auth/reset-password/<token>/` (a trailing slash, 404) wrote the token to the log.
#[test]
fn unmatched_paths_are_logged_without_what_follows_their_first_segment() {
    // The binary's own log: every line counted below is this server's (an in-process tap
    // would also see the other tests' requests).
    let mut server = crate::support::binary::serve(&[("SESAME_LOG", "info")]);
    let secret = "Zq8LcXv2Tn5RpW7mKd3HsF9gBy4Je6Ua";
    for target in [
        format!("/api/auth/reset-password/{secret}/"),
        format!("/api/auth/reset-password/{secret}/extra"),
        format!("/api/auth/{secret}"),
        format!("/api/auth/{secret}/reset-password"),
        format!("/{secret}"),
        format!("/static/{secret}"),
        format!("/api/auth/verify-email/{secret}"),
    ] {
        let resp = http_client::send(server.addr, "GET", &target, &[], b"");
        assert_eq!(resp.status, 404, "{target}");
    }
    assert_eq!(server.terminate(), Some(0));
    let lines = server.lines();
    let access: Vec<&String> = lines.iter().filter(|l| l.contains(" status=404 ")).collect();
    assert_eq!(access.len(), 7, "{lines:?}");
    for line in &lines {
        assert!(!line.contains(secret), "the log leaks the token: {line}");
    }
    assert!(
        access
            .iter()
            .any(|l| l.contains("method=GET route=/api/auth/reset-password/… status=404")),
        "{access:?}"
    );
}

/// Also: every value written to the log is escaped — a provider's error text carrying CR/LF
/// cannot start a forged log line.
#[test]
fn provider_text_cannot_forge_a_log_line() {
    let tap = sesame::log::tap();
    let f = oauth::fake();
    f.respond(
        "/github/token",
        400,
        r#"{"error":"bad_code\r\nERROR forged: admin signed in","error_description":"x\ny"}"#,
    );
    let t = oauth::app(Backend::Memory, &f, &[]);
    let server = http_client::spawn(t.app.clone());
    let flow = oauth::start(
        &t,
        json!({"provider": "github", "callbackURL": "/dash", "errorCallbackURL": "/err"}),
    );
    let resp = http_client::send(
        server.addr,
        "GET",
        &format!("/api/auth/callback/github?code=c&state={}", flow.state),
        &[("cookie", &flow.cookies)],
        b"",
    );
    assert_eq!(resp.header("location"), Some("/err?error=invalid_code"));
    server.stop();
    // The tap sees every thread of the test process; "bad_code" comes only from this test's
    // provider, so this line is ours.
    let lines = tap.lines();
    assert!(lines.iter().any(|l| l.contains("bad_code")), "{lines:?}");
    for line in &lines {
        assert!(!line.contains('\n') && !line.contains('\r'), "raw CR/LF in {line:?}");
        assert!(!line.starts_with("ERROR forged"), "{line}");
    }
}
