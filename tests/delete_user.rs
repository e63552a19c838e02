//! `POST /delete-user` (spec §3.15) and `GET /delete-user/callback` (spec §3.16).

use serde_json::json;
use sesame::mail::MailKind;

use crate::support::{assert_error, json_body, set_cookie, TestApp, PASSWORD};

const EMAIL_SENT: &str = "Verification email sent";

fn enabled(t: &TestApp, verification: bool) -> TestApp {
    TestApp::with_config(t.backend, |c| {
        c.email.delete_user = true;
        c.email.delete_user_verification = verification;
    })
}

fn assert_deleted_and_free(t: &TestApp, email: &str, cookies: &str) {
    assert!(t.storage().find_user_by_email(email).unwrap().is_none());
    assert!(json_body(&t.get("/get-session", Some(cookies))).is_null());
    assert_error(&t.sign_in(email, PASSWORD), 401, "INVALID_EMAIL_OR_PASSWORD");
    t.sign_up(email);
}

fn disabled_is_not_found(t: &TestApp) {
    let (_, cookies) = t.sign_up("keep@example.com");
    assert_error(
        &t.post_with_cookies("/delete-user", json!({}), &cookies),
        404,
        "NOT_FOUND",
    );
    assert_error(
        &t.get("/delete-user/callback?token=x", Some(&cookies)),
        404,
        "NOT_FOUND",
    );
    assert!(t.storage().find_user_by_email("keep@example.com").unwrap().is_some());
}

