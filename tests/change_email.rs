//! `POST /change-email` (spec §3.10) and the steps it runs through `/verify-email` (spec §6).

use serde_json::json;
use sesame::mail::MailKind;

use crate::support::{assert_error, cookie_header, json_body, TestApp, PASSWORD};

fn enabled(t: &TestApp) -> TestApp {
    TestApp::with_config(t.backend, |c| c.email.change_email = true)
}

fn session_email(t: &TestApp, cookies: &str) -> serde_json::Value {
    json_body(&t.get("/get-session", Some(cookies)))["user"].clone()
}

fn disabled_by_default_and_needs_a_session(t: &TestApp) {
    let (_, cookies) = t.sign_up("off@example.com");
    let resp = t.post_with_cookies("/change-email", json!({"newEmail": "new@example.com"}), &cookies);
    assert_error(&resp, 400, "CHANGE_EMAIL_DISABLED");
    let t = enabled(t);
    assert_error(
        &t.post("/change-email", json!({"newEmail": "new@example.com"})),
        401,
        "UNAUTHORIZED",
    );
    t.assert_no_mail();
}

fn unverified_user_verifies_the_new_address(t: &TestApp) {
    let t = enabled(t);
    let (_, cookies) = t.sign_up("old@example.com");
    let resp = t.post_with_cookies(
        "/change-email",
        json!({"newEmail": "New@Example.com", "callbackURL": "/moved"}),
        &cookies,
    );
    assert_eq!((resp.status, json_body(&resp)), (200, json!({"status": true})));
    let mail = t.mail_to(MailKind::ChangeEmailVerification, "new@example.com");
    assert_eq!(t.delivered().len(), 1, "one email, to the new address");
    assert!(mail.url.ends_with("&callbackURL=%2Fmoved"));
    assert_eq!(
        session_email(&t, &cookies)["email"],
        "old@example.com",
        "nothing changes before the link"
    );

    let resp = t.open_link(&mail.url.replace("&callbackURL=%2Fmoved", ""), Some(&cookies));
    assert_eq!(resp.status, 200);
    let body = json_body(&resp);
    assert_eq!(
        (body["status"].clone(), body["user"]["email"].clone()),
        (json!(true), json!("new@example.com"))
    );
    // Better Auth 1.7.25 keeps the verified flag as it was.
    assert_eq!(body["user"]["emailVerified"], false);
    assert_eq!(session_email(&t, &cookies)["email"], "new@example.com");
    assert_eq!(t.sign_in("new@example.com", PASSWORD).status, 200);
    // The old address is free again; the link is spent.
    t.sign_up("old@example.com");
    assert_error(
        &t.open_link(&mail.url.replace("&callbackURL=%2Fmoved", ""), None),
        401,
        "INVALID_TOKEN",
    );
    let resp = t.open_link(&mail.url, None);
    assert_eq!(resp.header("location"), Some("/moved?error=INVALID_TOKEN"));
}

fn verified_user_confirms_from_the_old_address_first(t: &TestApp) {
    let t = enabled(t);
    let (_, cookies) = t.sign_up("v-old@example.com");
    t.mark_verified("v-old@example.com");
    let resp = t.post_with_cookies("/change-email", json!({"newEmail": "v-new@example.com"}), &cookies);
    assert_eq!(resp.status, 200);
    let confirm = t.mail_to(MailKind::ChangeEmailConfirmation, "v-old@example.com");
    assert!(
        confirm.text.contains("v-new@example.com"),
        "the confirmation names the new address"
    );
    assert_eq!(t.delivered().len(), 1);

    // Approving (no session needed) sends the verification to the new address.
    let resp = t.open_link(&confirm.url, None);
    assert_eq!((resp.status, resp.header("location")), (302, Some("/")));
    let verify = t.mail_to(MailKind::ChangeEmailVerification, "v-new@example.com");
    assert_eq!(session_email(&t, &cookies)["email"], "v-old@example.com");

    let resp = t.open_link(&verify.url, Some(&cookies));
    assert_eq!((resp.status, resp.header("location")), (302, Some("/")));
    let user = session_email(&t, &cookies);
    assert_eq!(
        (user["email"].clone(), user["emailVerified"].clone()),
        (json!("v-new@example.com"), json!(true))
    );
    // Both links are spent once the address changed.
    assert_error(
        &t.open_link(&verify.url.replace("&callbackURL=%2F", ""), None),
        401,
        "INVALID_TOKEN",
    );
    assert_error(
        &t.open_link(&confirm.url.replace("&callbackURL=%2F", ""), None),
        401,
        "INVALID_TOKEN",
    );
}

