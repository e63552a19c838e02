//! The email-otp plugin's flows on every backend, through the HTTP pipeline: sign-in (and
//! sign-up) by code, verify-email, check-verification-otp and reset-password; each code's
//! storage as Better Auth keeps it, single use, expiry, wrong codes and the try limit.

use serde_json::{json, Value};
use sesame::config::Config;
use sesame::mail::MailKind;
use time::Duration;

use crate::support::wire::iso;
use crate::support::{assert_error, cookie_header, json_body, set_cookie, Backend, TestApp, PASSWORD};

pub const ADA: &str = "ada@example.com";

/// An app with the email-otp plugin, adjusted.
pub fn app(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
    TestApp::with_config(backend, |c| {
        c.plugins = vec!["email-otp".into()];
        adjust(c);
    })
}

/// `POST /email-otp/send-verification-otp`.
pub fn send(t: &TestApp, kind: &str, email: &str) -> sesame::http::Response {
    t.post(
        "/email-otp/send-verification-otp",
        json!({"email": email, "type": kind}),
    )
}

/// The newest code of this kind mailed to `to`, after the outbox delivered everything: a
/// mail with the code as its token and no link.
pub fn code(t: &TestApp, kind: MailKind, to: &str) -> String {
    let mail = t
        .delivered()
        .into_iter()
        .rev()
        .find(|m| m.kind == kind && m.to == to)
        .unwrap_or_else(|| panic!("no {} mail to {to}", kind.as_str()));
    assert_eq!(mail.url, "", "a code mail has no link");
    assert!(mail.text.contains(&mail.token) && mail.html.contains(&mail.token));
    assert!(
        mail.token.len() == 6 && mail.token.bytes().all(|b| b.is_ascii_digit()),
        "{}",
        mail.token
    );
    mail.token
}

/// A code that is not `code`.
pub fn wrong(code: &str) -> &'static str {
    if code == "000000" {
        "111111"
    } else {
        "000000"
    }
}

/// The stored row of a code, if any.
pub fn row(t: &TestApp, identifier: &str) -> Option<sesame::storage::models::Verification> {
    t.storage().find_verification(identifier).unwrap()
}

fn sign_in(t: &TestApp, email: &str, otp: &str) -> sesame::http::Response {
    t.post("/sign-in/email-otp", json!({"email": email, "otp": otp}))
}

fn a_sign_in_code_signs_up_a_new_address(backend: Backend) {
    let t = app(backend, |_| {});
    let resp = send(&t, "sign-in", "Ada@Example.com");
    assert_eq!((resp.status, json_body(&resp)), (200, json!({"success": true})));
    let otp = code(&t, MailKind::EmailOtpSignIn, ADA);
    let resp = t.post(
        "/sign-in/email-otp",
        json!({"email": "ADA@example.com", "otp": otp, "name": "Ada", "image": "https://img.example/ada.png"}),
    );
    assert_eq!(resp.status, 200, "{}", crate::support::body_text(&resp));
    let body = json_body(&resp);
    let token = body["token"].as_str().unwrap().to_string();
    assert_eq!(body["user"]["email"], ADA);
    assert_eq!(body["user"]["name"], "Ada");
    assert_eq!(body["user"]["emailVerified"], true);
    assert_eq!(body["user"]["image"], "https://img.example/ada.png");
    assert!(set_cookie(&resp, "better-auth.session_token").is_some());
    let session = t.session_of(&cookie_header(&resp));
    assert_eq!(
        (session["session"]["token"].as_str(), &session["user"]["email"]),
        (Some(token.as_str()), &json!(ADA))
    );

    // Stored: a verified user with no account at all (no password), and the code is gone.
    let user = t.storage().find_user_by_email(ADA).unwrap().unwrap();
    assert!(user.email_verified);
    assert!(t.storage().list_user_accounts(&user.id).unwrap().is_empty());
    assert!(row(&t, "sign-in-otp-ada@example.com").is_none());
    // Single use.
    assert_error(&sign_in(&t, ADA, &otp), 400, "INVALID_OTP");
}

