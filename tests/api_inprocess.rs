//! The in-process API (Better Auth's `auth.api.*`): `call`, `call_with_headers`,
//! `call_as_response`, the typed function every endpoint's declaration gives
//! (`app.endpoint(&…)`: `send`, `with_headers`, `as_response`), and the typed `ApiError`.

use serde_json::{json, Value};
use sesame::api::{self, ChangePasswordBody, RevokeSessionBody, SignInEmailBody, SignUpEmailBody, UpdateUserBody};
use sesame::endpoint::NoInput;
use sesame::plugins::ALL_PLUGINS;
use sesame::{ApiError, ApiInput};

use crate::support::{json_body, Backend, TestApp, PASSWORD};

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
        .endpoint(&api::SIGN_IN_EMAIL)
        .body(SignInEmailBody {
            email: "nobody@example.com".into(),
            password: PASSWORD.into(),
            ..Default::default()
        })
        .send()
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

    let name = || UpdateUserBody {
        name: Some("x".into()),
        ..Default::default()
    };
    let err = t.app.endpoint(&api::UPDATE_USER).body(name()).send().unwrap_err();
    assert_eq!(
        (err.status, err.status_name(), err.code.as_ref()),
        (401, "UNAUTHORIZED", "UNAUTHORIZED")
    );
    let err = t.app.call("signUpEmail", ApiInput::new().body(json!({}))).unwrap_err();
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
        .endpoint(&api::UPDATE_USER)
        .header("cookie", &s.cookie)
        .body(name())
        .send()
        .unwrap_err();
    assert_eq!(err.status, 401);
    assert_eq!(err.cookies.len(), 3);
    assert!(err.cookies.iter().all(|c| c.is_deletion()));
    assert!(err.cookies.iter().all(|c| c.render().contains("Max-Age=0")));
}

/// The typed functions reach their endpoints and answer their typed data.
fn typed_functions_answer_typed_data(t: &TestApp) {
    let app = &t.app;
    assert!(app.endpoint(&api::OK).send().unwrap().ok);
    let up = app
        .endpoint(&api::SIGN_UP_EMAIL)
        .body(SignUpEmailBody {
            name: "T".into(),
            email: "typed@example.com".into(),
            password: PASSWORD.into(),
            ..Default::default()
        })
        .send()
        .unwrap();
    assert_eq!(up.user.email, "typed@example.com");
    let first = t.cookie_for(&up.token.unwrap());
    let signed = app
        .endpoint(&api::SIGN_IN_EMAIL)
        .body(SignInEmailBody {
            email: "typed@example.com".into(),
            password: PASSWORD.into(),
            ..Default::default()
        })
        .with_headers()
        .unwrap();
    assert_eq!((signed.status, signed.data.redirect), (200, false));
    assert!(signed.set_cookies()[0].starts_with("better-auth.session_token="));
    let second = t.cookie_for(&signed.data.token);
    let third = t.signed_in("typed@example.com", PASSWORD);

    let session = app.endpoint(&api::GET_SESSION).header("cookie", &first).send().unwrap();
    assert_eq!(session.unwrap().user.email, "typed@example.com");
    let sessions = app
        .endpoint(&api::LIST_SESSIONS)
        .header("cookie", &first)
        .send()
        .unwrap();
    assert_eq!(sessions.len(), 3);
    let renamed = UpdateUserBody {
        name: Some("Typed".into()),
        ..Default::default()
    };
    let status = app
        .endpoint(&api::UPDATE_USER)
        .header("cookie", &first)
        .body(renamed)
        .send();
    assert!(status.unwrap().status);
    let revoked = app
        .endpoint(&api::REVOKE_SESSION)
        .header("cookie", &first)
        .body(RevokeSessionBody {
            token: third.token.clone(),
        })
        .send()
        .unwrap();
    assert!(revoked.status);
    assert!(!t.session_exists(&third.token));
    let changed = app
        .endpoint(&api::CHANGE_PASSWORD)
        .header("cookie", &first)
        .body(ChangePasswordBody {
            new_password: "typed-password-2".into(),
            current_password: PASSWORD.into(),
            ..Default::default()
        })
        .send()
        .unwrap();
    assert_eq!((changed.token, changed.user.name.as_str()), (None, "Typed"));
    let others = app.endpoint(&api::REVOKE_OTHER_SESSIONS).header("cookie", &first);
    assert!(others.send().unwrap().status);
    let gone = app
        .endpoint(&api::GET_SESSION)
        .header("cookie", &second)
        .send()
        .unwrap();
    assert!(gone.is_none());
    assert!(
        app.endpoint(&api::REVOKE_SESSIONS)
            .header("cookie", &first)
            .send()
            .unwrap()
            .status
    );
    assert!(app
        .endpoint(&api::GET_SESSION)
        .header("cookie", &first)
        .send()
        .unwrap()
        .is_none());
    assert!(app.endpoint(&api::SIGN_OUT).send().unwrap().success);
    assert_eq!(t.sign_in("typed@example.com", "typed-password-2").status, 200);

    // asResponse: the whole response, errors rendered as over HTTP.
    let resp = app
        .endpoint(&api::ERROR)
        .query(api::ErrorPageQuery::default())
        .as_response();
    assert!(resp.header("content-type").unwrap().starts_with("text/html"));
    let html = app.endpoint(&api::ERROR).send().unwrap();
    assert!(html.contains("UNKNOWN"));
    let resp = app.endpoint(&api::UPDATE_SESSION).body(NoInput {}).as_response();
    assert_eq!(
        (resp.status, json_body(&resp)["code"].clone()),
        (401, json!("UNAUTHORIZED"))
    );
    // A plugin endpoint this app does not mount is 404, as over HTTP.
    let err = app.endpoint(&sesame::plugins::jwt::GET_TOKEN).send().unwrap_err();
    assert_eq!((err.status, err.code.as_ref()), (404, "NOT_FOUND"));
}

