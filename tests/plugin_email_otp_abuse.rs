//! The email-otp plugin under abuse, on every backend: addresses without an account answer
//! like known ones and get nothing, sign-up switched off, concurrent guesses (each counted, a
//! code used once), the per-recipient mail limit, the rate limit on every route, hostile input
//! and login CSRF; then the flow over a real socket and through the typed in-process API, and
//! the storage step a guess is.

use std::net::IpAddr;

use serde_json::json;
use sesame::mail::MailKind;
use sesame::plugins::email_otp::{self, SendVerificationOtpBody, SignInEmailOtpBody, VerifyEmailOtpBody};
use sesame::ratelimit::Rule;
use sesame::storage::models::Verification;
use sesame::storage::one_time_code::{CodeGuess, Guess, OnRight};
use time::Duration;

use crate::plugin_email_otp::{app, code, row, send, wrong, ADA};
use crate::support::browser::Browser;
use crate::support::wire::assert_validation;
use crate::support::{assert_error, http_client, json_body, Backend, TestApp, BASE};

fn post_from(t: &TestApp, ip: &str, path: &str, body: serde_json::Value) -> sesame::http::Response {
    t.send(
        sesame::http::Request::post(&format!("{BASE}{path}"))
            .with_json(&body)
            .with_remote_addr(ip.parse::<IpAddr>().unwrap()),
    )
}

/// What a caller can see of an answer.
fn seen(resp: &sesame::http::Response) -> (u16, serde_json::Value, Vec<String>) {
    let cookies = resp.set_cookies().iter().map(|c| c.to_string()).collect();
    (resp.status, json_body(resp), cookies)
}

fn an_address_without_an_account_answers_alike_and_gets_nothing(backend: Backend) {
    let t = app(backend, |_| {});
    t.sign_up(ADA);
    let nobody = "nobody@example.com";
    for (path, body) in [
        (
            "/email-otp/send-verification-otp",
            json!({"type": "email-verification"}),
        ),
        ("/email-otp/send-verification-otp", json!({"type": "forget-password"})),
        ("/email-otp/request-password-reset", json!({})),
        ("/forget-password/email-otp", json!({})),
    ] {
        let with = |email: &str| {
            let mut b = body.clone();
            b["email"] = json!(email);
            b
        };
        let known = t.post(path, with(ADA));
        let unknown = t.post(path, with(nobody));
        assert_eq!(seen(&known), seen(&unknown), "{path} {body}");
        assert_eq!(seen(&known).1, json!({"success": true}));
    }
    let mails = t.delivered();
    assert!(
        mails.iter().all(|m| m.to == ADA),
        "nothing to the unknown address: {mails:?}"
    );
    assert_eq!(
        mails
            .iter()
            .filter(|m| m.kind == MailKind::EmailOtpVerification)
            .count(),
        1
    );
    assert_eq!(
        mails
            .iter()
            .filter(|m| m.kind == MailKind::EmailOtpResetPassword)
            .count(),
        3
    );
    for kind in ["email-verification", "forget-password", "sign-in"] {
        assert!(
            row(&t, &format!("{kind}-otp-{nobody}")).is_none(),
            "{kind}: no code stored"
        );
    }
    assert!(t.storage().find_user_by_email(nobody).unwrap().is_none());
}

fn with_sign_up_off_a_code_never_makes_a_user(backend: Backend) {
    let t = app(backend, |c| c.email_otp_disable_sign_up = true);
    let nobody = "nobody@example.com";
    t.sign_up(ADA);
    assert_eq!(seen(&send(&t, "sign-in", nobody)), seen(&send(&t, "sign-in", ADA)));
    assert!(t.delivered().iter().all(|m| m.to == ADA));
    assert!(row(&t, &format!("sign-in-otp-{nobody}")).is_none());
    // Even a right code (one stored by hand) does not create the user.
    let now = t.clock_now();
    t.storage()
        .replace_code(&Verification {
            id: sesame::crypto::new_id(),
            identifier: format!("sign-in-otp-{nobody}"),
            value: "123456:0".into(),
            expires_at: now + Duration::seconds(300),
            created_at: now,
            updated_at: now,
        })
        .unwrap();
    let resp = t.post("/sign-in/email-otp", json!({"email": nobody, "otp": "123456"}));
    assert_error(&resp, 400, "INVALID_OTP");
    assert!(t.storage().find_user_by_email(nobody).unwrap().is_none());
    // Existing users still sign in.
    let resp = t.post(
        "/sign-in/email-otp",
        json!({"email": ADA, "otp": code(&t, MailKind::EmailOtpSignIn, ADA)}),
    );
    assert_eq!(resp.status, 200);
}