fn a_sign_in_code_signs_in_an_existing_user(backend: Backend) {
    let t = app(backend, |_| {});
    t.sign_up(ADA);
    t.mark_verified(ADA);
    send(&t, "sign-in", ADA);
    let otp = code(&t, MailKind::EmailOtpSignIn, ADA);
    let resp = t.post(
        "/sign-in/email-otp",
        json!({"email": ADA, "otp": otp, "name": "Ignored"}),
    );
    assert_eq!(resp.status, 200);
    let body = json_body(&resp);
    assert_eq!(body["user"]["name"], "Test User", "name is only for a new user");
    assert_eq!(
        body.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["token".to_string(), "user".to_string()])
    );
    let user = t.storage().find_user_by_email(ADA).unwrap().unwrap();
    assert_eq!(
        t.storage().list_user_accounts(&user.id).unwrap().len(),
        1,
        "the password stays"
    );
    assert_eq!(t.storage().list_user_sessions(&user.id).unwrap().len(), 2);
}

/// Someone signed up with Ada's address and a password of their own, unverified; Ada's code
/// proves the address, so what was set up before goes (Better Auth's
/// `revokeUnprovenAccountAccess`).
fn signing_in_by_code_removes_access_set_up_before_the_address_was_proven(backend: Backend) {
    let t = app(backend, |_| {});
    let (_, squatter) = t.sign_up(ADA);
    send(&t, "sign-in", ADA);
    let resp = sign_in(&t, ADA, &code(&t, MailKind::EmailOtpSignIn, ADA));
    assert_eq!(resp.status, 200);
    assert_eq!(json_body(&resp)["user"]["emailVerified"], true);
    let user = t.storage().find_user_by_email(ADA).unwrap().unwrap();
    assert!(user.email_verified);
    assert!(
        t.storage().list_user_accounts(&user.id).unwrap().is_empty(),
        "the password is gone"
    );
    let sessions = t.storage().list_user_sessions(&user.id).unwrap();
    assert_eq!(sessions.len(), 1, "only the new session");
    assert_eq!(t.get("/get-session", Some(&squatter)).body, b"null");
    assert_error(&t.sign_in(ADA, PASSWORD), 401, "INVALID_EMAIL_OR_PASSWORD");
}

fn the_code_is_stored_as_better_auth_stores_it(backend: Backend) {
    let t = app(backend, |_| {});
    let sent_at = t.clock_now();
    send(&t, "sign-in", ADA);
    let otp = code(&t, MailKind::EmailOtpSignIn, ADA);
    let stored = row(&t, "sign-in-otp-ada@example.com").expect("row");
    assert_eq!(stored.value, format!("{otp}:0"));
    assert_eq!(iso(stored.expires_at), iso(sent_at + Duration::seconds(300)));
    sign_in(&t, ADA, wrong(&otp));
    let stored = row(&t, "sign-in-otp-ada@example.com").expect("row");
    assert_eq!(stored.value, format!("{otp}:1"), "a wrong try is counted on the row");
    assert_eq!(
        iso(stored.expires_at),
        iso(sent_at + Duration::seconds(300)),
        "expiry unchanged"
    );
}

fn a_code_lasts_three_hundred_seconds(backend: Backend) {
    let t = app(backend, |_| {});
    send(&t, "sign-in", ADA);
    let otp = code(&t, MailKind::EmailOtpSignIn, ADA);
    t.clock.advance(Duration::seconds(300));
    assert_eq!(sign_in(&t, ADA, &otp).status, 200, "good until its expiry");

    send(&t, "sign-in", ADA);
    let otp = code(&t, MailKind::EmailOtpSignIn, ADA);
    t.clock.advance(Duration::seconds(301));
    assert_error(&sign_in(&t, ADA, &otp), 400, "OTP_EXPIRED");
    assert!(
        row(&t, "sign-in-otp-ada@example.com").is_none(),
        "an expired code is deleted"
    );
    assert_error(&sign_in(&t, ADA, &otp), 400, "INVALID_OTP");
}

/// Better Auth's `allowedAttempts: 3`: three wrong tries are each refused; the fourth try is
/// refused with 403 whatever it says, and the code is gone.
fn three_wrong_codes_use_up_the_code(backend: Backend) {
    let t = app(backend, |_| {});
    send(&t, "sign-in", ADA);
    let otp = code(&t, MailKind::EmailOtpSignIn, ADA);
    for _ in 0..3 {
        assert_error(&sign_in(&t, ADA, wrong(&otp)), 400, "INVALID_OTP");
    }
    assert_eq!(
        row(&t, "sign-in-otp-ada@example.com").unwrap().value,
        format!("{otp}:3")
    );
    let resp = sign_in(&t, ADA, &otp);
    assert_error(&resp, 403, "TOO_MANY_ATTEMPTS");
    assert_eq!(json_body(&resp)["message"], "Too many attempts");
    assert!(row(&t, "sign-in-otp-ada@example.com").is_none());
    assert_error(&sign_in(&t, ADA, &otp), 400, "INVALID_OTP");
    assert!(
        t.storage().find_user_by_email(ADA).unwrap().is_none(),
        "no user was made"
    );
}