fn verified_user_without_confirmation(t: &TestApp) {
    let t = TestApp::with_config(t.backend, |c| {
        c.email.change_email = true;
        c.email.change_email_confirmation = false;
    });
    let (_, cookies) = t.sign_up("nc-old@example.com");
    t.mark_verified("nc-old@example.com");
    assert_eq!(
        t.post_with_cookies("/change-email", json!({"newEmail": "nc-new@example.com"}), &cookies)
            .status,
        200
    );
    let mail = t.mail_to(MailKind::ChangeEmailVerification, "nc-new@example.com");
    assert_eq!(t.delivered().len(), 1);
    assert_eq!(t.open_link(&mail.url, Some(&cookies)).status, 302);
    assert_eq!(session_email(&t, &cookies)["email"], "nc-new@example.com");
}

fn errors(t: &TestApp) {
    let t = enabled(t);
    let (_, cookies) = t.sign_up("same@example.com");
    let resp = t.post_with_cookies("/change-email", json!({"newEmail": "SAME@example.com"}), &cookies);
    assert_error(&resp, 400, "EMAIL_IS_THE_SAME");
    assert_error(
        &t.post_with_cookies("/change-email", json!({"newEmail": "nope"}), &cookies),
        400,
        "VALIDATION_ERROR",
    );
    assert_error(
        &t.post_with_cookies("/change-email", json!({}), &cookies),
        400,
        "VALIDATION_ERROR",
    );
    let resp = t.post_with_cookies(
        "/change-email",
        json!({"newEmail": "x@example.com", "callbackURL": "https://evil.com"}),
        &cookies,
    );
    assert_error(&resp, 403, "INVALID_CALLBACK_URL");
    t.assert_no_mail();
}

fn a_link_opened_by_another_signed_in_user_is_refused(t: &TestApp) {
    let t = enabled(t);
    let (_, cookies) = t.sign_up("owner@example.com");
    let (resp, _) = t.sign_up("intruder@example.com");
    let intruder = cookie_header(&resp);
    assert_eq!(
        t.post_with_cookies("/change-email", json!({"newEmail": "owner2@example.com"}), &cookies)
            .status,
        200
    );
    let mail = t.mail_to(MailKind::ChangeEmailVerification, "owner2@example.com");
    let resp = t.open_link(&mail.url, Some(&intruder));
    assert_eq!(resp.header("location"), Some("/?error=INVALID_USER"));
    assert_eq!(session_email(&t, &cookies)["email"], "owner@example.com");
    // Another user took the address meanwhile.
    t.sign_up("owner2@example.com");
    let resp = t.open_link(&mail.url, Some(&cookies));
    assert_eq!(resp.header("location"), Some("/?error=USER_ALREADY_EXISTS"));
}

/// Better Auth's older one-step tokens (`updateTo` without `requestType`) still work.
fn legacy_tokens_switch_unverified_and_send_a_link(t: &TestApp) {
    use sesame::auth::verification_token::{sign, Claims};
    let t = enabled(t);
    let (_, cookies) = t.sign_up("legacy@example.com");
    t.mark_verified("legacy@example.com");
    let user = t.storage().find_user_by_email("legacy@example.com").unwrap().unwrap();
    let mut claims = Claims::new(&user.email, &user.id, t.clock_now(), 3600);
    claims.update_to = Some("legacy-new@example.com".to_string());
    let token = sign(t.app.config.secret.expose(), &claims);
    let resp = t.get(&format!("/verify-email?token={token}"), Some(&cookies));
    assert_eq!(resp.status, 200);
    assert_eq!(json_body(&resp)["user"]["email"], "legacy-new@example.com");
    assert_eq!(json_body(&resp)["user"]["emailVerified"], false);
    let mail = t.mail_to(MailKind::Verification, "legacy-new@example.com");
    assert_eq!(t.open_link(&mail.url, None).status, 302);
    assert_eq!(session_email(&t, &cookies)["emailVerified"], true);
    // A request type Sesame does not know is refused.
    let mut claims = Claims::new("legacy-new@example.com", &user.id, t.clock_now(), 3600);
    claims.update_to = Some("other@example.com".to_string());
    claims.request_type = Some("something-else".to_string());
    let token = sign(t.app.config.secret.expose(), &claims);
    assert_error(
        &t.get(&format!("/verify-email?token={token}"), None),
        401,
        "INVALID_TOKEN",
    );
}

crate::suite!(
    disabled_by_default_and_needs_a_session,
    unverified_user_verifies_the_new_address,
    verified_user_confirms_from_the_old_address_first,
    verified_user_without_confirmation,
    errors,
    a_link_opened_by_another_signed_in_user_is_refused,
    legacy_tokens_switch_unverified_and_send_a_link,
);
