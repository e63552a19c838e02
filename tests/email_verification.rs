//! Email verification (spec §3.8, §6): sending on sign-up, sign-in and on request, opening the
//! link with and without callbackURL, the token's error paths, auto sign-in.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;
use sesame::auth::verification_token::{self, Claims};
use sesame::mail::MailKind;

use crate::support::mail::{link_target, query_param};
use crate::support::{assert_error, cookie_header, json_body, set_cookie, TestApp, BASE, PASSWORD};

fn requiring_verification(t: &TestApp) -> TestApp {
    TestApp::with_config(t.backend, |c| {
        c.require_email_verification = true;
        c.email.send_on_sign_up = true;
    })
}

fn sign_up_sends_a_link_that_verifies(t: &TestApp) {
    let t = requiring_verification(t);
    let resp = t.post(
        "/sign-up/email",
        json!({"name": "Ada", "email": "Ada@Example.com", "password": PASSWORD, "callbackURL": "/welcome"}),
    );
    assert_eq!(resp.status, 200);
    assert!(json_body(&resp)["token"].is_null());
    assert_error(&t.sign_in("ada@example.com", PASSWORD), 403, "EMAIL_NOT_VERIFIED");

    let mail = t.mail_to(MailKind::Verification, "ada@example.com");
    assert!(
        mail.url
            .starts_with("http://localhost:3000/api/auth/verify-email?token="),
        "{}",
        mail.url
    );
    assert!(mail.url.ends_with("&callbackURL=%2Fwelcome"), "{}", mail.url);
    assert_eq!(query_param(&mail.url, "token").as_deref(), Some(mail.token.as_str()));
    assert!(mail.text.contains(&mail.url) && mail.text.contains("Sesame") && mail.text.contains("1 hour"));
    assert!(mail.html.contains("Sesame"));
    // Header {"alg":"HS256"} exactly; claims email (lower-cased), userId, iat, exp = iat + 3600.
    let parts: Vec<&str> = mail.token.split('.').collect();
    assert_eq!(parts[0], "eyJhbGciOiJIUzI1NiJ9");
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["email"], "ada@example.com");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600);

    let resp = t.open_link(&mail.url, None);
    assert_eq!(resp.status, 302);
    assert_eq!(resp.header("location"), Some("/welcome"));
    assert!(resp.set_cookies().is_empty(), "no auto sign-in by default");
    assert_eq!(t.sign_in("ada@example.com", PASSWORD).status, 200);

    // Opening it again: already verified, same redirect; without callbackURL the JSON answer.
    assert_eq!(t.open_link(&mail.url, None).status, 302);
    let target = format!("{BASE}/verify-email?token={}", mail.token);
    let resp = t.get(target.strip_prefix(BASE).unwrap(), None);
    assert_eq!(resp.status, 200);
    assert_eq!(json_body(&resp), json!({"status": true, "user": null}));
}

fn sign_up_sends_nothing_by_default(t: &TestApp) {
    t.sign_up("quiet@example.com");
    t.assert_no_mail();
}

fn sign_in_sends_a_new_link_only_when_configured(t: &TestApp) {
    let quiet = TestApp::with_config(t.backend, |c| c.require_email_verification = true);
    quiet.sign_up("bo@example.com");
    assert_error(&quiet.sign_in("bo@example.com", PASSWORD), 403, "EMAIL_NOT_VERIFIED");
    quiet.assert_no_mail();

    let t = TestApp::with_config(t.backend, |c| {
        c.require_email_verification = true;
        c.email.send_on_sign_up = false;
        c.email.send_on_sign_in = true;
    });
    t.sign_up("bo@example.com");
    t.assert_no_mail();
    let resp = t.post(
        "/sign-in/email",
        json!({"email": "bo@example.com", "password": PASSWORD, "callbackURL": "/in"}),
    );
    assert_error(&resp, 403, "EMAIL_NOT_VERIFIED");
    let mail = t.mail_to(MailKind::Verification, "bo@example.com");
    assert!(mail.url.ends_with("callbackURL=%2Fin"));
    // A wrong password sends nothing.
    t.mail.clear();
    assert_error(
        &t.sign_in("bo@example.com", "wrong-password"),
        401,
        "INVALID_EMAIL_OR_PASSWORD",
    );
    t.assert_no_mail();
}

