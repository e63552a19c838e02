//! Passwords: `POST /change-password` (spec §3.9, with revokeOtherSessions),
//! `POST /verify-password` (§3.13), and the hashing rules every endpoint shares (spec §5 and
//! Sesame's difference 7): NFKC, no silent truncation at bcrypt's 72 bytes, scrypt hashes
//! written by Better Auth, the scrypt option for new hashes.

use serde_json::{json, Value};
use time::Duration;

use crate::support::wire::{assert_error_message, assert_validation, is_id, set_cookies, the_cookie};
use crate::support::{assert_error, json_body, TestApp, PASSWORD};

const NEW: &str = "brand-new-password";

fn change_password_processing_order(t: &TestApp) {
    // Without a session, a bad body is still a validation error, not 401.
    assert_validation(
        &t.post("/change-password", json!({})),
        "[body.newPassword] Invalid input: expected string, received undefined; [body.currentPassword] Invalid input: expected string, received undefined",
    );
    assert_validation(
        &t.post(
            "/change-password",
            json!({"newPassword": NEW, "currentPassword": PASSWORD, "revokeOtherSessions": "yes"}),
        ),
        "[body.revokeOtherSessions] Invalid input: expected boolean, received string",
    );
    assert_error(
        &t.post(
            "/change-password",
            json!({"newPassword": NEW, "currentPassword": PASSWORD}),
        ),
        401,
        "UNAUTHORIZED",
    );
}

fn change_password_errors(t: &TestApp) {
    let s = t.signed_up("cp@example.com");
    let change = |new: &str, current: &str| {
        t.post_with_cookies(
            "/change-password",
            json!({"newPassword": new, "currentPassword": current}),
            &s.cookie,
        )
    };
    // The new password's length is checked before the current password.
    assert_error_message(
        &change("short", "wrong"),
        400,
        "PASSWORD_TOO_SHORT",
        "Password too short",
    );
    assert_error_message(
        &change(&"x".repeat(129), "wrong"),
        400,
        "PASSWORD_TOO_LONG",
        "Password too long",
    );
    // Better Auth 1.7.25 also refuses an over-long current password.
    assert_error(&change(NEW, &"x".repeat(129)), 400, "PASSWORD_TOO_LONG");
    assert_error_message(
        &change(NEW, "wrong-password"),
        400,
        "INVALID_PASSWORD",
        "Invalid password",
    );
    // Nothing changed.
    assert_eq!(t.sign_in("cp@example.com", PASSWORD).status, 200);
    assert_eq!(t.sign_in("cp@example.com", NEW).status, 401);

    // A user without a password (social sign-in only).
    let social = t.insert_user("social@example.com", None);
    let session = t.insert_session(&social.id, Duration::ZERO, Duration::days(7));
    let resp = t.post_with_cookies(
        "/change-password",
        json!({"newPassword": NEW, "currentPassword": PASSWORD}),
        &t.cookie_for(&session.token),
    );
    assert_error_message(
        &resp,
        400,
        "CREDENTIAL_ACCOUNT_NOT_FOUND",
        "Credential account not found",
    );
}

fn change_password_keeps_sessions_by_default(t: &TestApp) {
    let s = t.signed_up("keep@example.com");
    let other = t.signed_in("keep@example.com", PASSWORD);
    let resp = t.post_with_cookies(
        "/change-password",
        json!({"newPassword": NEW, "currentPassword": PASSWORD, "revokeOtherSessions": false}),
        &s.cookie,
    );
    assert_eq!(resp.status, 200);
    let body = json_body(&resp);
    assert_eq!(body["token"], Value::Null);
    assert_eq!(body["user"]["id"], s.user_id.as_str());
    assert_eq!(body["user"]["email"], "keep@example.com");
    assert!(resp.set_cookies().is_empty(), "no cookies without revocation");
    assert_eq!(t.sign_in("keep@example.com", PASSWORD).status, 401);
    assert_eq!(t.sign_in("keep@example.com", NEW).status, 200);
    assert_eq!(t.session_of(&other.cookie)["session"]["token"], other.token.as_str());
}

