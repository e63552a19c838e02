//! The bearer plugin: `Authorization: Bearer` authenticates like the session cookie, and
//! answers that set a session carry `set-auth-token`.

use serde_json::json;
use sesame::http::Request;
use sesame::ApiInput;

use crate::support::{assert_error, json_body, Backend, TestApp, BASE, PASSWORD};

fn bearer_app(backend: Backend) -> TestApp {
    TestApp::with_config(backend, |c| c.plugins = vec!["bearer".into()])
}

fn get_session_with(t: &TestApp, authorization: &str) -> serde_json::Value {
    let resp = t.send(Request::get(&format!("{BASE}/get-session")).with_header("authorization", authorization));
    assert_eq!(resp.status, 200);
    json_body(&resp)
}

fn sign_in_answers_carry_set_auth_token(backend: Backend) {
    let t = bearer_app(backend);
    let (signup, _) = t.sign_up("bearer@example.com");
    let signed = signup
        .header("set-auth-token")
        .expect("set-auth-token on sign-up")
        .to_string();
    let token = json_body(&signup)["token"].as_str().unwrap().to_string();
    assert!(signed.starts_with(&format!("{token}.")));
    assert!(signed.ends_with('='), "decoded, not percent-encoded: {signed}");
    assert!(signup
        .header("access-control-expose-headers")
        .unwrap()
        .contains("set-auth-token"));

    let signin = t.sign_in("bearer@example.com", PASSWORD);
    assert!(signin.header("set-auth-token").is_some());
    // Sign-out clears the cookie: no token is handed out.
    let out =
        t.send(Request::post(&format!("{BASE}/sign-out")).with_header("authorization", &format!("Bearer {signed}")));
    assert_eq!(out.status, 200);
    assert!(out.header("set-auth-token").is_none());
    // The bearer identified the session and sign-out deleted it; the other one lives on.
    let other = json_body(&signin)["token"].as_str().unwrap().to_string();
    assert!(!t.session_exists(&token), "sign-out by bearer deleted the session");
    assert!(t.session_exists(&other));
    assert_eq!(
        get_session_with(&t, &format!("Bearer {signed}")),
        serde_json::Value::Null
    );
}

fn signed_and_raw_tokens_authenticate(backend: Backend) {
    let t = bearer_app(backend);
    let (signup, _) = t.sign_up("bearer2@example.com");
    let signed = signup.header("set-auth-token").unwrap().to_string();
    let raw = json_body(&signup)["token"].as_str().unwrap().to_string();
    assert_eq!(
        get_session_with(&t, &format!("Bearer {signed}"))["user"]["email"],
        "bearer2@example.com"
    );
    assert_eq!(
        get_session_with(&t, &format!("Bearer {raw}"))["user"]["email"],
        "bearer2@example.com"
    );
    // Percent-encoded signed tokens (as copied from a cookie) work too.
    let encoded = sesame::http::js::encode_uri_component(&signed);
    assert_eq!(
        get_session_with(&t, &format!("Bearer {encoded}"))["user"]["email"],
        "bearer2@example.com"
    );
    // A forged signature, garbage or another scheme is no session.
    let forged = format!("{raw}.{}", "A".repeat(43) + "=");
    assert!(get_session_with(&t, &format!("Bearer {forged}")).is_null());
    assert!(get_session_with(&t, "Bearer not a token!").is_null());
    assert!(get_session_with(&t, &format!("Basic {raw}")).is_null());

    // Protected endpoints work with the header alone, and no Origin is needed (no cookies).
    let resp = t.send(
        Request::post(&format!("{BASE}/update-user"))
            .with_json(&json!({"name": "Bearer Name"}))
            .with_header("authorization", &format!("Bearer {signed}")),
    );
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    assert_eq!(
        get_session_with(&t, &format!("Bearer {raw}"))["user"]["name"],
        "Bearer Name"
    );
    let resp =
        t.send(Request::get(&format!("{BASE}/list-sessions")).with_header("authorization", &format!("Bearer {raw}")));
    assert_eq!(resp.status, 200);

    // In-process calls accept the header too.
    let data = t
        .app
        .call(
            "getSession",
            ApiInput::new().header("authorization", &format!("Bearer {raw}")),
        )
        .unwrap();
    assert_eq!(data["user"]["email"], "bearer2@example.com");
}

fn without_the_plugin_bearer_is_ignored(backend: Backend) {
    let t = TestApp::new(backend);
    let (signup, _) = t.sign_up("nobearer@example.com");
    assert!(signup.header("set-auth-token").is_none());
    let raw = json_body(&signup)["token"].as_str().unwrap().to_string();
    assert!(get_session_with(&t, &format!("Bearer {raw}")).is_null());
    let resp =
        t.send(Request::get(&format!("{BASE}/list-sessions")).with_header("authorization", &format!("Bearer {raw}")));
    assert_error(&resp, 401, "UNAUTHORIZED");
}

crate::backend_suite!(
    sign_in_answers_carry_set_auth_token,
    signed_and_raw_tokens_authenticate,
    without_the_plugin_bearer_is_ignored
);
