//! Origin and CSRF rules: the router-level Origin check on cookie-bearing requests to every
//! state-changing route of the table, the Fetch-Metadata rules of sign-in and sign-up, trusted-origin patterns,
//! callbackURL validation, the order these run in, and that in-process calls skip them.

use serde_json::json;
use sesame::ApiInput;

use crate::support::wire::{assert_error_message, assert_validation};
use crate::support::{assert_error, json_body, TestApp, ORIGIN, PASSWORD};

const EVIL: &str = "http://evil.com";

fn cookie_bearing_posts_need_a_trusted_origin(t: &TestApp) {
    let s = t.signed_up("csrf@example.com");
    let c = s.cookie.as_str();
    let body = || json!({"name": "Changed"});
    let post = |headers: &[(&str, &str)]| t.post_headers("/update-user", body(), headers);

    assert_error_message(
        &post(&[("cookie", c)]),
        403,
        "MISSING_OR_NULL_ORIGIN",
        "Missing or null Origin",
    );
    assert_error(
        &post(&[("cookie", c), ("origin", "null")]),
        403,
        "MISSING_OR_NULL_ORIGIN",
    );
    assert_error_message(
        &post(&[("cookie", c), ("origin", EVIL)]),
        403,
        "INVALID_ORIGIN",
        "Invalid origin",
    );
    assert_error(
        &post(&[("cookie", c), ("referer", "http://evil.com/page")]),
        403,
        "INVALID_ORIGIN",
    );
    // Origin wins over Referer.
    assert_error(
        &post(&[("cookie", c), ("origin", EVIL), ("referer", "http://localhost:3000/x")]),
        403,
        "INVALID_ORIGIN",
    );
    // Port and scheme are part of the origin.
    assert_error(
        &post(&[("cookie", c), ("origin", "http://localhost:3001")]),
        403,
        "INVALID_ORIGIN",
    );
    assert_error(
        &post(&[("cookie", c), ("origin", "https://localhost:3000")]),
        403,
        "INVALID_ORIGIN",
    );
    // Nothing was changed by the refused requests.
    assert_eq!(t.session_of(c)["user"]["name"], "Test User");

    // A trusted Referer is enough (matched by its origin), and so is the Origin.
    assert_eq!(
        post(&[("cookie", c), ("referer", "http://localhost:3000/settings?x=1")]).status,
        200
    );
    assert_eq!(post(&[("cookie", c), ("origin", ORIGIN)]).status, 200);
    // A same-origin fetch whose Origin is "null" is checked against the addressed origin.
    let same_origin = [("cookie", c), ("origin", "null"), ("sec-fetch-site", "same-origin")];
    assert_eq!(
        post(&[
            same_origin[0],
            same_origin[1],
            same_origin[2],
            ("host", "localhost:3000")
        ])
        .status,
        200
    );
    assert_error(
        &post(&[same_origin[0], same_origin[1], same_origin[2], ("host", "evil.com")]),
        403,
        "INVALID_ORIGIN",
    );
    assert_error(&post(&same_origin), 403, "MISSING_OR_NULL_ORIGIN");
    // Only the pair (Origin: null, Sec-Fetch-Site: same-origin) falls back to the Host: an
    // untrusted Origin stays untrusted whatever Sec-Fetch-Site says, and a null Origin without
    // same-origin stays missing whatever the Host.
    let host = ("host", "localhost:3000");
    assert_error(
        &post(&[("cookie", c), ("origin", EVIL), ("sec-fetch-site", "same-origin"), host]),
        403,
        "INVALID_ORIGIN",
    );
    for site in ["cross-site", "same-site", "none"] {
        assert_error(
            &post(&[("cookie", c), ("origin", "null"), ("sec-fetch-site", site), host]),
            403,
            "MISSING_OR_NULL_ORIGIN",
        );
    }
    assert_error(
        &post(&[("cookie", c), ("origin", "null"), host]),
        403,
        "MISSING_OR_NULL_ORIGIN",
    );

    // Sign-out gets the check too (every state-changing route: the sweep above).
    assert_error(
        &t.post_headers("/sign-out", json!({}), &[("cookie", c)]),
        403,
        "MISSING_OR_NULL_ORIGIN",
    );
    assert!(t.session_exists(&s.token));
    // Without cookies there is nothing to forge: curl-style POSTs pass.
    assert_eq!(t.post_headers("/sign-out", json!({}), &[("origin", EVIL)]).status, 200);
    // GET requests are never checked.
    let resp = t.send(
        sesame::http::Request::get("/api/auth/get-session")
            .with_header("cookie", c)
            .with_header("origin", EVIL),
    );
    assert_eq!(json_body(&resp)["session"]["token"], s.token.as_str());
}

