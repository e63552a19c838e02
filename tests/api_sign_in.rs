//! `POST /sign-in/email` (spec §3.2): the answer with and without callbackURL, rememberMe,
//! the failures that must not reveal whether an account exists, input errors, email
//! verification and auto sign-in settings, and form posts.

use serde_json::{json, Value};
use time::Duration;

use crate::support::wire::{assert_error_message, assert_validation, is_id, iso, set_cookies, the_cookie};
use crate::support::{json_body, TestApp, PASSWORD};

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

fn sign_in_answers_redirect_false_token_and_user(t: &TestApp) {
    let up = t.signed_up("alice@example.com");
    t.clock.advance(Duration::minutes(1));
    let now = t.clock_now();
    let resp = t.sign_in("ALICE@Example.com", PASSWORD);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("location"), None);
    let body = json_body(&resp);
    // No `url` key at all without a callbackURL.
    assert_eq!(keys(&body), ["redirect", "token", "user"]);
    assert_eq!(body["redirect"], false);
    assert!(is_id(&body["token"]));
    assert_ne!(body["token"], up.token.as_str());
    assert_eq!(body["user"]["id"], up.user_id.as_str());
    assert_eq!(body["user"]["email"], "alice@example.com");

    let cookies = set_cookies(&resp);
    assert_eq!(cookies.len(), 1);
    assert_eq!(cookies[0].name, "better-auth.session_token");
    assert_eq!(cookies[0].max_age, Some(604_800));
    cookies[0].assert_default_attributes(false);

    let cookie = format!("{}={}", cookies[0].name, cookies[0].value);
    let session = t.session_of(&cookie)["session"].clone();
    assert_eq!(session["token"], body["token"]);
    assert_eq!(session["createdAt"], iso(now));
    assert_eq!(session["expiresAt"], iso(now + Duration::days(7)));
    // The sign-up session is still valid: signing in adds a session.
    assert_eq!(t.storage().list_user_sessions(&up.user_id).unwrap().len(), 2);
}

fn sign_in_with_callback_url_is_200_with_location(t: &TestApp) {
    t.signed_up("cb@example.com");
    let resp = t.post(
        "/sign-in/email",
        json!({"email": "cb@example.com", "password": PASSWORD, "callbackURL": "/dashboard"}),
    );
    assert_eq!(resp.status, 200, "Better Auth answers 200 + Location, not 302");
    assert_eq!(resp.header("location"), Some("/dashboard"));
    let body = json_body(&resp);
    assert_eq!(keys(&body), ["redirect", "token", "url", "user"]);
    assert_eq!((&body["redirect"], &body["url"]), (&json!(true), &json!("/dashboard")));
    assert!(the_cookie(&resp, "better-auth.session_token").is_some());

    let absolute = "http://localhost:3000/after?x=1";
    let resp = t.post(
        "/sign-in/email",
        json!({"email": "cb@example.com", "password": PASSWORD, "callbackURL": absolute}),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("location"), Some(absolute));

    // An empty callbackURL is falsy: no redirect, no Location, but `url` echoes it.
    let resp = t.post(
        "/sign-in/email",
        json!({"email": "cb@example.com", "password": PASSWORD, "callbackURL": ""}),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("location"), None);
    let body = json_body(&resp);
    assert_eq!((&body["redirect"], &body["url"]), (&json!(false), &json!("")));
}

fn sign_in_remember_me(t: &TestApp) {
    t.signed_up("rm@example.com");
    let now = t.clock_now();
    let resp = t.post(
        "/sign-in/email",
        json!({"email": "rm@example.com", "password": PASSWORD, "rememberMe": false}),
    );
    assert_eq!(resp.status, 200);
    let names: Vec<String> = set_cookies(&resp).into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["better-auth.session_token", "better-auth.dont_remember"]);
    for c in set_cookies(&resp) {
        assert_eq!(c.max_age, None, "browser-session cookie: {}", c.raw);
        assert_eq!(c.order, ["Path", "HttpOnly", "SameSite"]);
        c.assert_default_attributes(false);
    }
    let token = json_body(&resp)["token"].as_str().unwrap().to_string();
    let (session, _) = t.storage().find_session_with_user(&token).unwrap().unwrap();
    assert_eq!(session.expires_at, now + Duration::days(1));

    let resp = t.post(
        "/sign-in/email",
        json!({"email": "rm@example.com", "password": PASSWORD, "rememberMe": true}),
    );
    let names: Vec<String> = set_cookies(&resp).into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["better-auth.session_token"]);
    assert_eq!(set_cookies(&resp)[0].max_age, Some(604_800));
}