/// Every endpoint the router mounts, with every plugin enabled, has its typed in-process
/// function: called with default input it reaches the endpoint, and every successful answer
/// decodes as the declared answer type.
#[test]
fn every_route_has_its_typed_in_process_function() {
    let t = TestApp::with_config(Backend::Memory, |c| {
        c.plugins = ALL_PLUGINS.iter().map(|p| p.id.to_string()).collect()
    });
    let plugins = sesame::plugins::enabled(&t.app.config.plugins).unwrap();
    let declared = sesame::app::endpoints(&plugins);
    let routes = t.app.router.routes();
    assert_eq!(declared.len(), routes.len());
    for route in routes {
        let typed = declared.iter().find(|d| std::ptr::eq(d.endpoint(), *route));
        let typed = typed.unwrap_or_else(|| panic!("{} ({}) has no typed function", route.key, route.path));
        let run = |body: Value, query: Value| {
            let mut input = ApiInput::new().body(body);
            for (k, v) in query.as_object().unwrap() {
                input = input.query(k, v.as_str().unwrap());
            }
            for p in route.path.split('/').filter_map(|s| s.strip_prefix(':')) {
                input = input.param(p, "x");
            }
            t.app.call_as_response(route.key, input)
        };
        typed.call_with_defaults(&run).unwrap();
    }
}

/// `Answered::cookie_header` turns the answer's `set-cookie` lines into the next call's
/// `cookie` header; `ApiError::is` tells the error by its code.
fn answered_cookies_carry_the_session_and_errors_tell_their_code(t: &TestApp) {
    let signed_up = t
        .app
        .endpoint(&api::SIGN_UP_EMAIL)
        .body(SignUpEmailBody {
            name: "Cookie".into(),
            email: "cookie@example.com".into(),
            password: PASSWORD.into(),
            remember_me: Some(false),
            ..Default::default()
        })
        .with_headers()
        .unwrap();
    let cookie = signed_up.cookie_header();
    assert_eq!(cookie, cookie_from(&signed_up.headers));
    assert!(cookie.starts_with("better-auth.session_token=") && cookie.contains("; better-auth.dont_remember="));
    let session = t
        .app
        .endpoint(&api::GET_SESSION)
        .header("cookie", &cookie)
        .send()
        .unwrap()
        .unwrap();
    assert_eq!(session.user.id, signed_up.data.user.id);

    // Sign-out clears the cookies: nothing is left to carry.
    let signed_out = t
        .app
        .endpoint(&api::SIGN_OUT)
        .header("cookie", &cookie)
        .with_headers()
        .unwrap();
    assert!(!signed_out.set_cookies().is_empty());
    assert_eq!(signed_out.cookie_header(), "");

    let err = t
        .app
        .endpoint(&api::SIGN_IN_EMAIL)
        .body(SignInEmailBody {
            email: "cookie@example.com".into(),
            password: "not the password".into(),
            ..Default::default()
        })
        .send()
        .unwrap_err();
    assert!(err.is(sesame::error::codes::INVALID_EMAIL_OR_PASSWORD));
    assert!(!err.is(sesame::error::codes::USER_NOT_FOUND));
}

crate::suite!(
    answered_cookies_carry_the_session_and_errors_tell_their_code,
    call_returns_the_data,
    call_with_headers_returns_status_headers_and_cookies,
    call_as_response_renders_success_and_errors,
    errors_are_typed,
    typed_functions_answer_typed_data,
);
