//! `POST /update-user` (spec §3.11): `{"status":true}`, name and image (null allowed), the
//! cookie re-issue, the errors (no fields, email, non-object bodies) and their order.

use serde_json::{json, Value};
use time::Duration;

use crate::support::wire::{assert_error_message, assert_validation, iso, set_cookies, the_cookie};
use crate::support::{assert_error, json_body, TestApp, BASE, ORIGIN, PASSWORD};

fn update_user_changes_name_and_image(t: &TestApp) {
    let s = t.signed_up("u@example.com");
    t.clock.advance(Duration::minutes(5));
    let now = t.clock_now();
    let resp = t.post_with_cookies(
        "/update-user",
        json!({"name": "New Name", "image": "https://img.example/a.png"}),
        &s.cookie,
    );
    assert_eq!(resp.status, 200);
    assert_eq!(json_body(&resp), json!({"status": true}), "the user is not returned");
    // The session cookie is re-issued with the full lifetime.
    let cookies = set_cookies(&resp);
    assert_eq!(cookies.len(), 1, "{:?}", resp.set_cookies());
    assert_eq!(format!("{}={}", cookies[0].name, cookies[0].value), s.cookie);
    assert_eq!(cookies[0].max_age, Some(604_800));
    cookies[0].assert_default_attributes(false);

    let user = t.session_of(&s.cookie)["user"].clone();
    assert_eq!(user["name"], "New Name");
    assert_eq!(user["image"], "https://img.example/a.png");
    assert_eq!(user["updatedAt"], iso(now));
    assert_ne!(user["createdAt"], user["updatedAt"]);

    // image: null clears it; name stays.
    let resp = t.post_with_cookies("/update-user", json!({"image": null}), &s.cookie);
    assert_eq!((resp.status, json_body(&resp)), (200, json!({"status": true})));
    let user = t.session_of(&s.cookie)["user"].clone();
    assert_eq!((&user["name"], &user["image"]), (&json!("New Name"), &Value::Null));
    let stored = t.storage().find_user_by_id(&s.user_id).unwrap().unwrap();
    assert_eq!((stored.name.as_str(), stored.image), ("New Name", None));
}

fn update_user_errors(t: &TestApp) {
    let s = t.signed_up("err@example.com");
    let no_fields = |body: Value| {
        let resp = t.post_with_cookies("/update-user", body, &s.cookie);
        // Better Auth sends no code here; Sesame names one and keeps the message.
        assert_error_message(&resp, 400, "NO_FIELDS_TO_UPDATE", "No fields to update");
    };
    no_fields(json!({}));
    no_fields(json!({"emailVerified": true}));
    no_fields(json!({"unknownField": "x", "id": "other"}));

    for body in [
        json!({"email": "x@example.com"}),
        json!({"email": "x@example.com", "name": "Sneaky"}),
    ] {
        let resp = t.post_with_cookies("/update-user", body, &s.cookie);
        assert_error_message(&resp, 400, "EMAIL_CAN_NOT_BE_UPDATED", "Email can not be updated");
    }
    let user = t.storage().find_user_by_id(&s.user_id).unwrap().unwrap();
    assert_eq!(
        (user.email.as_str(), user.name.as_str()),
        ("err@example.com", "Test User")
    );
    // A falsy email is ignored, as Better Auth's `if (body.email)` does.
    no_fields(json!({"email": ""}));
    no_fields(json!({"email": false}));
    let resp = t.post_with_cookies("/update-user", json!({"email": null, "name": "Z"}), &s.cookie);
    assert_eq!((resp.status, json_body(&resp)), (200, json!({"status": true})));
    let user = t.storage().find_user_by_id(&s.user_id).unwrap().unwrap();
    assert_eq!((user.email.as_str(), user.name.as_str()), ("err@example.com", "Z"));

    // The schema is a record: a non-object body is a validation error (observed on the
    // reference server; its BODY_MUST_BE_AN_OBJECT check is never reached).
    for (body, got) in [
        (json!([]), "array"),
        (json!([{"name": "x"}]), "array"),
        (json!("name"), "string"),
    ] {
        let resp = t.post_with_cookies("/update-user", body, &s.cookie);
        assert_validation(&resp, &format!("[body] Invalid input: expected record, received {got}"));
    }
    let resp = t.post_empty("/update-user", &s.cookie);
    assert_validation(&resp, "[body] Invalid input: expected record, received undefined");

    // Only JSON: forms are for sign-in and sign-up.
    let resp = t.post_raw(
        "/update-user",
        "application/x-www-form-urlencoded",
        b"name=x",
        &[("cookie", &s.cookie), ("origin", ORIGIN)],
    );
    assert_error_message(
        &resp,
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        "Content-Type \"application/x-www-form-urlencoded\" is not allowed. Allowed types: application/json",
    );
}

