//! `POST /sign-up/email` (spec §3.1): the success answer and its cookie, zod validation
//! messages, the password policy, duplicates (422, or the generic anti-enumeration answer),
//! forms, rememberMe=false, callbackURL and disabled sign-up.

use serde_json::{json, Value};
use sesame::http::js::encode_uri_component;
use time::Duration;

use crate::support::wire::{assert_error_message, assert_validation, is_id, iso, set_cookies, the_cookie, SetCookie};
use crate::support::{assert_error, json_body, TestApp, PASSWORD};

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

fn sign_up_answers_token_user_and_session_cookie(t: &TestApp) {
    let now = t.clock_now();
    let resp = t.post(
        "/sign-up/email",
        json!({"name": "Alice", "email": "Alice@Example.COM", "password": PASSWORD}),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    let body = json_body(&resp);
    assert_eq!(keys(&body), ["token", "user"]);
    assert!(is_id(&body["token"]), "{body}");
    let token = body["token"].as_str().unwrap();
    let user = &body["user"];
    assert_eq!(
        keys(user),
        [
            "name",
            "email",
            "emailVerified",
            "image",
            "createdAt",
            "updatedAt",
            "id"
        ]
    );
    assert!(is_id(&user["id"]));
    assert_eq!(
        *user,
        json!({"name": "Alice", "email": "alice@example.com", "emailVerified": false, "image": null,
               "createdAt": iso(now), "updatedAt": iso(now), "id": user["id"]})
    );

    // Exactly one cookie: the signed token, a week long, Better Auth's attribute order.
    let cookies = set_cookies(&resp);
    assert_eq!(cookies.len(), 1, "{:?}", resp.set_cookies());
    let c = &cookies[0];
    let sig = sesame::crypto::hmac_base64(t.app.config.secret.expose(), token);
    assert_eq!(c.name, "better-auth.session_token");
    assert_eq!(c.value, encode_uri_component(&format!("{token}.{sig}")));
    assert_eq!(c.max_age, Some(604_800));
    assert_eq!(c.order, ["Max-Age", "Path", "HttpOnly", "SameSite"]);
    c.assert_default_attributes(false);

    // The rows behind it.
    let stored = t.storage().find_user_by_email("alice@example.com").unwrap().unwrap();
    assert_eq!(stored.id, user["id"]);
    let (session, session_user) = t.storage().find_session_with_user(token).unwrap().unwrap();
    assert_eq!(session_user.id, stored.id);
    assert_eq!(session.expires_at, now + Duration::days(7));
    let account = t.storage().find_credential_account(&stored.id).unwrap().unwrap();
    let hash = account.password.unwrap();
    assert_ne!(hash, PASSWORD);
    assert!(sesame::auth::password::verify(PASSWORD, &hash));

    let session = t.session_of(&format!("{}={}", c.name, c.value));
    assert_eq!(session["session"]["token"], token);
    assert_eq!(session["user"], *user);
}

fn sign_up_validation_messages_match_zod(t: &TestApp) {
    let cases: &[(Option<Value>, &str)] = &[
        (
            Some(json!({})),
            "[body.name] Invalid input: expected string, received undefined; [body.email] Invalid input: expected string, received undefined; [body.password] Invalid input: expected string, received undefined",
        ),
        (
            None,
            "[body] Invalid input: expected object, received undefined; [body] Invalid input: expected record, received undefined",
        ),
        (
            Some(json!([])),
            "[body] Invalid input: expected object, received array; [body] Invalid input: expected record, received array",
        ),
        (
            Some(json!({"name": 5, "email": null, "password": true})),
            "[body.name] Invalid input: expected string, received number; [body.email] Invalid input: expected string, received null; [body.password] Invalid input: expected string, received boolean",
        ),
        (
            Some(json!({"name": "B", "email": "bob@example", "password": PASSWORD})),
            "[body.email] Invalid email address",
        ),
        (
            Some(json!({"name": "B", "email": "bob@example.com", "password": PASSWORD, "image": null})),
            "[body.image] Invalid input: expected string, received null",
        ),
        (
            Some(json!({"name": "B", "email": "bob@example.com", "password": ""})),
            "[body.password] Too small: expected string to have >=1 characters",
        ),
        (
            Some(json!({"name": "B", "email": "bob@example.com", "password": PASSWORD, "rememberMe": "false"})),
            "[body.rememberMe] Invalid input: expected boolean, received string",
        ),
    ];
    for (body, message) in cases {
        let resp = match body {
            Some(b) => t.post("/sign-up/email", b.clone()),
            None => t.send(sesame::http::Request::post(&format!(
                "{}/sign-up/email",
                crate::support::BASE
            ))),
        };
        assert_validation(&resp, message);
        assert!(resp.set_cookies().is_empty());
    }
    assert!(t.storage().find_user_by_email("bob@example.com").unwrap().is_none());
}

fn sign_up_password_length_is_counted_in_utf16_units(t: &TestApp) {
    let attempt = |n: usize, password: &str| {
        t.post(
            "/sign-up/email",
            json!({"name": "P", "email": format!("p{n}@example.com"), "password": password}),
        )
    };
    let short = attempt(1, "seven77");
    assert_error_message(&short, 400, "PASSWORD_TOO_SHORT", "Password too short");
    assert_eq!(attempt(2, "eight888").status, 200);
    assert_eq!(attempt(3, &"x".repeat(128)).status, 200);
    assert_error_message(
        &attempt(4, &"x".repeat(129)),
        400,
        "PASSWORD_TOO_LONG",
        "Password too long",
    );
    // 4 characters but 8 UTF-16 units: long enough.
    assert_eq!(attempt(5, &"\u{1F600}".repeat(4)).status, 200);
    // 7 units (14 bytes): too short.
    assert_error(&attempt(6, &"\u{e9}".repeat(7)), 400, "PASSWORD_TOO_SHORT");
    // 65 characters but 129 units: too long.
    assert_error(
        &attempt(7, &format!("{}a", "\u{1F600}".repeat(64))),
        400,
        "PASSWORD_TOO_LONG",
    );
    assert_eq!(attempt(8, &"\u{1F600}".repeat(64)).status, 200);
    for n in [1, 4, 6, 7] {
        assert!(t
            .storage()
            .find_user_by_email(&format!("p{n}@example.com"))
            .unwrap()
            .is_none());
    }
}

fn duplicate_email_is_422_and_changes_nothing(t: &TestApp) {
    let first = t.signed_up("dup@example.com");
    let resp = t.post(
        "/sign-up/email",
        json!({"name": "Other", "email": "DUP@example.com", "password": "another-password"}),
    );
    assert_error_message(
        &resp,
        422,
        "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
        "User already exists. Use another email.",
    );
    assert!(resp.set_cookies().is_empty());
    assert_eq!(t.sign_in("dup@example.com", PASSWORD).status, 200);
    assert_eq!(t.sign_in("dup@example.com", "another-password").status, 401);
    let user = t.storage().find_user_by_email("dup@example.com").unwrap().unwrap();
    assert_eq!(
        (user.id.as_str(), user.name.as_str()),
        (first.user_id.as_str(), "Test User")
    );
}

/// With verification required or auto sign-in off, a taken email answers exactly like a new
/// one: 200, `token: null`, a synthetic user, no cookie.
fn generic_duplicate_mode(t: &TestApp, adjust: fn(&mut sesame::Config)) {
    let t = TestApp::with_config(t.backend, adjust);
    let now = t.clock_now();
    let first = t.post(
        "/sign-up/email",
        json!({"name": "Real", "email": "real@example.com", "password": PASSWORD}),
    );
    assert_eq!(first.status, 200);
    assert!(first.set_cookies().is_empty());
    let real = json_body(&first);
    assert_eq!(real["token"], Value::Null);
    assert!(is_id(&real["user"]["id"]));
    let real_id = real["user"]["id"].as_str().unwrap().to_string();
    assert!(t.storage().list_user_sessions(&real_id).unwrap().is_empty());

    t.clock.advance(Duration::seconds(5));
    let dup = t.post(
        "/sign-up/email",
        json!({"name": "Intruder", "email": "REAL@example.com", "password": "other-password", "image": "https://img.example/x.png"}),
    );
    assert_eq!(dup.status, 200);
    assert!(dup.set_cookies().is_empty());
    let body = json_body(&dup);
    assert_eq!(keys(&body), keys(&real));
    assert_eq!(keys(&body["user"]), keys(&real["user"]));
    let fake = &body["user"];
    assert!(is_id(&fake["id"]));
    assert_ne!(fake["id"], real_id);
    let later = iso(now + Duration::seconds(5));
    assert_eq!(
        *fake,
        json!({"name": "Intruder", "email": "real@example.com", "emailVerified": false,
               "image": "https://img.example/x.png", "createdAt": later, "updatedAt": later, "id": fake["id"]})
    );
    // Nothing was written: the real user is untouched and still the only one.
    let stored = t.storage().find_user_by_email("real@example.com").unwrap().unwrap();
    assert_eq!((stored.id.as_str(), stored.name.as_str()), (real_id.as_str(), "Real"));
    assert!(t
        .storage()
        .find_user_by_id(fake["id"].as_str().unwrap())
        .unwrap()
        .is_none());
    assert!(t.storage().list_user_sessions(&real_id).unwrap().is_empty());
}

fn generic_duplicates_when_verification_is_required(t: &TestApp) {
    generic_duplicate_mode(t, |c| c.require_email_verification = true);
}

fn generic_duplicates_when_auto_sign_in_is_off(t: &TestApp) {
    generic_duplicate_mode(t, |c| c.auto_sign_in = false);
}

fn disabled_sign_up_is_400_after_validation(t: &TestApp) {
    let t = TestApp::with_config(t.backend, |c| c.disable_sign_up = true);
    let resp = t.post(
        "/sign-up/email",
        json!({"name": "N", "email": "n@example.com", "password": PASSWORD}),
    );
    assert_error_message(
        &resp,
        400,
        "EMAIL_PASSWORD_SIGN_UP_DISABLED",
        "Email and password sign up is not enabled",
    );
    assert_error(&t.post("/sign-up/email", json!({})), 400, "VALIDATION_ERROR");
    assert!(t.storage().find_user_by_email("n@example.com").unwrap().is_none());
}

fn sign_up_accepts_form_posts(t: &TestApp) {
    let resp = t.post_form(
        "/sign-up/email",
        "name=Form+User&email=form%40example.com&password=password123",
    );
    assert_eq!(resp.status, 200);
    assert_eq!(json_body(&resp)["user"]["name"], "Form User");
    assert!(the_cookie(&resp, "better-auth.session_token").is_some());
    // Form fields are strings: no coercion to booleans.
    let resp = t.post_form(
        "/sign-up/email",
        "name=F&email=form2%40example.com&password=password123&rememberMe=false",
    );
    assert_validation(
        &resp,
        "[body.rememberMe] Invalid input: expected boolean, received string",
    );
    let resp = t.post_raw("/sign-up/email", "text/plain", b"name=x", &[]);
    assert_error_message(
        &resp,
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        "Content-Type \"text/plain\" is not allowed. Allowed types: application/x-www-form-urlencoded, application/json",
    );
}

fn sign_up_remember_me_false_gives_browser_session_cookies(t: &TestApp) {
    let now = t.clock_now();
    let resp = t.post(
        "/sign-up/email",
        json!({"name": "S", "email": "short@example.com", "password": PASSWORD, "rememberMe": false}),
    );
    assert_eq!(resp.status, 200);
    let names: Vec<String> = set_cookies(&resp).into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["better-auth.session_token", "better-auth.dont_remember"]);
    let token = the_cookie(&resp, "better-auth.session_token").unwrap();
    assert_eq!(token.max_age, None);
    token.assert_default_attributes(false);
    let marker: SetCookie = the_cookie(&resp, "better-auth.dont_remember").unwrap();
    assert_eq!(marker.max_age, None);
    let sig = sesame::crypto::hmac_base64(t.app.config.secret.expose(), "true");
    assert_eq!(marker.value, encode_uri_component(&format!("true.{sig}")));
    let body = json_body(&resp);
    let (session, _) = t
        .storage()
        .find_session_with_user(body["token"].as_str().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(session.expires_at, now + Duration::days(1));
}

fn sign_up_checks_callback_url_but_does_not_redirect(t: &TestApp) {
    let resp = t.post(
        "/sign-up/email",
        json!({"name": "C", "email": "cb@example.com", "password": PASSWORD, "callbackURL": "/welcome"}),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("location"), None);
    assert_eq!(keys(&json_body(&resp)), ["token", "user"]);
    let resp = t.post(
        "/sign-up/email",
        json!({"name": "C", "email": "cb2@example.com", "password": PASSWORD, "callbackURL": "//evil.com"}),
    );
    assert_error_message(&resp, 403, "INVALID_CALLBACK_URL", "Invalid callbackURL");
    assert!(t.storage().find_user_by_email("cb2@example.com").unwrap().is_none());
}

crate::suite!(
    sign_up_answers_token_user_and_session_cookie,
    sign_up_validation_messages_match_zod,
    sign_up_password_length_is_counted_in_utf16_units,
    duplicate_email_is_422_and_changes_nothing,
    generic_duplicates_when_verification_is_required,
    generic_duplicates_when_auto_sign_in_is_off,
    disabled_sign_up_is_400_after_validation,
    sign_up_accepts_form_posts,
    sign_up_remember_me_false_gives_browser_session_cookies,
    sign_up_checks_callback_url_but_does_not_redirect,
);
