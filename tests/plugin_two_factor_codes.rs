//! The two-factor plugin's other second factors, on every backend over the HTTP pipeline: the
//! emailed one-time code (send-otp / verify-otp: delivery, expiry, tries, replacement) and the
//! backup codes (single use, also under concurrency; new sets; `disableSession`).

use serde_json::json;
use sesame::mail::MailKind;

use crate::support::two_factor::{app, with_totp, Client, EMAIL};
use crate::support::{assert_error, json_body, set_cookie, Backend, TestApp, PASSWORD};

/// The newest emailed code to Ada, after the outbox delivered everything.
fn otp(t: &TestApp) -> String {
    let mail = t
        .delivered()
        .into_iter()
        .rev()
        .find(|m| m.kind == MailKind::TwoFactorOtp && m.to == EMAIL)
        .expect("a two-factor-otp email to Ada");
    assert_eq!(mail.url, "");
    assert!(mail.text.contains(&mail.token));
    mail.token
}

fn other_than(code: &str) -> &'static str {
    if code == "000000" {
        "111111"
    } else {
        "000000"
    }
}

fn sign_in_with_an_emailed_code(backend: Backend) {
    let t = app(backend);
    with_totp(&t);
    let mut c = Client::new(&t);
    let resp = c.sign_in();
    assert_eq!(json_body(&resp)["twoFactorMethods"], json!(["totp", "otp"]));
    let resp = c.post("/two-factor/send-otp", json!({}));
    assert_eq!(json_body(&resp), json!({"status": true}));
    let code = otp(&t);
    assert!(code.len() == 6 && code.chars().all(|ch| ch.is_ascii_digit()), "{code}");
    assert_error(
        &c.post("/two-factor/verify-otp", json!({"code": other_than(&code)})),
        401,
        "INVALID_CODE",
    );
    let resp = c.post("/two-factor/verify-otp", json!({"code": code}));
    assert_eq!(resp.status, 200);
    assert_eq!(json_body(&resp)["user"]["email"], EMAIL);
    assert_eq!(c.session_user()["email"], EMAIL);

    // The code is spent, and never stored as itself.
    let mut c = Client::new(&t);
    c.sign_in();
    let resp = c.post("/two-factor/verify-otp", json!({"code": code}));
    assert_error(&resp, 400, "OTP_HAS_EXPIRED");
    // send-otp needs a challenge or a session.
    let resp = Client::new(&t).post("/two-factor/send-otp", json!({}));
    assert_error(&resp, 401, "INVALID_TWO_FACTOR_COOKIE");
}

fn an_emailed_code_lasts_three_minutes_and_five_tries(backend: Backend) {
    let t = app(backend);
    with_totp(&t);
    let mut c = Client::new(&t);
    c.sign_in();
    c.post("/two-factor/send-otp", json!({}));
    let code = otp(&t);
    t.clock.advance(time::Duration::seconds(181));
    assert_error(
        &c.post("/two-factor/verify-otp", json!({"code": code})),
        400,
        "OTP_HAS_EXPIRED",
    );

    c.post("/two-factor/send-otp", json!({}));
    let code = otp(&t);
    for _ in 0..5 {
        let resp = c.post("/two-factor/verify-otp", json!({"code": other_than(&code)}));
        assert_error(&resp, 401, "INVALID_CODE");
    }
    let resp = c.post("/two-factor/verify-otp", json!({"code": code}));
    assert_error(&resp, 400, "TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE");
    // A new code replaces the old one; the older one no longer works.
    c.post("/two-factor/send-otp", json!({}));
    let older = otp(&t);
    t.clock.advance(time::Duration::seconds(1));
    c.post("/two-factor/send-otp", json!({}));
    let newer = otp(&t);
    if older != newer {
        assert_error(
            &c.post("/two-factor/verify-otp", json!({"code": older})),
            401,
            "INVALID_CODE",
        );
    }
    assert_eq!(c.post("/two-factor/verify-otp", json!({"code": newer})).status, 200);
}