fn update_user_processing_order(t: &TestApp) {
    // Validation first, then the session, then the handler's own checks.
    assert_validation(
        &t.post("/update-user", json!([])),
        "[body] Invalid input: expected record, received array",
    );
    for body in [json!({}), json!({"name": "x"}), json!({"email": "a@b.co"})] {
        assert_error(&t.post("/update-user", body), 401, "UNAUTHORIZED");
    }
}

fn update_user_keeps_a_browser_session_cookie(t: &TestApp) {
    t.signed_up("short@example.com");
    let resp = t.post(
        "/sign-in/email",
        json!({"email": "short@example.com", "password": PASSWORD, "rememberMe": false}),
    );
    let cookie = crate::support::cookie_header(&resp);
    let resp = t.post_with_cookies("/update-user", json!({"name": "Still Short"}), &cookie);
    assert_eq!(resp.status, 200);
    let token = the_cookie(&resp, "better-auth.session_token").unwrap();
    assert_eq!(token.max_age, None);
    let marker = the_cookie(&resp, "better-auth.dont_remember").unwrap();
    assert_eq!(marker.max_age, None);
    assert!(marker.value.starts_with("true."));
}

fn update_user_is_json_only_over_http(t: &TestApp) {
    // A JSON body with a charset parameter is still JSON.
    let s = t.signed_up("cs@example.com");
    let resp = t.send(
        sesame::http::Request::post(&format!("{BASE}/update-user"))
            .with_body("application/json; charset=utf-8", br#"{"name":"Charset"}"#)
            .with_header("cookie", &s.cookie)
            .with_header("origin", ORIGIN),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(t.session_of(&s.cookie)["user"]["name"], "Charset");
}

/// Every authenticated endpoint resolves the session like get-session, so it slides a due
/// session too (observed on the reference: update-user then sends the cookie twice).
fn authenticated_endpoints_slide_a_due_session(t: &TestApp) {
    let s = t.signed_up("slide@example.com");
    t.clock.advance(Duration::days(2));
    let now = t.clock_now();
    let resp = t.post_with_cookies("/verify-password", json!({"password": PASSWORD}), &s.cookie);
    assert_eq!(resp.status, 200);
    let c = the_cookie(&resp, "better-auth.session_token").expect("refresh cookie");
    assert_eq!(
        (format!("{}={}", c.name, c.value), c.max_age),
        (s.cookie.clone(), Some(604_800))
    );
    let (row, _) = t.storage().find_session_with_user(&s.token).unwrap().unwrap();
    assert_eq!(row.expires_at, now + Duration::days(7));

    t.clock.advance(Duration::days(2));
    let resp = t.post_with_cookies("/update-user", json!({"name": "Slid"}), &s.cookie);
    assert_eq!(resp.status, 200);
    let lines = resp.set_cookies();
    assert!(!lines.is_empty() && lines.iter().all(|l| *l == lines[0]), "{lines:?}");
    assert!(lines[0].starts_with(&format!("{}; Max-Age=604800;", s.cookie)));
    let (row, _) = t.storage().find_session_with_user(&s.token).unwrap().unwrap();
    assert_eq!(row.expires_at, t.clock_now() + Duration::days(7));
}

crate::suite!(
    authenticated_endpoints_slide_a_due_session,
    update_user_changes_name_and_image,
    update_user_errors,
    update_user_processing_order,
    update_user_keeps_a_browser_session_cookie,
    update_user_is_json_only_over_http,
);