/// Unknown email, wrong password, an account without a password and an empty password all
/// get the very same answer.
fn sign_in_failures_do_not_reveal_accounts(t: &TestApp) {
    let known = t.signed_up("known@example.com");
    let social = t.insert_user("social@example.com", None);
    let attempts = [
        ("nobody@example.com", PASSWORD),
        ("known@example.com", "wrong-password"),
        ("KNOWN@example.com", "Correct-horse-battery"),
        ("known@example.com", ""),
        ("social@example.com", PASSWORD),
    ];
    for (email, password) in attempts {
        let resp = t.sign_in(email, password);
        assert_eq!(resp.status, 401, "{email}");
        assert_eq!(
            json_body(&resp),
            json!({"message": "Invalid email or password", "code": "INVALID_EMAIL_OR_PASSWORD", "status": 401}),
            "{email}"
        );
        assert!(resp.set_cookies().is_empty());
        assert_eq!(resp.header("location"), None);
    }
    assert_eq!(t.storage().list_user_sessions(&known.user_id).unwrap().len(), 1);
    assert!(t.storage().list_user_sessions(&social.id).unwrap().is_empty());
}

fn sign_in_input_errors(t: &TestApp) {
    t.signed_up("in@example.com");
    assert_validation(
        &t.post("/sign-in/email", json!({})),
        "[body.email] Invalid input: expected string, received undefined; [body.password] Invalid input: expected string, received undefined",
    );
    assert_validation(
        &t.post(
            "/sign-in/email",
            json!({"email": "in@example.com", "password": PASSWORD, "rememberMe": 1}),
        ),
        "[body.rememberMe] Invalid input: expected boolean, received number",
    );
    assert_validation(
        &t.post(
            "/sign-in/email",
            json!({"email": "in@example.com", "password": PASSWORD, "callbackURL": false}),
        ),
        "[body.callbackURL] Invalid input: expected string, received boolean",
    );
    // Not a schema error: the email is re-checked by the handler.
    assert_error_message(&t.sign_in("not-an-email", "x"), 400, "INVALID_EMAIL", "Invalid email");
    // Better Auth 1.7.25 refuses over-long passwords before looking the user up.
    let long = "x".repeat(129);
    assert_error_message(
        &t.sign_in("nobody@example.com", &long),
        400,
        "PASSWORD_TOO_LONG",
        "Password too long",
    );
    assert_eq!(t.sign_in("in@example.com", &"x".repeat(128)).status, 401);
}

fn unverified_email_is_refused_after_the_password_check(t: &TestApp) {
    let t = TestApp::with_config(t.backend, |c| c.require_email_verification = true);
    let resp = t.post(
        "/sign-up/email",
        json!({"name": "V", "email": "v@example.com", "password": PASSWORD}),
    );
    assert_eq!(json_body(&resp)["token"], Value::Null);
    let resp = t.sign_in("v@example.com", PASSWORD);
    assert_error_message(&resp, 403, "EMAIL_NOT_VERIFIED", "Email not verified");
    assert!(resp.set_cookies().is_empty());
    assert_eq!(t.sign_in("v@example.com", "wrong-password").status, 401);

    let user = t.storage().find_user_by_email("v@example.com").unwrap().unwrap();
    let verified = sesame::storage::models::UserUpdate {
        email_verified: Some(true),
        ..Default::default()
    };
    t.storage().update_user(&user.id, &verified, t.clock_now()).unwrap();
    assert_eq!(t.sign_in("v@example.com", PASSWORD).status, 200);
}

fn sign_up_without_auto_sign_in_then_sign_in(t: &TestApp) {
    let t = TestApp::with_config(t.backend, |c| c.auto_sign_in = false);
    let resp = t.post(
        "/sign-up/email",
        json!({"name": "A", "email": "a@example.com", "password": PASSWORD}),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(json_body(&resp)["token"], Value::Null);
    assert!(resp.set_cookies().is_empty());
    let resp = t.sign_in("a@example.com", PASSWORD);
    assert_eq!(resp.status, 200);
    assert!(the_cookie(&resp, "better-auth.session_token").is_some());
}

fn sign_in_accepts_form_posts(t: &TestApp) {
    t.signed_up("form@example.com");
    let resp = t.post_form(
        "/sign-in/email",
        "email=form%40example.com&password=correct-horse-battery",
    );
    assert_eq!(resp.status, 200);
    assert_eq!(json_body(&resp)["user"]["email"], "form@example.com");
    assert!(the_cookie(&resp, "better-auth.session_token").is_some());
    for flag in ["false", "true"] {
        let resp = t.post_form(
            "/sign-in/email",
            &format!("email=form%40example.com&password=correct-horse-battery&rememberMe={flag}"),
        );
        assert_validation(
            &resp,
            "[body.rememberMe] Invalid input: expected boolean, received string",
        );
    }
    let resp = t.post_form(
        "/sign-in/email",
        "email=form%40example.com&password=correct-horse-battery&callbackURL=%2Fhome",
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("location"), Some("/home"));
}

crate::suite!(
    sign_in_answers_redirect_false_token_and_user,
    sign_in_with_callback_url_is_200_with_location,
    sign_in_remember_me,
    sign_in_failures_do_not_reveal_accounts,
    sign_in_input_errors,
    unverified_email_is_refused_after_the_password_check,
    sign_up_without_auto_sign_in_then_sign_in,
    sign_in_accepts_form_posts,
);