fn enabling_by_email_code_needs_no_authenticator(backend: Backend) {
    let t = app(backend);
    let mut c = Client::new(&t);
    c.post(
        "/sign-up/email",
        json!({"name": "Ada", "email": EMAIL, "password": PASSWORD}),
    );
    let resp = c.post("/two-factor/enable", json!({"password": PASSWORD, "method": "otp"}));
    assert_eq!(json_body(&resp), json!({"method": "otp"}));
    assert!(set_cookie(&resp, "better-auth.session_token").is_some());
    assert_eq!(c.session_user()["twoFactorEnabled"], true);

    let mut c = Client::new(&t);
    let resp = c.sign_in();
    assert_eq!(json_body(&resp)["twoFactorMethods"], json!(["otp"]));
    let resp = c.post("/two-factor/verify-totp", json!({"code": "123456"}));
    assert_error(&resp, 400, "TOTP_NOT_ENABLED");
    let resp = c.post("/two-factor/verify-backup-code", json!({"code": "abcde-fghij"}));
    assert_error(&resp, 400, "BACKUP_CODES_NOT_ENABLED");
    c.post("/two-factor/send-otp", json!({}));
    let resp = c.post("/two-factor/verify-otp", json!({"code": otp(&t), "trustDevice": true}));
    assert_eq!(resp.status, 200);
    assert!(set_cookie(&resp, "better-auth.trust_device").is_some());
}

/// A signed-in user without two-factor who proves an emailed code switches it on (Better Auth).
fn a_signed_in_user_proving_an_emailed_code_switches_two_factor_on(backend: Backend) {
    let t = app(backend);
    let mut c = Client::new(&t);
    c.post(
        "/sign-up/email",
        json!({"name": "Ada", "email": EMAIL, "password": PASSWORD}),
    );
    c.post("/two-factor/send-otp", json!({}));
    let resp = c.post("/two-factor/verify-otp", json!({"code": otp(&t)}));
    assert_eq!(json_body(&resp)["user"]["twoFactorEnabled"], true);
    assert_eq!(c.session_user()["twoFactorEnabled"], true);
}

fn a_backup_code_signs_in_once(backend: Backend) {
    let t = app(backend);
    let (_, _, codes) = with_totp(&t);
    let mut c = Client::new(&t);
    c.sign_in();
    let resp = c.post("/two-factor/verify-backup-code", json!({"code": "nope0-nope0"}));
    assert_error(&resp, 401, "INVALID_BACKUP_CODE");
    let resp = c.post("/two-factor/verify-backup-code", json!({"code": codes[0]}));
    assert_eq!(resp.status, 200);
    assert_eq!(c.session_user()["email"], EMAIL);

    let mut c = Client::new(&t);
    c.sign_in();
    let resp = c.post("/two-factor/verify-backup-code", json!({"code": codes[0]}));
    assert_error(&resp, 401, "INVALID_BACKUP_CODE");
    assert_eq!(
        c.post("/two-factor/verify-backup-code", json!({"code": codes[1]}))
            .status,
        200
    );

    // Wrong codes count against the challenge like wrong TOTP codes.
    let mut c = Client::new(&t);
    c.sign_in();
    for _ in 0..5 {
        let resp = c.post("/two-factor/verify-backup-code", json!({"code": "nope0-nope0"}));
        assert_error(&resp, 401, "INVALID_BACKUP_CODE");
    }
    let resp = c.post("/two-factor/verify-backup-code", json!({"code": codes[2]}));
    assert_error(&resp, 400, "TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE");
}

