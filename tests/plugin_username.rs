//! The username plugin: username fields on sign-up and update-user, sign-in by username,
//! availability checks, and their error codes.

use serde_json::json;

use crate::support::{assert_error, cookie_header, json_body, Backend, TestApp, PASSWORD};

fn username_app(backend: Backend) -> TestApp {
    TestApp::with_config(backend, |c| c.plugins = vec!["username".into()])
}

fn sign_up_with(t: &TestApp, email: &str, extra: serde_json::Value) -> sesame::http::Response {
    let mut body = json!({"name": "U", "email": email, "password": PASSWORD});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    t.post("/sign-up/email", body)
}

fn sign_up_stores_normalised_username_and_display_name(backend: Backend) {
    let t = username_app(backend);
    let resp = sign_up_with(&t, "u1@example.com", json!({"username": "Ada.Lovelace"}));
    assert_eq!(resp.status, 200);
    let user = &json_body(&resp)["user"];
    assert_eq!(user["username"], "ada.lovelace");
    assert_eq!(user["displayUsername"], "Ada.Lovelace");

    // displayUsername alone, if it is a valid username, becomes the username.
    let resp = sign_up_with(&t, "u2@example.com", json!({"displayUsername": "Grace_H"}));
    assert_eq!(json_body(&resp)["user"]["username"], "grace_h");
    // ... and one that is not valid stays a display name only.
    let resp = sign_up_with(&t, "u3@example.com", json!({"displayUsername": "Grace Hopper"}));
    let user = &json_body(&resp)["user"];
    assert!(user.get("username").is_none());
    assert_eq!(user["displayUsername"], "Grace Hopper");
}

fn sign_up_rejects_bad_or_taken_usernames(backend: Backend) {
    let t = username_app(backend);
    assert_eq!(
        sign_up_with(&t, "a@example.com", json!({"username": "taken"})).status,
        200
    );
    assert_error(
        &sign_up_with(&t, "b@example.com", json!({"username": "TAKEN"})),
        400,
        "USERNAME_IS_ALREADY_TAKEN",
    );
    assert_error(
        &sign_up_with(&t, "c@example.com", json!({"username": "ab"})),
        400,
        "USERNAME_TOO_SHORT",
    );
    assert_error(
        &sign_up_with(&t, "c@example.com", json!({"username": "x".repeat(31)})),
        400,
        "USERNAME_TOO_LONG",
    );
    assert_error(
        &sign_up_with(&t, "c@example.com", json!({"username": "no spaces"})),
        400,
        "INVALID_USERNAME",
    );
    assert_error(
        &sign_up_with(&t, "c@example.com", json!({"username": 42})),
        400,
        "VALIDATION_ERROR",
    );
    // A rejected sign-up leaves no user behind.
    assert!(t.storage().find_user_by_email("b@example.com").unwrap().is_none());
    assert!(t.storage().find_user_by_email("c@example.com").unwrap().is_none());
}

fn sign_in_by_username(backend: Backend) {
    let t = username_app(backend);
    sign_up_with(&t, "si@example.com", json!({"username": "signer"}));
    let resp = t.post(
        "/sign-in/username",
        json!({"username": "SIGNER", "password": PASSWORD, "callbackURL": "/home"}),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("location"), Some("/home"));
    let body = json_body(&resp);
    assert_eq!(body["redirect"], true);
    assert_eq!(body["user"]["email"], "si@example.com");
    let cookies = cookie_header(&resp);
    assert_eq!(
        json_body(&t.get("/get-session", Some(&cookies)))["user"]["username"],
        "signer"
    );

    assert_error(
        &t.post(
            "/sign-in/username",
            json!({"username": "signer", "password": "wrong-password"}),
        ),
        401,
        "INVALID_USERNAME_OR_PASSWORD",
    );
    assert_error(
        &t.post("/sign-in/username", json!({"username": "nobody", "password": PASSWORD})),
        401,
        "INVALID_USERNAME_OR_PASSWORD",
    );
    assert_error(
        &t.post("/sign-in/username", json!({"username": "", "password": PASSWORD})),
        401,
        "INVALID_USERNAME_OR_PASSWORD",
    );
    assert_error(
        &t.post("/sign-in/username", json!({"username": "a b", "password": PASSWORD})),
        422,
        "INVALID_USERNAME",
    );
    assert_error(
        &t.post("/sign-in/username", json!({"username": "signer"})),
        400,
        "VALIDATION_ERROR",
    );
}