/// Six wrong guesses at once: the store orders them, so three are counted as wrong tries, one
/// finds the code used up (403) and deletes it, and the rest find no code. None is free, and
/// the right code is refused afterwards.
fn concurrent_wrong_guesses_each_count_a_try(backend: Backend) {
    let t = app(backend, |_| {});
    send(&t, "sign-in", ADA);
    let otp = code(&t, MailKind::EmailOtpSignIn, ADA);
    let statuses: Vec<(u16, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                s.spawn(|| {
                    let resp = t.post("/sign-in/email-otp", json!({"email": ADA, "otp": wrong(&otp)}));
                    (resp.status, json_body(&resp)["code"].as_str().unwrap().to_string())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let count = |status: u16, code: &str| statuses.iter().filter(|(s, c)| *s == status && c == code).count();
    assert_eq!(count(403, "TOO_MANY_ATTEMPTS"), 1, "{statuses:?}");
    assert_eq!(count(400, "INVALID_OTP"), 5, "{statuses:?}");
    assert!(row(&t, "sign-in-otp-ada@example.com").is_none());
    let resp = t.post("/sign-in/email-otp", json!({"email": ADA, "otp": otp}));
    assert_error(&resp, 400, "INVALID_OTP");
}

fn one_code_sent_many_times_at_once_signs_in_once(backend: Backend) {
    let t = app(backend, |_| {});
    send(&t, "sign-in", ADA);
    let otp = code(&t, MailKind::EmailOtpSignIn, ADA);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| t.post("/sign-in/email-otp", json!({"email": ADA, "otp": otp})).status))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 400), "{statuses:?}");
    let user = t.storage().find_user_by_email(ADA).unwrap().unwrap();
    assert_eq!(t.storage().list_user_sessions(&user.id).unwrap().len(), 1);
}

/// `SESAME_EMAIL_RECIPIENT_LIMIT` counts code mail like reset mail: past it, no mail and no new
/// code (the one mailed last stays good), and the same answer.
fn the_recipient_limit_caps_code_mail(backend: Backend) {
    let t = app(backend, |c| {
        c.rate_limit = true;
        c.email.recipient_limit = Some(Rule {
            window_secs: 3600,
            max: 2,
        });
    });
    for i in 0..4 {
        let resp = post_from(
            &t,
            &format!("203.0.113.{i}"),
            "/email-otp/send-verification-otp",
            json!({"email": ADA, "type": "sign-in"}),
        );
        assert_eq!((resp.status, json_body(&resp)), (200, json!({"success": true})));
    }
    let mails: Vec<_> = t.delivered().into_iter().filter(|m| m.to == ADA).collect();
    assert_eq!(mails.len(), 2);
    let last = &mails[1].token;
    assert_eq!(
        row(&t, "sign-in-otp-ada@example.com").unwrap().value,
        format!("{last}:0")
    );
}

/// Better Auth's plugin rule, 3 per 60 s per client, on every route of the plugin (sign-in by
/// code too: not sign-in's 3 per 10 s).
fn every_route_is_under_the_strict_rate_limit(backend: Backend) {
    let t = app(backend, |c| c.rate_limit = true);
    let routes = [
        ("/sign-in/email-otp", json!({"email": ADA, "otp": "000000"})),
        ("/email-otp/verify-email", json!({"email": ADA, "otp": "000000"})),
        (
            "/email-otp/check-verification-otp",
            json!({"email": ADA, "type": "sign-in", "otp": "000000"}),
        ),
        (
            "/email-otp/reset-password",
            json!({"email": ADA, "otp": "000000", "password": "new-password-123"}),
        ),
        (
            "/email-otp/send-verification-otp",
            json!({"email": ADA, "type": "email-verification"}),
        ),
        ("/email-otp/request-password-reset", json!({"email": ADA})),
    ];
    for (i, (path, body)) in routes.iter().enumerate() {
        let ip = format!("198.51.100.{i}");
        for _ in 0..3 {
            assert_ne!(post_from(&t, &ip, path, body.clone()).status, 429, "{path}");
        }
        let resp = post_from(&t, &ip, path, body.clone());
        assert_eq!(resp.status, 429, "{path}");
        assert_eq!(resp.header("retry-after"), Some("60"), "{path}");
    }
    // The former name of request-password-reset shares its bucket.
    let resp = post_from(&t, "198.51.100.5", "/forget-password/email-otp", json!({"email": ADA}));
    assert_eq!(resp.status, 429);
    t.clock.advance(Duration::seconds(11));
    assert_eq!(
        post_from(&t, "198.51.100.0", routes[0].0, routes[0].1.clone()).status,
        429
    );
    t.clock.advance(Duration::seconds(50));
    assert_error(
        &post_from(&t, "198.51.100.0", routes[0].0, routes[0].1.clone()),
        400,
        "INVALID_OTP",
    );
}