fn origin_check_runs_before_validation(t: &TestApp) {
    let s = t.signed_up("order@example.com");
    // With cookies, the router-level check wins over a bad body…
    assert_error(
        &t.post_headers("/update-user", json!([]), &[("cookie", &s.cookie)]),
        403,
        "MISSING_OR_NULL_ORIGIN",
    );
    assert_error(
        &t.post_headers("/sign-in/email", json!({}), &[("cookie", "a=b"), ("origin", EVIL)]),
        403,
        "INVALID_ORIGIN",
    );
    // …but sign-in's own Fetch-Metadata check runs after validation.
    assert_validation(
        &t.post_headers("/sign-in/email", json!({}), &[("origin", EVIL)]),
        "[body.email] Invalid input: expected string, received undefined; [body.password] Invalid input: expected string, received undefined",
    );
}

fn sign_in_and_sign_up_fetch_metadata_rules(t: &TestApp) {
    t.signed_up("fm@example.com");
    let creds = || json!({"email": "fm@example.com", "password": PASSWORD});
    let sign_in = |headers: &[(&str, &str)]| t.post_headers("/sign-in/email", creds(), headers);

    let blocked = sign_in(&[("sec-fetch-site", "cross-site"), ("sec-fetch-mode", "navigate")]);
    assert_error_message(
        &blocked,
        403,
        "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED",
        "Cross-site navigation login blocked. This request appears to be a CSRF attack.",
    );
    assert!(blocked.set_cookies().is_empty());
    // Other Fetch-Metadata requests must then carry a trusted Origin or Referer.
    assert_error(
        &sign_in(&[("sec-fetch-site", "cross-site"), ("sec-fetch-mode", "cors")]),
        403,
        "MISSING_OR_NULL_ORIGIN",
    );
    assert_error(
        &sign_in(&[("sec-fetch-site", "same-origin")]),
        403,
        "MISSING_OR_NULL_ORIGIN",
    );
    assert_error(
        &sign_in(&[("sec-fetch-dest", "document")]),
        403,
        "MISSING_OR_NULL_ORIGIN",
    );
    assert_error(
        &sign_in(&[("sec-fetch-site", "cross-site"), ("origin", EVIL)]),
        403,
        "INVALID_ORIGIN",
    );
    assert_eq!(
        sign_in(&[
            ("sec-fetch-site", "same-origin"),
            ("sec-fetch-mode", "cors"),
            ("origin", ORIGIN)
        ])
        .status,
        200
    );
    assert_eq!(
        sign_in(&[
            ("sec-fetch-site", "same-origin"),
            ("origin", "null"),
            ("host", "localhost:3000")
        ])
        .status,
        200
    );
    // No cookies, no Fetch-Metadata: an Origin or Referer present is still checked.
    assert_error(&sign_in(&[("origin", EVIL)]), 403, "INVALID_ORIGIN");
    assert_error(&sign_in(&[("referer", "http://evil.com/login")]), 403, "INVALID_ORIGIN");
    assert_eq!(sign_in(&[("referer", "http://localhost:3000/login")]).status, 200);
    // Nothing at all (curl, server-to-server): allowed.
    assert_eq!(sign_in(&[]).status, 200);
    // With cookies, a cross-site navigation with a trusted Origin is an Origin check only.
    assert_eq!(
        sign_in(&[
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "navigate"),
            ("cookie", "a=b"),
            ("origin", ORIGIN)
        ])
        .status,
        200
    );

    let sign_up = t.post_headers(
        "/sign-up/email",
        json!({"name": "X", "email": "xsite@example.com", "password": PASSWORD}),
        &[("sec-fetch-site", "cross-site"), ("sec-fetch-mode", "navigate")],
    );
    assert_error(&sign_up, 403, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED");
    assert!(t.storage().find_user_by_email("xsite@example.com").unwrap().is_none());
    // Form posts get the same rules.
    let resp = t.post_raw(
        "/sign-in/email",
        "application/x-www-form-urlencoded",
        b"email=fm%40example.com&password=correct-horse-battery",
        &[("sec-fetch-site", "cross-site"), ("sec-fetch-mode", "navigate")],
    );
    assert_error(&resp, 403, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED");
}

fn trusted_origins_from_configuration(t: &TestApp) {
    let t = TestApp::with_config(t.backend, |c| {
        c.trusted_origins = vec![
            "https://app.example.com".into(),
            "*.wild.test".into(),
            "https://*.corp.test".into(),
        ];
    });
    let s = t.signed_up("trust@example.com");
    let post = |origin: &str| {
        t.post_headers(
            "/update-user",
            json!({"name": "T"}),
            &[("cookie", &s.cookie), ("origin", origin)],
        )
    };
    for ok in [
        ORIGIN,
        "https://app.example.com",
        "https://a.wild.test",
        "http://b.c.wild.test",
        "https://x.corp.test",
    ] {
        assert_eq!(post(ok).status, 200, "{ok}");
    }
    for bad in [
        "https://app.example.com.evil.com",
        "http://app.example.com",
        "http://x.corp.test",
        "https://wild.test.evil.com",
    ] {
        assert_error(&post(bad), 403, "INVALID_ORIGIN");
    }
    // The same list allows absolute callback URLs.
    let resp = t.post(
        "/sign-in/email",
        json!({"email": "trust@example.com", "password": PASSWORD, "callbackURL": "https://app.example.com/home"}),
    );
    assert_eq!(resp.header("location"), Some("https://app.example.com/home"));
}

fn callback_url_validation(t: &TestApp) {
    t.signed_up("cb@example.com");
    let with_callback = |cb: serde_json::Value| {
        t.post(
            "/sign-in/email",
            json!({"email": "cb@example.com", "password": PASSWORD, "callbackURL": cb}),
        )
    };
    for bad in [
        "//evil.com",
        "//evil.com/path",
        "https://evil.com/x",
        "http://localhost:3000.evil.com/",
        "/\\evil.com",
        "/%2fevil.com",
        "/a/%2F/b",
        "javascript:alert(1)",
        "evil.com",
    ] {
        let resp = with_callback(json!(bad));
        assert_error_message(&resp, 403, "INVALID_CALLBACK_URL", "Invalid callbackURL");
        assert!(resp.set_cookies().is_empty(), "{bad}");
    }
    // Relative paths as Better Auth 1.7.25 resolves them, and trusted absolute URLs; the
    // Location percent-encoded as Better Auth's `new URL` writes it.
    for (good, wire) in [
        ("/", "/"),
        ("/dashboard?tab=1&x=%2F", "/dashboard?tab=1&x=%2F"),
        ("/a b", "/a%20b"),
        ("/a#frag", "/a#frag"),
        ("http://localhost:3000/x", "http://localhost:3000/x"),
    ] {
        let resp = with_callback(json!(good));
        assert_eq!(resp.status, 200, "{good}");
        assert_eq!(resp.header("location"), Some(wire));
    }
    // A non-string is 400 before validation; Better Auth has no code, Sesame names one.
    for bad in [json!(5), json!(["/a"]), json!({"u": "/a"}), json!(true)] {
        let resp = with_callback(bad);
        assert_error_message(
            &resp,
            400,
            "INVALID_URL_FIELD",
            "Invalid callbackURL: expected a string",
        );
    }
    let resp = t.post(
        "/sign-in/email",
        json!({"email": 5, "password": PASSWORD, "callbackURL": 7}),
    );
    assert_error_message(
        &resp,
        400,
        "INVALID_URL_FIELD",
        "Invalid callbackURL: expected a string",
    );
    // Falsy non-strings are left to the schema.
    assert_validation(
        &with_callback(json!(0)),
        "[body.callbackURL] Invalid input: expected string, received number",
    );
    assert_validation(
        &with_callback(json!(null)),
        "[body.callbackURL] Invalid input: expected string, received null",
    );
    // The query's callbackURL is checked too, on any POST.
    let resp = t.send(
        sesame::http::Request::post("/api/auth/sign-in/email?callbackURL=https%3A%2F%2Fevil.com")
            .with_json(&json!({"email": "cb@example.com", "password": PASSWORD})),
    );
    assert_error(&resp, 403, "INVALID_CALLBACK_URL");
    let resp = t.post("/sign-out", json!({"callbackURL": "https://evil.com"}));
    assert_error(&resp, 403, "INVALID_CALLBACK_URL");
}

fn in_process_calls_skip_the_router_level_checks(t: &TestApp) {
    let s = t.signed_up("inproc@example.com");
    // A cookie and no Origin: refused over HTTP, fine in-process.
    let data = t
        .app
        .call(
            "updateUser",
            ApiInput::new()
                .header("cookie", &s.cookie)
                .body(json!({"name": "In Process"})),
        )
        .unwrap();
    assert_eq!(data, json!({"status": true}));
    assert_eq!(t.session_of(&s.cookie)["user"]["name"], "In Process");
    let data = t
        .app
        .call(
            "updateUser",
            ApiInput::new()
                .header("cookie", &s.cookie)
                .header("origin", EVIL)
                .body(json!({"name": "Evil Origin"})),
        )
        .unwrap();
    assert_eq!(data, json!({"status": true}));
    // Sign-in's Fetch-Metadata rule and the callbackURL check are HTTP-only too.
    let out = t
        .app
        .call(
            "signInEmail",
            ApiInput::new()
                .header("sec-fetch-site", "cross-site")
                .header("sec-fetch-mode", "navigate")
                .body(json!({"email": "inproc@example.com", "password": PASSWORD, "callbackURL": "https://elsewhere.example/x"})),
        )
        .unwrap();
    assert_eq!(out["redirect"], true);
    assert_eq!(out["url"], "https://elsewhere.example/x");
    // Validation still applies.
    let err = t
        .app
        .call(
            "updateUser",
            ApiInput::new().header("cookie", &s.cookie).body(json!([])),
        )
        .unwrap_err();
    assert_eq!((err.status, err.code.as_ref()), (400, "VALIDATION_ERROR"));
}

/// Every state-changing route of the route table (every method but GET, HEAD and OPTIONS) on
/// the app with every route (all plugins, every flow, providers configured), path parameters
/// filled with real values: a request carrying the session cookie without a trusted Origin is
/// refused (no Origin, an untrusted Origin, an untrusted Referer), and no table and no outbox
/// changed.
fn every_state_changing_route_refuses_cookies_without_a_trusted_origin(t: &TestApp) {
    use crate::support::everything::{self, PathValues};
    use sesame::http::{Method, Request};
    let all = everything::app(t.backend);
    let t = &all.t;
    let s = t.signed_up("csrf-all@example.com");
    let values = PathValues::for_user(t, "csrf-all@example.com");
    let before = t.db_snapshot();
    assert_eq!(before.mail.len(), 1, "the reset email");
    if t.backend != crate::support::Backend::Memory {
        assert_eq!(before.tables["user"].len(), 1);
        assert_eq!(before.tables["verification"].len(), 1, "the reset token");
    }
    let routes: Vec<_> = t
        .app
        .router
        .routes()
        .iter()
        .filter(|r| !matches!(r.method, Method::Get | Method::Head | Method::Options))
        .collect();
    // The sweep is over the real table: sign-up, sign-in, the plugins', change-email,
    // delete-user, the OAuth callback's form_post…
    for key in [
        "signUpEmail",
        "signInUsername",
        "changeEmail",
        "deleteUser",
        "callbackOAuthPost",
    ] {
        assert!(routes.iter().any(|r| r.key == key), "{key} is not swept");
    }
    let mut checked = 0;
    for route in &routes {
        let path = everything::fill(route.path, &values);
        for (extra, code) in [
            (None, "MISSING_OR_NULL_ORIGIN"),
            (Some(("origin", EVIL)), "INVALID_ORIGIN"),
            (Some(("origin", "null")), "MISSING_OR_NULL_ORIGIN"),
            (Some(("referer", "http://evil.com/form")), "INVALID_ORIGIN"),
        ] {
            let mut req = Request::new(route.method.clone(), &format!("{}{path}", crate::support::BASE))
                .with_json(&json!({}))
                .with_header("cookie", &s.cookie);
            if let Some((name, value)) = extra {
                req = req.with_header(name, value);
            }
            let resp = t.send(req);
            assert_eq!(
                (resp.status, json_body(&resp)["code"].as_str()),
                (403, Some(code)),
                "{} {path} with {extra:?}",
                route.method.as_str()
            );
            checked += 1;
        }
    }
    assert_eq!(t.db_snapshot(), before, "a refused request changed something");
    assert!(t.session_exists(&s.token));
    println!(
        "csrf: {checked} refused requests over {} state-changing routes",
        routes.len()
    );
}

crate::suite!(
    every_state_changing_route_refuses_cookies_without_a_trusted_origin,
    cookie_bearing_posts_need_a_trusted_origin,
    origin_check_runs_before_validation,
    sign_in_and_sign_up_fetch_metadata_rules,
    trusted_origins_from_configuration,
    callback_url_validation,
    in_process_calls_skip_the_router_level_checks,
);