fn unauthenticated_request_answers_alike_and_is_padded(t: &TestApp) {
    t.sign_up("new@example.com");
    t.sign_up("done@example.com");
    t.mark_verified("done@example.com");
    for email in ["nobody@example.com", "done@example.com", "new@example.com"] {
        let started = Instant::now();
        let resp = t.post("/send-verification-email", json!({"email": email}));
        assert!(started.elapsed() >= Duration::from_millis(500), "padded to 500 ms");
        assert_eq!(resp.status, 200);
        assert_eq!(json_body(&resp), json!({"status": true}));
    }
    let mails = t.delivered();
    assert_eq!(mails.len(), 1, "only the unverified user gets an email: {mails:?}");
    assert_eq!(mails[0].to, "new@example.com");
    assert!(mails[0].url.ends_with("&callbackURL=%2F"));
}

fn authenticated_request_checks_the_address(t: &TestApp) {
    let (_, cookies) = t.sign_up("me@example.com");
    let send = |email: &str| {
        t.post_with_cookies(
            "/send-verification-email",
            json!({"email": email, "callbackURL": "/v"}),
            &cookies,
        )
    };
    assert_error(&send("other@example.com"), 400, "EMAIL_MISMATCH");
    let resp = send("ME@example.com");
    assert_eq!((resp.status, json_body(&resp)), (200, json!({"status": true})));
    let mail = t.mail_to(MailKind::Verification, "me@example.com");
    assert!(mail.url.ends_with("callbackURL=%2Fv"));
    assert_eq!(t.open_link(&mail.url, None).status, 302);
    assert_error(&send("me@example.com"), 400, "EMAIL_ALREADY_VERIFIED");
}

fn send_validates_and_checks_the_callback(t: &TestApp) {
    assert_error(&t.post("/send-verification-email", json!({})), 400, "VALIDATION_ERROR");
    assert_error(
        &t.post("/send-verification-email", json!({"email": "nope"})),
        400,
        "VALIDATION_ERROR",
    );
    let resp = t.post(
        "/send-verification-email",
        json!({"email": "a@example.com", "callbackURL": "https://evil.com"}),
    );
    assert_error(&resp, 403, "INVALID_CALLBACK_URL");
}