fn a_new_code_replaces_the_old_one(backend: Backend) {
    let t = app(backend, |_| {});
    send(&t, "sign-in", ADA);
    let first = code(&t, MailKind::EmailOtpSignIn, ADA);
    sign_in(&t, ADA, wrong(&first));
    send(&t, "sign-in", ADA);
    let second = code(&t, MailKind::EmailOtpSignIn, ADA);
    let stored = row(&t, "sign-in-otp-ada@example.com").unwrap();
    assert_eq!(stored.value, format!("{second}:0"), "a new code starts with every try");
    if first != second {
        assert_error(&sign_in(&t, ADA, &first), 400, "INVALID_OTP");
    }
    assert_eq!(sign_in(&t, ADA, &second).status, 200);
}

fn a_verification_code_verifies_the_address(backend: Backend) {
    let t = app(backend, |_| {});
    let (_, cookies) = t.sign_up(ADA);
    send(&t, "email-verification", ADA);
    let otp = code(&t, MailKind::EmailOtpVerification, ADA);
    // A sign-in code is another code: this one does not sign in.
    assert_error(&sign_in(&t, ADA, &otp), 400, "INVALID_OTP");
    let resp = t.post("/email-otp/verify-email", json!({"email": ADA, "otp": otp}));
    assert_eq!(resp.status, 200);
    let body = json_body(&resp);
    assert_eq!((&body["status"], &body["token"]), (&json!(true), &Value::Null));
    assert_eq!(body["user"]["emailVerified"], true);
    assert!(
        set_cookie(&resp, "better-auth.session_token").is_none(),
        "no session made"
    );
    assert!(t.storage().find_user_by_email(ADA).unwrap().unwrap().email_verified);
    assert_eq!(t.session_of(&cookies)["user"]["emailVerified"], true);
    let again = t.post("/email-otp/verify-email", json!({"email": ADA, "otp": otp}));
    assert_error(&again, 400, "INVALID_OTP");
}

fn a_verification_code_signs_in_with_auto_sign_in_after_verification(backend: Backend) {
    let t = app(backend, |c| c.email.auto_sign_in_after_verification = true);
    t.sign_up(ADA);
    send(&t, "email-verification", ADA);
    let otp = code(&t, MailKind::EmailOtpVerification, ADA);
    let resp = t.post("/email-otp/verify-email", json!({"email": ADA, "otp": otp}));
    let body = json_body(&resp);
    let token = body["token"].as_str().expect("a session token");
    assert_eq!(t.session_of(&cookie_header(&resp))["session"]["token"], token);
}

fn checking_a_code_keeps_it(backend: Backend) {
    let t = app(backend, |_| {});
    t.sign_up(ADA);
    send(&t, "email-verification", ADA);
    let otp = code(&t, MailKind::EmailOtpVerification, ADA);
    let check = |otp: &str, kind: &str| {
        t.post(
            "/email-otp/check-verification-otp",
            json!({"email": ADA, "type": kind, "otp": otp}),
        )
    };
    for _ in 0..2 {
        let resp = check(&otp, "email-verification");
        assert_eq!((resp.status, json_body(&resp)), (200, json!({"success": true})));
    }
    assert_error(&check(&otp, "sign-in"), 400, "INVALID_OTP");
    assert_error(&check(wrong(&otp), "email-verification"), 400, "INVALID_OTP");
    assert_eq!(
        row(&t, "email-verification-otp-ada@example.com").unwrap().value,
        format!("{otp}:1"),
        "a wrong check is a try"
    );
    let resp = t.post("/email-otp/verify-email", json!({"email": ADA, "otp": otp}));
    assert_eq!(resp.status, 200);

    // A right code for an address without an account says so (its holder has it anyway).
    send(&t, "sign-in", "new@example.com");
    let otp = code(&t, MailKind::EmailOtpSignIn, "new@example.com");
    let resp = t.post(
        "/email-otp/check-verification-otp",
        json!({"email": "new@example.com", "type": "sign-in", "otp": otp}),
    );
    assert_error(&resp, 400, "USER_NOT_FOUND");
    assert_eq!(sign_in(&t, "new@example.com", &otp).status, 200, "the check kept it");
}