fn change_password_revoking_other_sessions(t: &TestApp) {
    let s = t.signed_up("revoke@example.com");
    let other = t.signed_in("revoke@example.com", PASSWORD);
    let bystander = t.signed_up("bystander@example.com");
    let now = t.clock_now();
    let resp = t.post_with_cookies(
        "/change-password",
        json!({"newPassword": NEW, "currentPassword": PASSWORD, "revokeOtherSessions": true}),
        &s.cookie,
    );
    assert_eq!(resp.status, 200);
    let body = json_body(&resp);
    assert!(is_id(&body["token"]), "{body}");
    let token = body["token"].as_str().unwrap();
    assert_ne!(token, s.token);
    assert_eq!(body["user"]["id"], s.user_id.as_str());

    let cookies = set_cookies(&resp);
    assert_eq!(cookies.len(), 1, "{:?}", resp.set_cookies());
    assert_eq!(cookies[0].max_age, Some(604_800));
    let new_cookie = format!("{}={}", cookies[0].name, cookies[0].value);
    assert_eq!(new_cookie, t.cookie_for(token));

    // Every old session is gone, the current one included; the new cookie works.
    for old in [&s.cookie, &other.cookie] {
        crate::support::wire::assert_null_session(&t.get("/get-session", Some(old)));
    }
    let sessions = t.storage().list_user_sessions(&s.user_id).unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].token, token);
    assert_eq!(sessions[0].expires_at, now + Duration::days(7));
    assert_eq!(t.session_of(&new_cookie)["session"]["token"], token);
    assert!(t.session_exists(&bystander.token));
    assert_eq!(t.sign_in("revoke@example.com", NEW).status, 200);
}

fn change_password_revoking_from_a_browser_session(t: &TestApp) {
    t.signed_up("brs@example.com");
    let resp = t.post(
        "/sign-in/email",
        json!({"email": "brs@example.com", "password": PASSWORD, "rememberMe": false}),
    );
    let cookie = crate::support::cookie_header(&resp);
    let now = t.clock_now();
    let resp = t.post_with_cookies(
        "/change-password",
        json!({"newPassword": NEW, "currentPassword": PASSWORD, "revokeOtherSessions": true}),
        &cookie,
    );
    assert_eq!(resp.status, 200);
    // The cookie stays a browser-session cookie, and the new row keeps the short lifetime
    // (Better Auth gives it the full one: the short lifetime belongs to the row here).
    assert_eq!(the_cookie(&resp, "better-auth.session_token").unwrap().max_age, None);
    assert_eq!(the_cookie(&resp, "better-auth.dont_remember").unwrap().max_age, None);
    let token = json_body(&resp)["token"].as_str().unwrap().to_string();
    let (row, _) = t.storage().find_session_with_user(&token).unwrap().unwrap();
    assert_eq!(row.expires_at, now + Duration::days(1));
    assert!(row.dont_remember_me);
}

fn verify_password(t: &TestApp) {
    let s = t.signed_up("vp@example.com");
    let resp = t.post_with_cookies("/verify-password", json!({"password": PASSWORD}), &s.cookie);
    assert_eq!((resp.status, json_body(&resp)), (200, json!({"status": true})));
    let resp = t.post_with_cookies("/verify-password", json!({"password": "nope"}), &s.cookie);
    assert_error_message(&resp, 400, "INVALID_PASSWORD", "Invalid password");
    assert_validation(
        &t.post("/verify-password", json!({})),
        "[body.password] Invalid input: expected string, received undefined",
    );
    assert_error(
        &t.post("/verify-password", json!({"password": "x"})),
        401,
        "UNAUTHORIZED",
    );

    let social = t.insert_user("nopass@example.com", None);
    let session = t.insert_session(&social.id, Duration::ZERO, Duration::days(7));
    let resp = t.post_with_cookies(
        "/verify-password",
        json!({"password": PASSWORD}),
        &t.cookie_for(&session.token),
    );
    assert_error(&resp, 400, "INVALID_PASSWORD");
}