/// Two sign-ins spending the same backup code at the same moment: exactly one gets a session.
fn a_backup_code_spent_twice_at_once_works_once(backend: Backend) {
    let t = app(backend);
    let (_, _, codes) = with_totp(&t);
    for (round, code) in codes.iter().take(3).enumerate() {
        let mut clients = [Client::new(&t), Client::new(&t)];
        for c in &mut clients {
            c.sign_in();
        }
        let statuses: Vec<u16> = std::thread::scope(|s| {
            let handles: Vec<_> = clients
                .iter_mut()
                .map(|c| s.spawn(move || c.post("/two-factor/verify-backup-code", json!({"code": code})).status))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut sorted = statuses.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [200, 401], "round {round}: {statuses:?}");
    }
}

fn new_backup_codes_replace_the_set(backend: Backend) {
    let t = app(backend);
    let mut c = Client::new(&t);
    c.post(
        "/sign-up/email",
        json!({"name": "Ada", "email": EMAIL, "password": PASSWORD}),
    );
    let resp = c.post("/two-factor/generate-backup-codes", json!({"password": PASSWORD}));
    assert_error(&resp, 400, "TWO_FACTOR_NOT_ENABLED");
    let t2 = app(backend);
    let (mut c, _, old) = with_totp(&t2);
    let resp = c.post(
        "/two-factor/generate-backup-codes",
        json!({"password": "wrong-password-1"}),
    );
    assert_error(&resp, 400, "INVALID_PASSWORD");
    let resp = c.post("/two-factor/generate-backup-codes", json!({"password": PASSWORD}));
    let body = json_body(&resp);
    assert_eq!(body["status"], true);
    let new: Vec<String> = serde_json::from_value(body["backupCodes"].clone()).unwrap();
    assert_eq!(new.len(), 10);
    assert!(new.iter().all(|n| !old.contains(n)));
    let mut s = Client::new(&t2);
    s.sign_in();
    assert_error(
        &s.post("/two-factor/verify-backup-code", json!({"code": old[0]})),
        401,
        "INVALID_BACKUP_CODE",
    );
    assert_eq!(
        s.post("/two-factor/verify-backup-code", json!({"code": new[0]})).status,
        200
    );
}

/// `disableSession: true` spends the code and creates no session.
fn a_backup_code_with_disable_session_creates_no_session(backend: Backend) {
    let t = app(backend);
    let (_, _, codes) = with_totp(&t);
    let mut c = Client::new(&t);
    c.sign_in();
    let resp = c.post(
        "/two-factor/verify-backup-code",
        json!({"code": codes[0], "disableSession": true}),
    );
    assert_eq!(resp.status, 200);
    let body = json_body(&resp);
    assert_eq!(body["user"]["email"], EMAIL);
    assert!(body.get("token").is_none(), "{body}");
    assert!(set_cookie(&resp, "better-auth.session_token").is_none());
    assert_eq!(c.session_user(), serde_json::Value::Null);
    let resp = c.post("/two-factor/verify-backup-code", json!({"code": codes[0]}));
    assert_error(&resp, 401, "INVALID_BACKUP_CODE");
}

/// The code goes to the account's address: a body naming another address changes nothing.
fn send_otp_mails_the_account_address_whatever_the_body_says(backend: Backend) {
    let t = app(backend);
    with_totp(&t);
    let mut c = Client::new(&t);
    c.sign_in();
    let resp = c.post(
        "/two-factor/send-otp",
        json!({"email": "mallory@evil.example", "to": "mallory@evil.example", "userId": "x"}),
    );
    assert_eq!(resp.status, 200);
    let mails = t.delivered();
    assert!(mails.iter().all(|m| m.to != "mallory@evil.example"), "{mails:?}");
    assert!(mails.iter().any(|m| m.kind == MailKind::TwoFactorOtp && m.to == EMAIL));
}

crate::backend_suite!(
    sign_in_with_an_emailed_code,
    an_emailed_code_lasts_three_minutes_and_five_tries,
    enabling_by_email_code_needs_no_authenticator,
    a_signed_in_user_proving_an_emailed_code_switches_two_factor_on,
    a_backup_code_signs_in_once,
    a_backup_code_spent_twice_at_once_works_once,
    new_backup_codes_replace_the_set,
    a_backup_code_with_disable_session_creates_no_session,
    send_otp_mails_the_account_address_whatever_the_body_says,
);