fn a_reset_code_sets_a_new_password(backend: Backend) {
    let t = app(backend, |c| c.email.revoke_sessions_on_password_reset = true);
    let (_, cookies) = t.sign_up(ADA);
    let resp = t.post("/email-otp/request-password-reset", json!({"email": ADA}));
    assert_eq!((resp.status, json_body(&resp)), (200, json!({"success": true})));
    let otp = code(&t, MailKind::EmailOtpResetPassword, ADA);
    let reset = |otp: &str, password: &str| {
        t.post(
            "/email-otp/reset-password",
            json!({"email": ADA, "otp": otp, "password": password}),
        )
    };
    assert_error(&reset(&otp, "short"), 400, "PASSWORD_TOO_SHORT");
    assert_error(&reset(&otp, &"x".repeat(129)), 400, "PASSWORD_TOO_LONG");
    assert_error(&reset(wrong(&otp), "new-password-123"), 400, "INVALID_OTP");
    let resp = reset(&otp, "new-password-123");
    assert_eq!((resp.status, json_body(&resp)), (200, json!({"success": true})));
    assert_error(&reset(&otp, "other-password-456"), 400, "INVALID_OTP");

    assert_error(&t.sign_in(ADA, PASSWORD), 401, "INVALID_EMAIL_OR_PASSWORD");
    assert_eq!(t.sign_in(ADA, "new-password-123").status, 200);
    assert_eq!(t.get("/get-session", Some(&cookies)).body, b"null", "sessions ended");
    assert!(t.storage().find_user_by_email(ADA).unwrap().unwrap().email_verified);
}