fn hostile_input_gets_clear_refusals(backend: Backend) {
    let t = app(backend, |_| {});
    assert_validation(
        &send(&t, "magic", ADA),
        r#"[body.type] Invalid option: expected one of "email-verification"|"sign-in"|"forget-password"|"change-email""#,
    );
    assert_validation(
        &t.post("/email-otp/send-verification-otp", json!({})),
        r#"[body.email] Invalid input: expected string, received undefined; [body.type] Invalid option: expected one of "email-verification"|"sign-in"|"forget-password"|"change-email""#,
    );
    assert_error(&send(&t, "change-email", ADA), 400, "INVALID_OTP_TYPE");
    // Addresses that could smuggle mail headers or recipients, or are no address at all.
    for bad in [
        "ada@example.com\r\nBcc: eve@evil.example",
        "ada@example.com, eve@evil.example",
        "not-an-address",
        "",
    ] {
        assert_error(&send(&t, "sign-in", bad), 400, "INVALID_EMAIL");
        assert_error(
            &t.post("/email-otp/request-password-reset", json!({"email": bad})),
            400,
            "INVALID_EMAIL",
        );
        assert_error(
            &t.post("/email-otp/verify-email", json!({"email": bad, "otp": "123456"})),
            400,
            "INVALID_EMAIL",
        );
        // Sign-in does not check the form (as Better Auth): such an address has no code.
        let resp = t.post("/sign-in/email-otp", json!({"email": bad, "otp": "123456"}));
        assert_error(&resp, 400, "INVALID_OTP");
    }
    assert_validation(
        &t.post("/sign-in/email-otp", json!({"email": ADA, "otp": 123456})),
        "[body.otp] Invalid input: expected string, received number",
    );
    assert_validation(
        &t.post("/sign-in/email-otp", json!(["ada"])),
        "[body] Invalid input: expected object, received array; [body] Invalid input: expected record, received array",
    );
    // A code can be neither longer nor a prefix of itself.
    send(&t, "sign-in", ADA);
    let otp = code(&t, MailKind::EmailOtpSignIn, ADA);
    for near in [format!("{otp}0"), otp[..5].to_string(), format!(" {otp}")] {
        let resp = t.post("/sign-in/email-otp", json!({"email": ADA, "otp": near}));
        assert_error(&resp, 400, "INVALID_OTP");
    }
    assert!(
        t.delivered().iter().all(|m| m.to == ADA),
        "nothing mailed to a hostile address"
    );
    assert!(t.storage().find_user_by_email(ADA).unwrap().is_none());
}

