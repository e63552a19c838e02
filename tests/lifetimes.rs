//! Tokens and sessions that must not outlive their purpose: a reset link after a password or
//! email change, a `rememberMe: false` session whose client drops the `dont_remember` cookie,
//! and password guessing through a stolen session or by switching between sign-in routes.

use std::net::IpAddr;

use serde_json::json;
use sesame::http::{Request, Response};
use sesame::mail::MailKind;
use time::Duration;

use crate::support::wire::Signed;
use crate::support::{assert_error, cookie_header, json_body, TestApp, BASE, ORIGIN, PASSWORD};

const NEW: &str = "a-brand-new-password";

/// A reset link for the address: its token.
fn reset_token(t: &TestApp, email: &str) -> String {
    let resp = t.post(
        "/request-password-reset",
        json!({"email": email, "redirectTo": "/reset"}),
    );
    assert_eq!(resp.status, 200);
    t.mail_to(MailKind::ResetPassword, email).token
}

fn assert_reset_refused(t: &TestApp, token: &str) {
    let resp = t.post(
        "/reset-password",
        json!({"newPassword": "yet-another-password", "token": token}),
    );
    assert_error(&resp, 400, "INVALID_TOKEN");
    let opened = t.get(&format!("/reset-password/{token}?callbackURL=/reset"), None);
    assert_eq!(
        opened.header("location"),
        Some("http://localhost:3000/reset?error=INVALID_TOKEN")
    );
}

fn a_reset_link_dies_with_a_password_change(t: &TestApp) {
    for (i, revoke) in [false, true].into_iter().enumerate() {
        let email = format!("change{i}@example.com");
        let s = t.signed_up(&email);
        let token = reset_token(t, &email);
        let resp = t.post_with_cookies(
            "/change-password",
            json!({"currentPassword": PASSWORD, "newPassword": NEW, "revokeOtherSessions": revoke}),
            &s.cookie,
        );
        assert_eq!(resp.status, 200);
        assert_reset_refused(t, &token);
        assert_eq!(t.sign_in(&email, NEW).status, 200, "the new password stands");
    }
}

fn a_reset_link_dies_with_an_email_change(t: &TestApp) {
    let t = TestApp::with_config(t.backend, |c| c.email.change_email = true);
    let (_, cookies) = t.sign_up("old@example.com");
    let token = reset_token(&t, "old@example.com");
    let resp = t.post_with_cookies("/change-email", json!({"newEmail": "new@example.com"}), &cookies);
    assert_eq!(resp.status, 200);
    let link = t.mail_to(MailKind::ChangeEmailVerification, "new@example.com");
    assert_eq!(t.open_link(&link.url, Some(&cookies)).status, 302);
    assert_eq!(
        json_body(&t.get("/get-session", Some(&cookies)))["user"]["email"],
        "new@example.com"
    );
    // The old mailbox (perhaps no longer the user's) cannot take the account back.
    assert_reset_refused(&t, &token);
}

/// The Cookie header without the `dont_remember` cookie.
fn without_dont_remember(cookies: &str) -> String {
    cookies
        .split("; ")
        .filter(|c| !c.starts_with("better-auth.dont_remember="))
        .collect::<Vec<_>>()
        .join("; ")
}

fn remember_me_false_stays_short_without_the_dont_remember_cookie(t: &TestApp) {
    t.signed_up("short@example.com");
    let created = t.clock_now();
    let resp = t.post(
        "/sign-in/email",
        json!({"email": "short@example.com", "password": PASSWORD, "rememberMe": false}),
    );
    let cookies = cookie_header(&resp);
    assert!(cookies.contains("better-auth.dont_remember="));
    let stripped = without_dont_remember(&cookies);
    for hours in [2, 12, 23] {
        t.clock.set(created + Duration::hours(hours));
        let body = json_body(&t.get("/get-session", Some(&stripped)));
        assert_eq!(
            body["session"]["expiresAt"],
            crate::support::wire::iso(created + Duration::days(1)),
            "no refresh to the 7-day lifetime"
        );
    }
    t.clock.set(created + Duration::days(1) + Duration::minutes(1));
    assert!(
        json_body(&t.get("/get-session", Some(&stripped))).is_null(),
        "gone after a day"
    );
}

fn limited(t: &TestApp, plugins: &[&str]) -> TestApp {
    TestApp::with_config(t.backend, |c| {
        c.rate_limit = true;
        c.plugins = plugins.iter().map(|p| p.to_string()).collect();
    })
}