fn bad_expired_and_foreign_tokens(t: &TestApp) {
    let (_, _) = t.sign_up("tok@example.com");
    let resp = t.post("/send-verification-email", json!({"email": "tok@example.com"}));
    assert_eq!(resp.status, 200);
    let mail = t.mail_to(MailKind::Verification, "tok@example.com");

    assert_error(&t.get("/verify-email?token=not-a-jwt", None), 401, "INVALID_TOKEN");
    let resp = t.get("/verify-email?token=not-a-jwt&callbackURL=%2Fdone%3Fx%3D1", None);
    assert_eq!(
        (resp.status, resp.header("location")),
        (302, Some("/done?x=1&error=INVALID_TOKEN"))
    );
    assert_error(&t.get("/verify-email", None), 400, "VALIDATION_ERROR");
    // Validation comes first, as in Better Auth.
    assert_error(
        &t.get("/verify-email?callbackURL=https%3A%2F%2Fevil.com", None),
        400,
        "VALIDATION_ERROR",
    );
    assert_error(
        &t.get("/verify-email?token=x&callbackURL=https%3A%2F%2Fevil.com", None),
        403,
        "INVALID_CALLBACK_URL",
    );
    assert_error(
        &t.get("/verify-email?token=x&callbackURL=%2F%2Fevil.com", None),
        403,
        "INVALID_CALLBACK_URL",
    );

    // Signed with another secret.
    let user = t.storage().find_user_by_email("tok@example.com").unwrap().unwrap();
    let foreign = verification_token::sign(
        "some-other-secret-0123456789abcdef",
        &Claims::new(&user.email, &user.id, t.clock_now(), 3600),
    );
    assert_error(
        &t.get(&format!("/verify-email?token={foreign}"), None),
        401,
        "INVALID_TOKEN",
    );
    // Issued for another user id.
    let other = verification_token::sign(
        t.app.config.secret.expose(),
        &Claims::new(&user.email, "someone-else", t.clock_now(), 3600),
    );
    assert_error(
        &t.get(&format!("/verify-email?token={other}"), None),
        401,
        "INVALID_TOKEN",
    );

    t.clock.advance(time::Duration::seconds(3600));
    assert_error(
        &t.open_link(&mail.url.replace("&callbackURL=%2F", ""), None),
        401,
        "TOKEN_EXPIRED",
    );
    let resp = t.open_link(&mail.url, None);
    assert_eq!(
        (resp.status, resp.header("location")),
        (302, Some("/?error=TOKEN_EXPIRED"))
    );
    assert!(
        !t.storage()
            .find_user_by_email("tok@example.com")
            .unwrap()
            .unwrap()
            .email_verified
    );

    // A valid token for a user that no longer exists.
    let fresh = verification_token::sign(
        t.app.config.secret.expose(),
        &Claims::new(&user.email, &user.id, t.clock_now(), 3600),
    );
    t.storage().delete_user(&user.id).unwrap();
    assert_error(
        &t.get(&format!("/verify-email?token={fresh}"), None),
        401,
        "USER_NOT_FOUND",
    );
}

fn auto_sign_in_after_verification(t: &TestApp) {
    let t = TestApp::with_config(t.backend, |c| {
        c.require_email_verification = true;
        c.email.send_on_sign_up = true;
        c.email.auto_sign_in_after_verification = true;
    });
    t.sign_up("auto@example.com");
    let mail = t.mail_to(MailKind::Verification, "auto@example.com");
    let resp = t.open_link(&mail.url, None);
    assert_eq!(resp.status, 302);
    assert!(set_cookie(&resp, "better-auth.session_token").is_some());
    let session = t.get("/get-session", Some(&cookie_header(&resp)));
    assert_eq!(json_body(&session)["user"]["email"], "auto@example.com");
    assert_eq!(json_body(&session)["user"]["emailVerified"], true);
    let target = link_target(&mail.url);
    assert!(target.starts_with(BASE));
}

fn in_process_api_covers_verification(t: &TestApp) {
    use sesame::ApiInput;
    t.sign_up("inproc-v@example.com");
    let out = t
        .app
        .endpoint(&sesame::api::SEND_VERIFICATION_EMAIL)
        .body(sesame::api::SendVerificationEmailBody {
            email: "inproc-v@example.com".into(),
            callback_url: None,
        })
        .send()
        .unwrap();
    assert!(out.status);
    let mail = t.mail_to(MailKind::Verification, "inproc-v@example.com");
    let out = t
        .app
        .endpoint(&sesame::api::VERIFY_EMAIL)
        .query(sesame::endpoint::mail::LinkQuery {
            token: mail.token.clone(),
            callback_url: None,
        })
        .send()
        .unwrap();
    assert_eq!((out.status, out.user), (true, None));
    let err = t
        .app
        .call(
            "verifyEmail",
            ApiInput::new().query("token", "x").query("callbackURL", "/cb"),
        )
        .unwrap_err();
    assert_eq!((err.status, err.message.as_ref()), (302, "/cb?error=INVALID_TOKEN"));
}

crate::suite!(
    sign_up_sends_a_link_that_verifies,
    sign_up_sends_nothing_by_default,
    sign_in_sends_a_new_link_only_when_configured,
    unauthenticated_request_answers_alike_and_is_padded,
    authenticated_request_checks_the_address,
    send_validates_and_checks_the_callback,
    bad_expired_and_foreign_tokens,
    auto_sign_in_after_verification,
    in_process_api_covers_verification,
);