fn passwords_are_nfkc_normalised(t: &TestApp) {
    // U+FB01 (the "fi" ligature) and U+FF41 (fullwidth a) normalise to "fi" and "a".
    t.signed_up_with("nfkc@example.com", "pass-\u{FB01}-\u{FF41}-word");
    assert_eq!(t.sign_in("nfkc@example.com", "pass-fi-a-word").status, 200);
    assert_eq!(t.sign_in("nfkc@example.com", "pass-\u{FB01}-\u{FF41}-word").status, 200);
    assert_eq!(t.sign_in("nfkc@example.com", "pass-fl-a-word").status, 401);
}

fn long_passwords_are_not_truncated(t: &TestApp) {
    let base = "b".repeat(72);
    let one = format!("{base}-first");
    let two = format!("{base}-second");
    t.signed_up_with("long1@example.com", &one);
    assert_eq!(t.sign_in("long1@example.com", &one).status, 200);
    assert_eq!(t.sign_in("long1@example.com", &two).status, 401);
    assert_eq!(t.sign_in("long1@example.com", &base).status, 401);
    // The same holds for a password set through change-password.
    let s = t.signed_up("long2@example.com");
    let resp = t.post_with_cookies(
        "/change-password",
        json!({"newPassword": two, "currentPassword": PASSWORD}),
        &s.cookie,
    );
    assert_eq!(resp.status, 200);
    assert_eq!(t.sign_in("long2@example.com", &two).status, 200);
    assert_eq!(t.sign_in("long2@example.com", &one).status, 401);
    // 72 multi-byte characters are 144+ bytes: still every byte counts.
    let wide = "\u{e9}".repeat(60);
    t.signed_up_with("long3@example.com", &format!("{wide}1"));
    assert_eq!(t.sign_in("long3@example.com", &format!("{wide}2")).status, 401);
    assert_eq!(t.sign_in("long3@example.com", &format!("{wide}1")).status, 200);
}

fn scrypt_can_be_chosen_for_new_hashes(t: &TestApp) {
    let t = TestApp::with_config(t.backend, |c| c.password_hash = sesame::config::PasswordHash::Scrypt);
    let s = t.signed_up("scrypt@example.com");
    let hash = t
        .storage()
        .find_credential_account(&s.user_id)
        .unwrap()
        .unwrap()
        .password
        .unwrap();
    let (salt, key) = hash.split_once(':').expect("Better Auth's salt:key format");
    assert_eq!((salt.len(), key.len()), (32, 128));
    assert!(hash.bytes().all(|b| b.is_ascii_hexdigit() || b == b':'));
    assert_eq!(t.sign_in("scrypt@example.com", PASSWORD).status, 200);
    assert_eq!(t.sign_in("scrypt@example.com", "wrong-password").status, 401);
}

fn better_auth_scrypt_hashes_are_accepted(t: &TestApp) {
    let fixture = crate::cookies::fixture();
    let hash = fixture["credential_account"]["password_hash"].as_str().unwrap();
    let password = fixture["credential_account"]["password"].as_str().unwrap();
    t.insert_user("from-better-auth@example.com", Some(hash));
    assert_eq!(t.sign_in("from-better-auth@example.com", password).status, 200);
    assert_eq!(
        t.sign_in("from-better-auth@example.com", "fixture-password-124").status,
        401
    );
    // And a change of password from it works.
    let s = t.signed_in("from-better-auth@example.com", password);
    let resp = t.post_with_cookies(
        "/change-password",
        json!({"newPassword": NEW, "currentPassword": password}),
        &s.cookie,
    );
    assert_eq!(resp.status, 200);
    assert_eq!(t.sign_in("from-better-auth@example.com", NEW).status, 200);
}

crate::suite!(
    change_password_processing_order,
    change_password_errors,
    change_password_keeps_sessions_by_default,
    change_password_revoking_other_sessions,
    change_password_revoking_from_a_browser_session,
    verify_password,
    passwords_are_nfkc_normalised,
    long_passwords_are_not_truncated,
    scrypt_can_be_chosen_for_new_hashes,
    better_auth_scrypt_hashes_are_accepted,
);