/// A cross-site form can neither start (send-verification-otp, Better Auth's formCsrf) nor
/// finish (sign-in, Sesame's login-CSRF rule) a sign-in by code.
fn a_cross_site_form_cannot_sign_in_by_code(backend: Backend) {
    let t = app(backend, |_| {});
    let cross = [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-mode", "navigate"),
    ];
    let resp = t.post_headers(
        "/email-otp/send-verification-otp",
        json!({"email": ADA, "type": "sign-in"}),
        &cross,
    );
    assert_error(&resp, 403, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED");
    send(&t, "sign-in", ADA);
    let otp = code(&t, MailKind::EmailOtpSignIn, ADA);
    let resp = t.post_headers("/sign-in/email-otp", json!({"email": ADA, "otp": otp}), &cross);
    assert_error(&resp, 403, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED");
    let resp = t.post_headers(
        "/sign-in/email-otp",
        json!({"email": ADA, "otp": otp}),
        &[("origin", "https://evil.example")],
    );
    assert_error(&resp, 403, "INVALID_ORIGIN");
    assert_eq!(
        row(&t, "sign-in-otp-ada@example.com").unwrap().value,
        format!("{otp}:0")
    );
}

fn the_flow_works_over_a_real_socket(backend: Backend) {
    let t = app(backend, |_| {});
    let server = http_client::spawn(t.app.clone());
    let mut b = Browser::new(server.addr);
    let at = |path: &str| format!("{BASE}{path}");
    let resp = b.post(
        &at("/email-otp/send-verification-otp"),
        &json!({"email": ADA, "type": "sign-in"}),
    );
    assert_eq!((resp.status, resp.json()), (200, json!({"success": true})));
    let otp = code(&t, MailKind::EmailOtpSignIn, ADA);
    let resp = b.post(
        &at("/sign-in/email-otp"),
        &json!({"email": ADA, "otp": otp, "name": "Ada"}),
    );
    assert_eq!(resp.status, 200);
    assert!(resp
        .set_cookies()
        .iter()
        .any(|c| c.starts_with("better-auth.session_token=") && c.contains("HttpOnly")));
    assert_eq!(b.get(&at("/get-session")).json()["user"]["name"], "Ada");
}

fn the_flow_works_through_the_in_process_api(backend: Backend) {
    let t = app(backend, |_| {});
    let sent = t
        .app
        .endpoint(&email_otp::SEND_VERIFICATION_OTP)
        .body(SendVerificationOtpBody {
            email: ADA.into(),
            otp_type: "sign-in".into(),
        })
        .send()
        .unwrap();
    assert!(sent.success);
    let otp = code(&t, MailKind::EmailOtpSignIn, ADA);
    let signed = t
        .app
        .endpoint(&email_otp::SIGN_IN_EMAIL_OTP)
        .body(SignInEmailOtpBody {
            email: ADA.into(),
            otp: otp.clone(),
            ..Default::default()
        })
        .with_headers()
        .unwrap();
    assert_eq!(signed.data.user.email, ADA);
    assert!(signed.data.token.is_some());
    let err = t
        .app
        .endpoint(&email_otp::SIGN_IN_EMAIL_OTP)
        .body(SignInEmailOtpBody {
            email: ADA.into(),
            otp,
            ..Default::default()
        })
        .send()
        .unwrap_err();
    assert_eq!((err.status, err.code.as_ref()), (400, "INVALID_OTP"));
    let err = t
        .app
        .endpoint(&email_otp::VERIFY_EMAIL_OTP)
        .body(VerifyEmailOtpBody {
            email: ADA.into(),
            otp: "000000".into(),
        })
        .send()
        .unwrap_err();
    assert_eq!((err.status, err.code.as_ref()), (400, "INVALID_OTP"));
}

/// The storage step behind every guess, on each backend.
fn a_guess_is_one_storage_step(backend: Backend) {
    let t = TestApp::new(backend);
    let now = t.clock_now();
    let id = "sign-in-otp-ada@example.com";
    let store = |value: &str, expires: Duration| {
        t.storage()
            .replace_code(&Verification {
                id: sesame::crypto::new_id(),
                identifier: id.into(),
                value: value.into(),
                expires_at: now + expires,
                created_at: now,
                updated_at: now,
            })
            .unwrap()
    };
    let guess = |otp: &'static str, on_right: OnRight| {
        let matches = move |stored: &str| stored == otp;
        t.storage()
            .guess_code(
                &Guess {
                    identifier: id,
                    now,
                    allowed_tries: 3,
                    matches: &matches,
                },
                on_right,
            )
            .unwrap()
    };
    assert_eq!(guess("123456", OnRight::Consume), CodeGuess::Missing);
    store("123456:0", Duration::seconds(300));
    assert_eq!(guess("123456", OnRight::Keep), CodeGuess::Right);
    assert_eq!(row(&t, id).unwrap().value, "123456:0", "kept as it was");
    assert_eq!(guess("654321", OnRight::Keep), CodeGuess::Wrong);
    assert_eq!(row(&t, id).unwrap().value, "123456:1");
    assert_eq!(guess("123456", OnRight::Consume), CodeGuess::Right);
    assert!(row(&t, id).is_none(), "consumed");

    store("123456:3", Duration::seconds(300));
    assert_eq!(guess("123456", OnRight::Keep), CodeGuess::Exhausted);
    assert!(row(&t, id).is_none());
    store("123456:two", Duration::seconds(300));
    assert_eq!(
        guess("123456", OnRight::Keep),
        CodeGuess::Exhausted,
        "a damaged count locks"
    );
    store("123456:0", Duration::seconds(-1));
    assert_eq!(guess("123456", OnRight::Keep), CodeGuess::Expired);
    assert!(row(&t, id).is_none());
    // Replacing keeps one row per identifier.
    store("111111:2", Duration::seconds(300));
    store("222222:0", Duration::seconds(300));
    assert_eq!(guess("111111", OnRight::Keep), CodeGuess::Wrong);
    assert_eq!(row(&t, id).unwrap().value, "222222:1");
}

crate::backend_suite!(
    an_address_without_an_account_answers_alike_and_gets_nothing,
    with_sign_up_off_a_code_never_makes_a_user,
    concurrent_wrong_guesses_each_count_a_try,
    one_code_sent_many_times_at_once_signs_in_once,
    the_recipient_limit_caps_code_mail,
    every_route_is_under_the_strict_rate_limit,
    hostile_input_gets_clear_refusals,
    a_cross_site_form_cannot_sign_in_by_code,
    the_flow_works_over_a_real_socket,
    the_flow_works_through_the_in_process_api,
    a_guess_is_one_storage_step,
);

/// With the durable outbox (SQLite, PostgreSQL) full and the mail server refusing everything:
/// a request for a code is answered 503 `MAIL_QUEUE_FULL` before the address is looked up (an
/// address with an account and one without alike), and no new code replaces the one whose
/// email is waiting.
fn a_full_mail_queue_refuses_a_code_before_any_change(storage: std::sync::Arc<dyn sesame::storage::Storage>) {
    let mut config = sesame::Config::for_tests();
    config.plugins = vec!["email-otp".into()];
    config.email.outbox.capacity = 1;
    let down = std::sync::Arc::new(sesame::mail::from_fn(|_| {
        Err(sesame::mail::DeliveryError::transient("the mail server is down"))
    }));
    let clock = std::sync::Arc::new(sesame::clock::FixedClock::new(
        time::macros::datetime!(2026-11-26 12:00 UTC),
    ));
    let app = sesame::App::new(config, storage, clock)
        .and_then(|a| a.with_mailer(down))
        .unwrap();
    let post = |body: serde_json::Value| {
        app.handle_http(
            sesame::http::Request::post(&format!("{BASE}/email-otp/send-verification-otp")).with_json(&body),
        )
    };
    app.handle_http(
        sesame::http::Request::post(&format!("{BASE}/sign-up/email"))
            .with_json(&json!({"name": "Ada", "email": ADA, "password": crate::support::PASSWORD})),
    );
    let first = post(json!({"email": ADA, "type": "email-verification"}));
    assert_eq!(first.status, 200);
    let id = "email-verification-otp-ada@example.com";
    let stored = app.storage.find_verification(id).unwrap().expect("the first code");
    for email in [ADA, "nobody@example.com"] {
        let refused = post(json!({"email": email, "type": "email-verification"}));
        assert_error(&refused, 503, "MAIL_QUEUE_FULL");
        assert_eq!(refused.header("retry-after"), Some("60"));
    }
    assert_eq!(
        app.storage.find_verification(id).unwrap(),
        Some(stored),
        "the first code stays"
    );
}

#[test]
fn a_full_mail_queue_refuses_a_code_before_any_change_on_sqlite() {
    let file = crate::support::sqlite::SqliteFile::new();
    let storage = std::sync::Arc::new(file.storage(&crate::support::sqlite::test_options()));
    a_full_mail_queue_refuses_a_code_before_any_change(storage);
}

#[test]
fn a_full_mail_queue_refuses_a_code_before_any_change_on_postgres() {
    // None: PostgreSQL is unreachable outside CI and the skip was reported.
    if let Some(schema) = crate::support::postgres::PgSchema::create() {
        let storage = std::sync::Arc::new(schema.storage(&crate::support::postgres::test_options()));
        a_full_mail_queue_refuses_a_code_before_any_change(storage);
    }
}