fn availability(backend: Backend) {
    let t = username_app(backend);
    sign_up_with(&t, "av@example.com", json!({"username": "present"}));
    assert_eq!(
        json_body(&t.post("/is-username-available", json!({"username": "Present"}))),
        json!({"available": false})
    );
    assert_eq!(
        json_body(&t.post("/is-username-available", json!({"username": "absent"}))),
        json!({"available": true})
    );
    assert_error(
        &t.post("/is-username-available", json!({"username": "x"})),
        422,
        "USERNAME_TOO_SHORT",
    );
    assert_error(
        &t.post("/is-username-available", json!({"username": ""})),
        422,
        "INVALID_USERNAME",
    );
    assert_error(&t.post("/is-username-available", json!({})), 400, "VALIDATION_ERROR");
}

fn update_user_changes_username(backend: Backend) {
    let t = username_app(backend);
    sign_up_with(&t, "other@example.com", json!({"username": "other"}));
    let resp = sign_up_with(&t, "me@example.com", json!({"username": "me_1"}));
    let cookies = cookie_header(&resp);
    assert_eq!(
        t.post_with_cookies(
            "/update-user",
            json!({"username": "Me_2", "displayUsername": "Me Two"}),
            &cookies
        )
        .status,
        200
    );
    let user = json_body(&t.get("/get-session", Some(&cookies)))["user"].clone();
    assert_eq!(
        (user["username"].as_str(), user["displayUsername"].as_str()),
        (Some("me_2"), Some("Me Two"))
    );
    // Keeping one's own username is fine; taking another's is not.
    assert_eq!(
        t.post_with_cookies("/update-user", json!({"username": "me_2"}), &cookies)
            .status,
        200
    );
    assert_error(
        &t.post_with_cookies("/update-user", json!({"username": "OTHER"}), &cookies),
        400,
        "USERNAME_IS_ALREADY_TAKEN",
    );
    assert_error(
        &t.post_with_cookies("/update-user", json!({"username": "!!"}), &cookies),
        400,
        "USERNAME_TOO_SHORT",
    );
    // The freed name is available again.
    assert_eq!(
        json_body(&t.post("/is-username-available", json!({"username": "me_1"}))),
        json!({"available": true})
    );
}

fn display_usernames_that_spoof_or_break_pages_are_refused(backend: Backend) {
    let t = username_app(backend);
    let bad = [
        "admin\u{202E}nimda".to_string(),
        "line\nbreak".to_string(),
        "zero\u{200B}width".to_string(),
        "   ".to_string(),
        "x".repeat(65),
    ];
    for (i, display) in bad.iter().enumerate() {
        let resp = sign_up_with(
            &t,
            &format!("s{i}@example.com"),
            json!({"username": format!("user_{i}"), "displayUsername": display}),
        );
        assert_error(&resp, 400, "INVALID_DISPLAY_USERNAME");
        assert!(
            t.storage()
                .find_user_by_email(&format!("s{i}@example.com"))
                .unwrap()
                .is_none(),
            "no user made"
        );
    }
    let resp = sign_up_with(
        &t,
        "ok@example.com",
        json!({"username": "ok_user", "displayUsername": "Ada Lovelace"}),
    );
    assert_eq!(resp.status, 200);
    let cookies = cookie_header(&resp);
    for display in &bad {
        let resp = t.post_with_cookies("/update-user", json!({"displayUsername": display}), &cookies);
        assert_error(&resp, 400, "INVALID_DISPLAY_USERNAME");
    }
    let user = json_body(&t.get("/get-session", Some(&cookies)))["user"].clone();
    assert_eq!(user["displayUsername"], "Ada Lovelace", "unchanged");
}

fn without_the_plugin_username_is_ignored(backend: Backend) {
    let t = TestApp::new(backend);
    let resp = sign_up_with(&t, "plain@example.com", json!({"username": "ignored"}));
    assert_eq!(resp.status, 200);
    assert!(json_body(&resp)["user"].get("username").is_none());
    assert_error(
        &t.post(
            "/sign-in/username",
            json!({"username": "ignored", "password": PASSWORD}),
        ),
        404,
        "NOT_FOUND",
    );
}

crate::backend_suite!(
    sign_up_stores_normalised_username_and_display_name,
    sign_up_rejects_bad_or_taken_usernames,
    sign_in_by_username,
    availability,
    update_user_changes_username,
    display_usernames_that_spoof_or_break_pages_are_refused,
    without_the_plugin_username_is_ignored,
);
