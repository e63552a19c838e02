//! The in-process API (spec §13, Better Auth's `auth.api.*`): `call`, `call_with_headers`,
//! `call_as_response`, every typed wrapper of `app.api()`, and the typed `ApiError`.

use serde_json::{json, Value};
use sesame::{ApiError, ApiInput};

use crate::support::{json_body, TestApp, PASSWORD};

fn cookie_from(headers: &[(String, String)]) -> String {
    headers
        .iter()
        .filter(|(k, v)| k == "set-cookie" && !v.contains("Max-Age=0"))
        .map(|(_, v)| v.split(';').next().unwrap())
        .collect::<Vec<_>>()
        .join("; ")
}

fn call_returns_the_data(t: &TestApp) {
    assert_eq!(t.app.call("ok", ApiInput::new()).unwrap(), json!({"ok": true}));
    // get-session signed out is JSON null.
    assert_eq!(t.app.call("getSession", ApiInput::new()).unwrap(), Value::Null);
    let data = t
        .app
        .call(
            "signUpEmail",
            ApiInput::new().body(json!({"name": "In", "email": "in@example.com", "password": PASSWORD})),
        )
        .unwrap();
    assert_eq!(data["user"]["email"], "in@example.com");
    assert!(data["token"].is_string());
}

fn call_with_headers_returns_status_headers_and_cookies(t: &TestApp) {
    let out = t
        .app
        .call_with_headers(
            "signUpEmail",
            ApiInput::new()
                .body(json!({"name": "H", "email": "h@example.com", "password": PASSWORD, "rememberMe": false})),
        )
        .unwrap();
    assert_eq!(out.status, 200);
    let token = out.data["token"].as_str().unwrap().to_string();
    assert!(out
        .headers
        .contains(&("content-type".to_string(), "application/json".to_string())));
    let cookies = out.set_cookies();
    assert_eq!(cookies.len(), 2);
    assert!(cookies[0].starts_with("better-auth.session_token=") && !cookies[0].contains("Max-Age"));
    assert!(cookies[1].starts_with("better-auth.dont_remember=true."));
    let cookie = cookie_from(&out.headers);

    let out = t
        .app
        .call_with_headers(
            "getSession",
            ApiInput::new()
                .header("Cookie", &cookie)
                .query("disableRefresh", "true"),
        )
        .unwrap();
    assert_eq!(out.status, 200);
    assert_eq!(out.data["session"]["token"], token.as_str());
    assert_eq!(out.data["user"]["email"], "h@example.com");
    assert!(out
        .headers
        .contains(&("cache-control".to_string(), "no-store".to_string())));

    let out = t
        .app
        .call_with_headers("signOut", ApiInput::new().header("cookie", &cookie))
        .unwrap();
    assert_eq!(out.data, json!({"success": true}));
    assert_eq!(out.set_cookies().len(), 3);
    assert!(out.set_cookies().iter().all(|c| c.contains("Max-Age=0")));
}

fn call_as_response_renders_success_and_errors(t: &TestApp) {
    let resp = t.app.call_as_response("ok", ApiInput::new());
    assert_eq!((resp.status, json_body(&resp)), (200, json!({"ok": true})));
    let resp = t.app.call_as_response(
        "signInEmail",
        ApiInput::new().body(json!({"email": "nobody@example.com", "password": PASSWORD})),
    );
    assert_eq!(resp.status, 401);
    assert_eq!(
        json_body(&resp),
        json!({"message": "Invalid email or password", "code": "INVALID_EMAIL_OR_PASSWORD", "status": 401})
    );
    let resp = t
        .app
        .call_as_response("changePassword", ApiInput::new().body(json!({})));
    assert_eq!(resp.status, 400);
    assert_eq!(json_body(&resp)["code"], "VALIDATION_ERROR");
    let resp = t.app.call_as_response("noSuchEndpoint", ApiInput::new());
    assert_eq!(
        (resp.status, json_body(&resp)["code"].as_str()),
        (404, Some("NOT_FOUND"))
    );
    let resp = t.app.call_as_response("error", ApiInput::new().query("error", "<x>"));
    assert_eq!(resp.status, 200);
    assert!(resp.header("content-type").unwrap().starts_with("text/html"));
}