fn a_reset_code_keeps_sessions_unless_configured(backend: Backend) {
    let t = app(backend, |_| {});
    let (_, cookies) = t.sign_up(ADA);
    t.mark_verified(ADA);
    // The former route name works the same.
    let resp = t.post("/forget-password/email-otp", json!({"email": ADA}));
    assert_eq!((resp.status, json_body(&resp)), (200, json!({"success": true})));
    let otp = code(&t, MailKind::EmailOtpResetPassword, ADA);
    let resp = t.post(
        "/email-otp/reset-password",
        json!({"email": ADA, "otp": otp, "password": "new-password-123"}),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(t.session_of(&cookies)["user"]["email"], ADA);
}

/// A code-only user gets a password; one over bcrypt's 72 bytes is kept whole (the first 72
/// bytes alone do not sign in).
fn a_reset_code_gives_a_code_only_user_a_whole_long_password(backend: Backend) {
    let t = app(backend, |c| c.max_password_length = 200);
    send(&t, "sign-in", ADA);
    sign_in(&t, ADA, &code(&t, MailKind::EmailOtpSignIn, ADA));
    send(&t, "forget-password", ADA);
    let otp = code(&t, MailKind::EmailOtpResetPassword, ADA);
    let long = format!("{}-tail", "p".repeat(80));
    let resp = t.post(
        "/email-otp/reset-password",
        json!({"email": ADA, "otp": otp, "password": long}),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(t.sign_in(ADA, &long).status, 200);
    assert_error(&t.sign_in(ADA, &long[..72]), 401, "INVALID_EMAIL_OR_PASSWORD");
}

/// With the anonymous plugin, a guest who signs in by code (and one whose address a
/// verification code signs in) stops being a guest: Better Auth's hook on `/sign-in*` and
/// `/email-otp/verify-email` deletes the guest user.
fn a_guest_signing_in_by_code_is_no_longer_a_guest(backend: Backend) {
    let t = app(backend, |c| {
        c.plugins = vec!["anonymous".into(), "email-otp".into()];
        c.email.auto_sign_in_after_verification = true;
    });
    let guest_of = |t: &TestApp| {
        let resp = t.post("/sign-in/anonymous", json!({}));
        assert_eq!(resp.status, 200);
        (
            json_body(&resp)["user"]["id"].as_str().unwrap().to_string(),
            cookie_header(&resp),
        )
    };
    let (guest, cookies) = guest_of(&t);
    send(&t, "sign-in", ADA);
    let otp = code(&t, MailKind::EmailOtpSignIn, ADA);
    let resp = t.post_with_cookies("/sign-in/email-otp", json!({"email": ADA, "otp": otp}), &cookies);
    assert_eq!(resp.status, 200);
    assert!(
        t.storage().find_user_by_id(&guest).unwrap().is_none(),
        "the guest is gone"
    );
    let now = t.session_of(&cookie_header(&resp));
    assert_eq!(
        (&now["user"]["email"], &now["user"]["isAnonymous"]),
        (&json!(ADA), &json!(false))
    );

    let (guest, cookies) = guest_of(&t);
    send(&t, "email-verification", ADA);
    let otp = code(&t, MailKind::EmailOtpVerification, ADA);
    let resp = t.post_with_cookies("/email-otp/verify-email", json!({"email": ADA, "otp": otp}), &cookies);
    assert_eq!(resp.status, 200);
    assert!(
        t.storage().find_user_by_id(&guest).unwrap().is_none(),
        "the guest is gone"
    );
}

/// `SESAME_EMAIL_OTP_OVERRIDE_EMAIL_VERIFICATION` (Better Auth's
/// `overrideDefaultEmailVerification`): the verification email of a sign-up and of
/// send-verification-email carries a code, and no link goes out; without it, links as before.
fn with_the_override_verification_emails_carry_a_code_instead_of_a_link(backend: Backend) {
    let t = app(backend, |c| {
        c.email.send_on_sign_up = true;
        c.email_otp_override_email_verification = true;
    });
    let (_, cookies) = t.sign_up(ADA);
    let otp = code(&t, MailKind::EmailOtpVerification, ADA);
    let resp = t.post("/email-otp/verify-email", json!({"email": ADA, "otp": otp}));
    assert_eq!(json_body(&resp)["user"]["emailVerified"], true);

    let bob = "bob@example.com";
    let (_, bob_cookies) = t.sign_up(bob);
    let first = code(&t, MailKind::EmailOtpVerification, bob);
    let resp = t.post_with_cookies("/send-verification-email", json!({"email": bob}), &bob_cookies);
    assert_eq!(resp.status, 200);
    let second = code(&t, MailKind::EmailOtpVerification, bob);
    let mails = t.delivered();
    assert_eq!(mails.iter().filter(|m| m.to == bob).count(), 2);
    assert!(
        mails.iter().all(|m| m.kind != MailKind::Verification),
        "no link: {mails:?}"
    );
    assert_eq!(
        row(&t, "email-verification-otp-bob@example.com").unwrap().value,
        format!("{second}:0"),
        "the second code replaced the first ({first})"
    );
    assert_eq!(t.session_of(&cookies)["user"]["emailVerified"], true);

    let t = app(backend, |c| c.email.send_on_sign_up = true);
    t.sign_up(ADA);
    assert!(t
        .mail_to(MailKind::Verification, ADA)
        .url
        .contains("/verify-email?token="));
    assert!(t.delivered().iter().all(|m| m.kind == MailKind::Verification));
}

/// `SESAME_EMAIL_OTP_SEND_VERIFICATION_ON_SIGN_UP` (Better Auth's `sendVerificationOnSignUp`):
/// a sign-up is followed by an email-verification code, and the code verifies the address.
fn a_sign_up_is_followed_by_a_verification_code_when_configured(backend: Backend) {
    let t = app(backend, |c| c.email_otp_send_verification_on_sign_up = true);
    t.sign_up(ADA);
    let otp = code(&t, MailKind::EmailOtpVerification, ADA);
    assert!(t.delivered().iter().all(|m| m.kind == MailKind::EmailOtpVerification));
    let resp = t.post("/email-otp/verify-email", json!({"email": ADA, "otp": otp}));
    assert_eq!(json_body(&resp)["user"]["emailVerified"], true);
    // Off by default: a sign-up sends nothing.
    let t = app(backend, |_| {});
    t.sign_up(ADA);
    t.assert_no_mail();
}

crate::backend_suite!(
    a_sign_up_is_followed_by_a_verification_code_when_configured,
    with_the_override_verification_emails_carry_a_code_instead_of_a_link,
    a_guest_signing_in_by_code_is_no_longer_a_guest,
    a_sign_in_code_signs_up_a_new_address,
    a_sign_in_code_signs_in_an_existing_user,
    signing_in_by_code_removes_access_set_up_before_the_address_was_proven,
    the_code_is_stored_as_better_auth_stores_it,
    a_code_lasts_three_hundred_seconds,
    three_wrong_codes_use_up_the_code,
    a_new_code_replaces_the_old_one,
    a_verification_code_verifies_the_address,
    a_verification_code_signs_in_with_auto_sign_in_after_verification,
    checking_a_code_keeps_it,
    a_reset_code_sets_a_new_password,
    a_reset_code_keeps_sessions_unless_configured,
    a_reset_code_gives_a_code_only_user_a_whole_long_password,
);