fn deletion_goes_through_the_emailed_link(t: &TestApp) {
    let t = enabled(t, true);
    let (_, cookies) = t.sign_up("bye@example.com");
    assert_error(&t.post("/delete-user", json!({})), 401, "UNAUTHORIZED");
    // Even with the right password, an email is sent instead.
    let resp = t.post_with_cookies(
        "/delete-user",
        json!({"password": PASSWORD, "callbackURL": "/farewell"}),
        &cookies,
    );
    assert_eq!(
        (resp.status, json_body(&resp)),
        (200, json!({"success": true, "message": EMAIL_SENT}))
    );
    let mail = t.mail_to(MailKind::DeleteAccount, "bye@example.com");
    assert_eq!(mail.token.len(), 32);
    assert!(mail.token.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
    assert_eq!(
        mail.url,
        format!(
            "http://localhost:3000/api/auth/delete-user/callback?token={}&callbackURL=%2Ffarewell",
            mail.token
        )
    );
    assert!(t.storage().find_user_by_email("bye@example.com").unwrap().is_some());

    // The link needs the user's own browser session.
    assert_error(&t.open_link(&mail.url, None), 404, "FAILED_TO_GET_USER_INFO");
    let resp = t.open_link(&mail.url, Some(&cookies));
    assert_eq!((resp.status, resp.header("location")), (302, Some("/farewell")));
    assert!(set_cookie(&resp, "better-auth.session_token")
        .unwrap()
        .contains("Max-Age=0"));
    assert_deleted_and_free(&t, "bye@example.com", &cookies);
}

fn wrong_or_overlong_password(t: &TestApp) {
    let t = enabled(t, true);
    let (_, cookies) = t.sign_up("pw@example.com");
    let resp = t.post_with_cookies("/delete-user", json!({"password": "wrong-password"}), &cookies);
    assert_error(&resp, 400, "INVALID_PASSWORD");
    let resp = t.post_with_cookies("/delete-user", json!({"password": "x".repeat(129)}), &cookies);
    assert_error(&resp, 400, "PASSWORD_TOO_LONG");
    t.assert_no_mail();
}

fn tokens_are_single_use_bound_to_the_user_and_expire(t: &TestApp) {
    let t = enabled(t, true);
    let (_, alice) = t.sign_up("alice@example.com");
    let (_, bob) = t.sign_up("bob@example.com");
    assert_eq!(t.post_with_cookies("/delete-user", json!({}), &alice).status, 200);
    let mail = t.mail_to(MailKind::DeleteAccount, "alice@example.com");
    let target = mail.url.replace("&callbackURL=%2F", "");
    // Bob opening Alice's link burns it and deletes nobody.
    assert_error(&t.open_link(&target, Some(&bob)), 404, "INVALID_TOKEN");
    assert_error(&t.open_link(&target, Some(&alice)), 404, "INVALID_TOKEN");
    assert!(t.storage().find_user_by_email("alice@example.com").unwrap().is_some());

    // A fresh link, used twice: the second time the user is gone.
    t.mail.clear();
    assert_eq!(t.post_with_cookies("/delete-user", json!({}), &alice).status, 200);
    let mail = t.mail_to(MailKind::DeleteAccount, "alice@example.com");
    let target = mail.url.replace("&callbackURL=%2F", "");
    let resp = t.open_link(&target, Some(&alice));
    assert_eq!(
        (resp.status, json_body(&resp)),
        (200, json!({"success": true, "message": "User deleted"}))
    );
    assert_error(&t.open_link(&target, Some(&bob)), 404, "INVALID_TOKEN");

    // Expiry: 24 hours.
    t.mail.clear();
    assert_eq!(t.post_with_cookies("/delete-user", json!({}), &bob).status, 200);
    let mail = t.mail_to(MailKind::DeleteAccount, "bob@example.com");
    t.clock.advance(time::Duration::seconds(86_401));
    let resp = t.post_with_cookies("/delete-user", json!({"token": mail.token}), &bob);
    assert_error(&resp, 404, "INVALID_TOKEN");
    assert!(t.storage().find_user_by_email("bob@example.com").unwrap().is_some());
}

fn token_in_the_body_deletes(t: &TestApp) {
    let t = enabled(t, true);
    let (_, cookies) = t.sign_up("body@example.com");
    assert_eq!(t.post_with_cookies("/delete-user", json!({}), &cookies).status, 200);
    let mail = t.mail_to(MailKind::DeleteAccount, "body@example.com");
    let resp = t.post_with_cookies("/delete-user", json!({"token": mail.token}), &cookies);
    assert_eq!(
        (resp.status, json_body(&resp)),
        (200, json!({"success": true, "message": "User deleted"}))
    );
    assert!(set_cookie(&resp, "better-auth.session_token")
        .unwrap()
        .contains("Max-Age=0"));
    assert_deleted_and_free(&t, "body@example.com", &cookies);
}

fn without_verification_password_or_fresh_session(t: &TestApp) {
    let t = enabled(t, false);
    let (_, cookies) = t.sign_up("now@example.com");
    let resp = t.post_with_cookies("/delete-user", json!({"password": PASSWORD}), &cookies);
    assert_eq!(
        (resp.status, json_body(&resp)),
        (200, json!({"success": true, "message": "User deleted"}))
    );
    assert_deleted_and_free(&t, "now@example.com", &cookies);

    let (_, cookies) = t.sign_up("fresh@example.com");
    assert_eq!(t.post_with_cookies("/delete-user", json!({}), &cookies).status, 200);
    assert!(t.storage().find_user_by_email("fresh@example.com").unwrap().is_none());

    let (_, cookies) = t.sign_up("stale@example.com");
    t.clock.advance(time::Duration::hours(25));
    let resp = t.post_with_cookies("/delete-user", json!({}), &cookies);
    assert_error(&resp, 400, "SESSION_EXPIRED");
    t.assert_no_mail();
}

fn callback_checks(t: &TestApp) {
    let t = enabled(t, true);
    let (_, cookies) = t.sign_up("cb@example.com");
    let resp = t.get(
        "/delete-user/callback?token=x&callbackURL=https%3A%2F%2Fevil.com",
        Some(&cookies),
    );
    assert_error(&resp, 403, "INVALID_CALLBACK_URL");
    assert_error(&t.get("/delete-user/callback", Some(&cookies)), 400, "VALIDATION_ERROR");
    let resp = t.post_with_cookies("/delete-user", json!({"callbackURL": "//evil.com"}), &cookies);
    assert_error(&resp, 403, "INVALID_CALLBACK_URL");
}

crate::suite!(
    disabled_is_not_found,
    deletion_goes_through_the_emailed_link,
    wrong_or_overlong_password,
    tokens_are_single_use_bound_to_the_user_and_expire,
    token_in_the_body_deletes,
    without_verification_password_or_fresh_session,
    callback_checks,
);
