//! Routing, error shapes, body parsing and the in-process API.

use serde_json::json;
use sesame::http::Request;
use sesame::{api, ApiInput};

use crate::support::{assert_error, http_client, json_body, Backend, TestApp, BASE};

fn unknown_route_is_404_json(t: &TestApp) {
    assert_error(&t.get("/nope", None), 404, "NOT_FOUND");
    assert_error(&t.get("/ok/", None), 404, "NOT_FOUND");
    assert_error(&t.send(Request::get("/api/auth//ok")), 404, "NOT_FOUND");
    assert_error(&t.send(Request::get("/elsewhere")), 404, "NOT_FOUND");
}

fn wrong_method_is_405_with_allow(t: &TestApp) {
    let resp = t.send(Request::new(sesame::http::Method::Delete, &format!("{BASE}/ok")));
    assert_error(&resp, 405, "METHOD_NOT_ALLOWED");
    assert_eq!(resp.header("allow"), Some("GET"));
    let resp = t.post("/get-session", json!({}));
    assert_error(&resp, 405, "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED");
}

fn bad_bodies(t: &TestApp) {
    let resp = t.send(Request::post(&format!("{BASE}/sign-in/email")).with_body("text/plain", b"hi"));
    assert_error(&resp, 415, "UNSUPPORTED_MEDIA_TYPE");
    let resp = t.send(Request::post(&format!("{BASE}/sign-in/email")).with_body("application/json", b"{bad"));
    assert_error(&resp, 400, "BAD_REQUEST");
    assert_eq!(json_body(&resp)["message"], "Invalid JSON in request body");
}

fn ok_endpoint(t: &TestApp) {
    let resp = t.get("/ok", None);
    assert_eq!(resp.status, 200);
    assert_eq!(json_body(&resp), json!({"ok": true}));
}

fn in_process_call_returns_data_headers_and_typed_errors(t: &TestApp) {
    let out = t
        .app
        .call_with_headers(
            "signUpEmail",
            ApiInput::new().body(json!({"name": "N", "email": "inproc@example.com", "password": "password123"})),
        )
        .unwrap();
    assert_eq!(out.status, 200);
    assert!(out
        .set_cookies()
        .iter()
        .any(|c| c.starts_with("better-auth.session_token=")));
    let cookie = out.set_cookies()[0].split(';').next().unwrap().to_string();
    let session = t
        .app
        .endpoint(&api::GET_SESSION)
        .header("cookie", &cookie)
        .send()
        .unwrap()
        .unwrap();
    assert_eq!(session.user.email, "inproc@example.com");

    let err = t
        .app
        .endpoint(&api::SIGN_IN_EMAIL)
        .body(api::SignInEmailBody {
            email: "inproc@example.com".into(),
            password: "wrong-password".into(),
            ..Default::default()
        })
        .send()
        .unwrap_err();
    assert_eq!(
        (err.status, err.status_name(), err.code.as_ref()),
        (401, "UNAUTHORIZED", "INVALID_EMAIL_OR_PASSWORD")
    );
    assert_eq!(t.app.call("noSuchKey", ApiInput::new()).unwrap_err().status, 404);
    let resp = t.app.call_as_response("ok", ApiInput::new());
    assert_eq!(resp.status, 200);
}

crate::suite!(
    unknown_route_is_404_json,
    wrong_method_is_405_with_allow,
    bad_bodies,
    ok_endpoint,
    in_process_call_returns_data_headers_and_typed_errors,
);

#[test]
fn over_the_socket_errors_are_json() {
    let t = TestApp::new(Backend::Memory);
    let server = http_client::spawn(t.app.clone());
    let resp = http_client::send(server.addr, "GET", "/api/auth/nope", &[], b"");
    assert_eq!(resp.status, 404);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(resp.json()["code"], "NOT_FOUND");
    let big = vec![b'a'; 2 << 20];
    let resp = http_client::send(
        server.addr,
        "POST",
        "/api/auth/sign-in/email",
        &[("content-type", "application/json")],
        &big,
    );
    assert_eq!(resp.status, 413);
    assert_eq!(resp.json()["code"], "PAYLOAD_TOO_LARGE");
    server.stop();
}

fn boom(_: &sesame::endpoint::Ctx<'_>, _: &Request) -> Result<sesame::http::Response, sesame::ApiError> {
    panic!("secret internal detail")
}

#[test]
fn a_panicking_handler_gives_500_json_without_internals() {
    let mut app = TestApp::new(Backend::Memory).app;
    let app_mut = std::sync::Arc::get_mut(&mut app).unwrap();
    static BOOM: sesame::endpoint::Endpoint =
        sesame::endpoint::Endpoint::new(sesame::http::Method::Get, "/boom", "boom", boom);
    app_mut.router = sesame::endpoint::Router::new(vec![&BOOM]).unwrap();
    let resp = app.handle_http(Request::get(&format!("{BASE}/boom")));
    assert_error(&resp, 500, "INTERNAL_SERVER_ERROR");
    assert!(!String::from_utf8_lossy(&resp.body).contains("secret internal detail"));
    let err = app.call("boom", ApiInput::new()).unwrap_err();
    assert_eq!(err.status, 500);
}