fn from(ip: &str, path: &str, body: serde_json::Value, cookies: Option<&str>) -> Request {
    let mut req = Request::post(&format!("{BASE}{path}"))
        .with_json(&body)
        .with_remote_addr(ip.parse::<IpAddr>().unwrap());
    if let Some(c) = cookies {
        req = req.with_header("cookie", c).with_header("origin", ORIGIN);
    }
    req
}

fn verify_from(t: &TestApp, ip: &str, s: &Signed, password: &str) -> Response {
    t.send(from(
        ip,
        "/verify-password",
        json!({"password": password}),
        Some(&s.cookie),
    ))
}

fn a_stolen_session_gets_the_strict_limit_from_any_address(t: &TestApp) {
    let t = limited(t, &[]);
    let victim = t.signed_up("victim@example.com");
    for i in 0..3 {
        let resp = verify_from(&t, &format!("203.0.113.{i}"), &victim, "guess-number-1");
        assert_error(&resp, 400, "INVALID_PASSWORD");
    }
    for i in 3..8 {
        assert_error(
            &verify_from(&t, &format!("203.0.113.{i}"), &victim, "guess-2"),
            429,
            "RATE_LIMITED",
        );
    }
    // The right password gets the same 429 now: nothing to learn.
    assert_error(&verify_from(&t, "203.0.113.99", &victim, PASSWORD), 429, "RATE_LIMITED");
    // change-password shares the account's bucket; another account is not affected.
    let change = t.send(from(
        "203.0.113.100",
        "/change-password",
        json!({"currentPassword": "guess-3", "newPassword": NEW}),
        Some(&victim.cookie),
    ));
    assert_error(&change, 429, "RATE_LIMITED");
    let other = t.signed_up("other@example.com");
    assert_eq!(verify_from(&t, "203.0.113.0", &other, PASSWORD).status, 200);
    t.clock.advance(Duration::seconds(10));
    assert_eq!(verify_from(&t, "203.0.113.50", &victim, PASSWORD).status, 200);
}

fn verify_password_gets_the_strict_limit_per_client(t: &TestApp) {
    let t = limited(t, &[]);
    let users: Vec<Signed> = (0..3).map(|i| t.signed_up(&format!("u{i}@example.com"))).collect();
    for u in &users {
        assert_eq!(verify_from(&t, "198.51.100.7", u, PASSWORD).status, 200);
    }
    // The fourth check from this client, whatever the account (this one has used one of its
    // three), is refused.
    assert_error(
        &verify_from(&t, "198.51.100.7", &users[0], PASSWORD),
        429,
        "RATE_LIMITED",
    );
}

fn sign_in_by_email_and_by_username_share_the_account_bucket(t: &TestApp) {
    let t = limited(t, &["username"]);
    let resp = t.post(
        "/sign-up/email",
        json!({"name": "A", "email": "ada@example.com", "password": PASSWORD, "username": "ada"}),
    );
    assert_eq!(resp.status, 200);
    let by_email = |ip: &str, pw: &str| {
        t.send(from(
            ip,
            "/sign-in/email",
            json!({"email": "ada@example.com", "password": pw}),
            None,
        ))
    };
    let by_name = |ip: &str, pw: &str| {
        t.send(from(
            ip,
            "/sign-in/username",
            json!({"username": "ADA", "password": pw}),
            None,
        ))
    };
    assert_eq!(by_email("192.0.2.1", "wrong-1").status, 401);
    assert_eq!(by_email("192.0.2.1", "wrong-2").status, 401);
    assert_eq!(by_name("192.0.2.1", "wrong-3").status, 401);
    // Each route's own bucket still has room; the account's is full for this client.
    assert_error(&by_name("192.0.2.1", PASSWORD), 429, "RATE_LIMITED");
    // Another client is not locked out by it.
    assert_eq!(by_email("192.0.2.2", PASSWORD).status, 200);
    // And /sign-in/username has the strict per-client limit of its own.
    for name in ["bob", "cyd", "dee"] {
        let resp = t.send(from(
            "192.0.2.3",
            "/sign-in/username",
            json!({"username": name, "password": "x-password"}),
            None,
        ));
        assert_eq!(resp.status, 401);
    }
    let fourth = t.send(from(
        "192.0.2.3",
        "/sign-in/username",
        json!({"username": "eve", "password": "x-password"}),
        None,
    ));
    assert_error(&fourth, 429, "RATE_LIMITED");
}

crate::suite!(
    a_reset_link_dies_with_a_password_change,
    a_reset_link_dies_with_an_email_change,
    remember_me_false_stays_short_without_the_dont_remember_cookie,
    a_stolen_session_gets_the_strict_limit_from_any_address,
    verify_password_gets_the_strict_limit_per_client,
    sign_in_by_email_and_by_username_share_the_account_bucket,
);
