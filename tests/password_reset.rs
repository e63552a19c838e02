//! Password reset (spec §3.7, §7): request (and the /forget-password alias), the emailed link's
//! redirect, the single-use expiring token, session revocation, anti-enumeration.

use serde_json::json;
use sesame::mail::MailKind;

use crate::support::mail::query_param;
use crate::support::{assert_error, json_body, TestApp, PASSWORD};

const SENT: &str = "If this email exists in our system, check your email for the reset link";
const NEW_PASSWORD: &str = "a-brand-new-passphrase";

/// Requests a reset and returns the emailed link and token.
fn request(t: &TestApp, path: &str, email: &str, redirect_to: Option<&str>) -> (String, String) {
    let mut body = json!({"email": email});
    if let Some(r) = redirect_to {
        body["redirectTo"] = json!(r);
    }
    t.mail.clear();
    let resp = t.post(path, body);
    assert_eq!(resp.status, 200);
    assert_eq!(json_body(&resp), json!({"status": true, "message": SENT}));
    let mail = t.mail_to(MailKind::ResetPassword, &email.to_lowercase());
    (mail.url, mail.token)
}

fn reset_end_to_end(t: &TestApp) {
    let (_, cookies) = t.sign_up("rp@example.com");
    // Resetting an unverified address also revokes sessions (`audit_oauth.rs`).
    t.mark_verified("rp@example.com");
    let (url, token) = request(t, "/request-password-reset", "RP@example.com", Some("/reset"));
    assert_eq!(token.len(), 24);
    assert!(token.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(
        url,
        format!("http://localhost:3000/api/auth/reset-password/{token}?callbackURL=%2Freset")
    );
    let row = t
        .storage()
        .find_verification(&format!("reset-password:{token}"))
        .unwrap()
        .unwrap();
    assert_eq!(row.expires_at, t.clock_now() + time::Duration::hours(1));

    // The link redirects to the app's form with the token, without consuming it.
    for _ in 0..2 {
        let resp = t.open_link(&url, None);
        assert_eq!(resp.status, 302);
        assert_eq!(
            resp.header("location"),
            Some(format!("http://localhost:3000/reset?token={token}").as_str())
        );
    }
    let resp = t.post("/reset-password", json!({"newPassword": NEW_PASSWORD, "token": token}));
    assert_eq!((resp.status, json_body(&resp)), (200, json!({"status": true})));
    assert!(resp.set_cookies().is_empty());
    assert_error(&t.sign_in("rp@example.com", PASSWORD), 401, "INVALID_EMAIL_OR_PASSWORD");
    assert_eq!(t.sign_in("rp@example.com", NEW_PASSWORD).status, 200);
    // Sessions survive by default.
    assert_eq!(
        json_body(&t.get("/get-session", Some(&cookies)))["user"]["email"],
        "rp@example.com"
    );

    // Single use.
    let resp = t.post(
        "/reset-password",
        json!({"newPassword": "yet-another-password", "token": token}),
    );
    assert_error(&resp, 400, "INVALID_TOKEN");
    let resp = t.open_link(&url, None);
    assert_eq!(
        resp.header("location"),
        Some("http://localhost:3000/reset?error=INVALID_TOKEN")
    );
}

fn forget_password_is_an_exact_alias(t: &TestApp) {
    t.sign_up("alias@example.com");
    let (url, token) = request(
        t,
        "/forget-password",
        "alias@example.com",
        Some("http://localhost:3000/r?x=1"),
    );
    assert!(
        url.ends_with("?callbackURL=http%3A%2F%2Flocalhost%3A3000%2Fr%3Fx%3D1"),
        "{url}"
    );
    let resp = t.open_link(&url, None);
    assert_eq!(
        resp.header("location"),
        Some(format!("http://localhost:3000/r?x=1&token={token}").as_str())
    );
    // The token may come in the query too.
    let resp = t.post(
        &format!("/reset-password?token={token}"),
        json!({"newPassword": NEW_PASSWORD}),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(t.sign_in("alias@example.com", NEW_PASSWORD).status, 200);
}

fn unknown_email_gets_the_same_answer_and_no_email(t: &TestApp) {
    for path in ["/request-password-reset", "/forget-password"] {
        let resp = t.post(path, json!({"email": "ghost@example.com", "redirectTo": "/reset"}));
        assert_eq!(resp.status, 200);
        assert_eq!(json_body(&resp), json!({"status": true, "message": SENT}));
    }
    t.assert_no_mail();
}

fn expired_token(t: &TestApp) {
    t.sign_up("exp@example.com");
    let (url, token) = request(t, "/request-password-reset", "exp@example.com", Some("/reset"));
    t.clock.advance(time::Duration::seconds(3601));
    let resp = t.open_link(&url, None);
    assert_eq!(
        resp.header("location"),
        Some("http://localhost:3000/reset?error=INVALID_TOKEN")
    );
    let resp = t.post("/reset-password", json!({"newPassword": NEW_PASSWORD, "token": token}));
    assert_error(&resp, 400, "INVALID_TOKEN");
    assert_eq!(t.sign_in("exp@example.com", PASSWORD).status, 200);
}

fn link_without_redirect_lands_on_the_error_page(t: &TestApp) {
    t.sign_up("norc@example.com");
    let (url, _) = request(t, "/request-password-reset", "norc@example.com", None);
    assert!(url.ends_with("?callbackURL="), "{url}");
    let resp = t.open_link(&url, None);
    assert_eq!(resp.status, 302);
    assert_eq!(
        resp.header("location"),
        Some("http://localhost:3000/api/auth/error?error=INVALID_TOKEN")
    );
    // Unknown token, callbackURL missing or untrusted.
    let resp = t.get("/reset-password/unknown?callbackURL=%2Freset", None);
    assert_eq!(
        resp.header("location"),
        Some("http://localhost:3000/reset?error=INVALID_TOKEN")
    );
    assert_error(&t.get("/reset-password/unknown", None), 400, "VALIDATION_ERROR");
    let resp = t.get(
        "/reset-password/unknown?callbackURL=https%3A%2F%2Fevil.com%2Freset",
        None,
    );
    assert_error(&resp, 403, "INVALID_CALLBACK_URL");
}

fn password_length_is_checked_before_the_token_is_used(t: &TestApp) {
    t.sign_up("len@example.com");
    let (_, token) = request(t, "/request-password-reset", "len@example.com", Some("/reset"));
    assert_error(
        &t.post("/reset-password", json!({"newPassword": "short", "token": token})),
        400,
        "PASSWORD_TOO_SHORT",
    );
    let long = "x".repeat(129);
    assert_error(
        &t.post("/reset-password", json!({"newPassword": long, "token": token})),
        400,
        "PASSWORD_TOO_LONG",
    );
    assert_eq!(
        t.post("/reset-password", json!({"newPassword": NEW_PASSWORD, "token": token}))
            .status,
        200
    );
}

fn bad_requests(t: &TestApp) {
    assert_error(
        &t.post("/reset-password", json!({"newPassword": NEW_PASSWORD})),
        400,
        "INVALID_TOKEN",
    );
    assert_error(
        &t.post("/reset-password", json!({"newPassword": NEW_PASSWORD, "token": ""})),
        400,
        "INVALID_TOKEN",
    );
    assert_error(
        &t.post("/reset-password", json!({"newPassword": NEW_PASSWORD, "token": "nope"})),
        400,
        "INVALID_TOKEN",
    );
    assert_error(
        &t.post("/reset-password", json!({"token": "x"})),
        400,
        "VALIDATION_ERROR",
    );
    assert_error(&t.post("/request-password-reset", json!({})), 400, "VALIDATION_ERROR");
    assert_error(
        &t.post("/request-password-reset", json!({"email": "not-an-email"})),
        400,
        "VALIDATION_ERROR",
    );
    let resp = t.post(
        "/request-password-reset",
        json!({"email": "a@example.com", "redirectTo": "https://evil.com"}),
    );
    assert_error(&resp, 403, "INVALID_REDIRECT_URL");
    t.assert_no_mail();
}

fn revoking_sessions_on_reset(t: &TestApp) {
    let t = TestApp::with_config(t.backend, |c| c.email.revoke_sessions_on_password_reset = true);
    let (_, cookies) = t.sign_up("rev@example.com");
    let (_, token) = request(&t, "/request-password-reset", "rev@example.com", Some("/reset"));
    assert_eq!(
        t.post("/reset-password", json!({"newPassword": NEW_PASSWORD, "token": token}))
            .status,
        200
    );
    assert!(json_body(&t.get("/get-session", Some(&cookies))).is_null());
}

fn a_reset_ends_the_other_reset_links(t: &TestApp) {
    t.sign_up("many@example.com");
    let (_, first) = request(t, "/request-password-reset", "many@example.com", Some("/reset"));
    let (url, second) = request(t, "/request-password-reset", "many@example.com", Some("/reset"));
    assert_ne!(first, second);
    assert_eq!(query_param(&url, "callbackURL").as_deref(), Some("/reset"));
    assert_eq!(
        t.post("/reset-password", json!({"newPassword": NEW_PASSWORD, "token": second}))
            .status,
        200
    );
    // Using one ends every other outstanding link of the user.
    assert_error(
        &t.post(
            "/reset-password",
            json!({"newPassword": "third-password-here", "token": first}),
        ),
        400,
        "INVALID_TOKEN",
    );
    assert_eq!(t.sign_in("many@example.com", NEW_PASSWORD).status, 200);
}

crate::suite!(
    reset_end_to_end,
    forget_password_is_an_exact_alias,
    unknown_email_gets_the_same_answer_and_no_email,
    expired_token,
    link_without_redirect_lands_on_the_error_page,
    password_length_is_checked_before_the_token_is_used,
    bad_requests,
    revoking_sessions_on_reset,
    a_reset_ends_the_other_reset_links,
);