fn errors_are_typed(t: &TestApp) {
    let err: ApiError = t
        .app
        .api()
        .sign_in_email(ApiInput::new().body(json!({"email": "nobody@example.com", "password": PASSWORD})))
        .unwrap_err();
    assert_eq!(err.status, 401);
    assert_eq!(err.status_name(), "UNAUTHORIZED");
    assert_eq!(err.code, "INVALID_EMAIL_OR_PASSWORD");
    assert_eq!(err.message, "Invalid email or password");
    assert_eq!(
        err.body_json(),
        json!({"message": "Invalid email or password", "code": "INVALID_EMAIL_OR_PASSWORD", "status": 401})
    );
    assert_eq!(
        err.to_string(),
        "401 UNAUTHORIZED INVALID_EMAIL_OR_PASSWORD: Invalid email or password"
    );

    let err = t
        .app
        .api()
        .update_user(ApiInput::new().body(json!({"name": "x"})))
        .unwrap_err();
    assert_eq!(
        (err.status, err.status_name(), err.code.as_ref()),
        (401, "UNAUTHORIZED", "UNAUTHORIZED")
    );
    let err = t.app.api().sign_up_email(ApiInput::new().body(json!({}))).unwrap_err();
    assert_eq!(
        (err.status, err.status_name(), err.code.as_ref()),
        (400, "BAD_REQUEST", "VALIDATION_ERROR")
    );
    assert!(err.message.starts_with("[body.name] Invalid input"));
    let err = t.app.call("noSuchKey", ApiInput::new()).unwrap_err();
    assert_eq!((err.status, err.code.as_ref()), (404, "NOT_FOUND"));

    // Errors keep the cookies set on the way: an expired session's clearing cookies.
    let s = t.signed_up("exp@example.com");
    t.clock.advance(time::Duration::days(8));
    let err = t
        .app
        .api()
        .update_user(ApiInput::new().header("cookie", &s.cookie).body(json!({"name": "x"})))
        .unwrap_err();
    assert_eq!(err.status, 401);
    assert_eq!(err.cookies.len(), 3);
    assert!(err.cookies.iter().all(|c| c.is_deletion()));
    assert!(err.cookies.iter().all(|c| c.render().contains("Max-Age=0")));
}

/// Every typed wrapper reaches its endpoint and returns that endpoint's data.
fn typed_wrappers_cover_the_core_endpoints(t: &TestApp) {
    let api = t.app.api();
    assert_eq!(api.ok(ApiInput::new()).unwrap(), json!({"ok": true}));
    let up = api
        .sign_up_email(ApiInput::new().body(json!({"name": "T", "email": "typed@example.com", "password": PASSWORD})))
        .unwrap();
    assert_eq!(up["user"]["email"], "typed@example.com");
    let first = t.cookie_for(up["token"].as_str().unwrap());
    let signed = api
        .sign_in_email(ApiInput::new().body(json!({"email": "typed@example.com", "password": PASSWORD})))
        .unwrap();
    assert_eq!(signed["redirect"], false);
    let second = t.cookie_for(signed["token"].as_str().unwrap());
    let third = t.signed_in("typed@example.com", PASSWORD);
    let with = |c: &str| ApiInput::new().header("cookie", c);

    assert_eq!(
        api.get_session(with(&first)).unwrap()["user"]["email"],
        "typed@example.com"
    );
    assert_eq!(api.list_sessions(with(&first)).unwrap().as_array().unwrap().len(), 3);
    assert_eq!(
        api.update_user(with(&first).body(json!({"name": "Typed"}))).unwrap(),
        json!({"status": true})
    );
    assert_eq!(
        api.verify_password(with(&first).body(json!({"password": PASSWORD})))
            .unwrap(),
        json!({"status": true})
    );
    assert_eq!(
        api.revoke_session(with(&first).body(json!({"token": third.token})))
            .unwrap(),
        json!({"status": true})
    );
    assert!(!t.session_exists(&third.token));
    let changed = api
        .change_password(with(&first).body(json!({"newPassword": "typed-password-2", "currentPassword": PASSWORD})))
        .unwrap();
    assert_eq!(
        (changed["token"].clone(), changed["user"]["name"].clone()),
        (Value::Null, json!("Typed"))
    );
    assert_eq!(
        api.revoke_other_sessions(with(&first)).unwrap(),
        json!({"status": true})
    );
    assert!(api.get_session(with(&second)).unwrap().is_null());
    assert_eq!(api.revoke_sessions(with(&first)).unwrap(), json!({"status": true}));
    assert!(api.get_session(with(&first)).unwrap().is_null());
    assert_eq!(api.sign_out(ApiInput::new()).unwrap(), json!({"success": true}));
    assert_eq!(t.sign_in("typed@example.com", "typed-password-2").status, 200);
}

crate::suite!(
    call_returns_the_data,
    call_with_headers_returns_status_headers_and_cookies,
    call_as_response_renders_success_and_errors,
    errors_are_typed,
    typed_wrappers_cover_the_core_endpoints,
);
