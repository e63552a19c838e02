//! The magic-link plugin on every backend, over the HTTP pipeline and in-process: the emailed
//! link and its row, sign-up of a new address (and its refusal when disabled), single use
//! (also under concurrency), expiry, wrong tokens, hostile callback URLs, an unverified
//! account's earlier access revoked by the proof, form CSRF, the rate-limit rule, hashed
//! token storage.

use serde_json::{json, Value};
use sesame::http::{Request, Response};
use sesame::mail::{Mail, MailKind};
use sesame::storage::models::Verification;
use sesame::ApiInput;

use crate::support::{assert_error, cookie_header, json_body, set_cookie, Backend, TestApp, BASE, ORIGIN, PASSWORD};

const EMAIL: &str = "ada@example.com";

fn app(backend: Backend) -> TestApp {
    app_with(backend, |_| {})
}

fn app_with(backend: Backend, adjust: impl FnOnce(&mut sesame::Config)) -> TestApp {
    TestApp::with_config(backend, |c| {
        c.plugins = vec!["magic-link".to_string()];
        adjust(c);
    })
}

/// Asks for a link and returns the email that carries it.
fn request_link(t: &TestApp, body: Value) -> Mail {
    let to = body["email"].as_str().unwrap().to_ascii_lowercase();
    let resp = t.post("/sign-in/magic-link", body);
    assert_eq!(resp.status, 200, "{}", crate::support::body_text(&resp));
    assert_eq!(json_body(&resp), json!({"status": true}));
    t.mail_to(MailKind::MagicLink, &to)
}

fn location(resp: &Response) -> &str {
    assert_eq!(resp.status, 302, "{}", crate::support::body_text(resp));
    resp.header("location").expect("a Location header")
}

fn session_user(t: &TestApp, cookies: &str) -> Value {
    json_body(&t.get("/get-session", Some(cookies)))["user"].clone()
}

fn a_link_signs_up_a_new_address_and_redirects_to_the_new_user_callback(backend: Backend) {
    let t = app(backend);
    let mail = request_link(
        &t,
        json!({"email": "Ada@Example.com", "name": "Ada", "callbackURL": "/dash", "newUserCallbackURL": "/welcome"}),
    );
    // 32 letters, in the link with the callbacks, as Better Auth builds it.
    assert!(mail.token.len() == 32 && mail.token.chars().all(|c| c.is_ascii_alphabetic()));
    assert_eq!(
        mail.url,
        format!(
            "{ORIGIN}{BASE}/magic-link/verify?token={}&callbackURL=%2Fdash&newUserCallbackURL=%2Fwelcome",
            mail.token
        )
    );
    assert_eq!(mail.kind.as_str(), "magic-link");
    assert!(mail.text.contains(&mail.url));
    // The row as Better Auth writes it: plain token in the identifier, the record as value.
    let row = t
        .storage()
        .find_verification(&format!("magic-link:{}", mail.token))
        .unwrap()
        .expect("the pending link's row");
    assert_eq!(
        row.value,
        r#"{"type":"magic-link","email":"ada@example.com","name":"Ada"}"#
    );
    assert_eq!(row.expires_at - row.created_at, time::Duration::minutes(5));
    assert!(
        t.storage().find_user_by_email(EMAIL).unwrap().is_none(),
        "no user before the link is opened"
    );

    let resp = t.open_link(&mail.url, None);
    assert_eq!(location(&resp), format!("{ORIGIN}/welcome"));
    assert!(set_cookie(&resp, "better-auth.session_token").is_some_and(|c| c.contains("Max-Age=604800")));
    let user = t
        .storage()
        .find_user_by_email(EMAIL)
        .unwrap()
        .expect("the link signed Ada up");
    assert!(user.email_verified);
    assert_eq!(user.name, "Ada");
    assert!(
        t.storage().list_user_accounts(&user.id).unwrap().is_empty(),
        "a passwordless user"
    );
    assert_eq!(session_user(&t, &cookie_header(&resp))["email"], EMAIL);
    assert!(t.storage().find_verification(&row.identifier).unwrap().is_none());
}

fn a_link_for_an_existing_user_redirects_to_the_callback(backend: Backend) {
    let t = app(backend);
    t.sign_up(EMAIL);
    t.mark_verified(EMAIL);
    let mail = request_link(
        &t,
        json!({"email": EMAIL, "name": "Other", "callbackURL": "/dash", "newUserCallbackURL": "/welcome"}),
    );
    let resp = t.open_link(&mail.url, None);
    assert_eq!(location(&resp), format!("{ORIGIN}/dash"));
    let user = t.storage().find_user_by_email(EMAIL).unwrap().unwrap();
    assert_eq!(user.name, "Test User", "the name only names a new user");
    // A verified user keeps their password.
    assert_eq!(t.sign_in(EMAIL, PASSWORD).status, 200);
    assert_eq!(session_user(&t, &cookie_header(&resp))["id"], user.id.as_str());
}

fn without_a_callback_the_link_answers_json(backend: Backend) {
    let t = app(backend);
    let mail = request_link(&t, json!({"email": EMAIL}));
    assert!(mail.url.ends_with("&callbackURL=%2F"), "{}", mail.url);
    // The link as a client calls it, without the callbackURL it carries.
    let resp = t.get(&format!("/magic-link/verify?token={}", mail.token), None);
    assert_eq!(resp.status, 200);
    let body = json_body(&resp);
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["token", "user", "session"]
    );
    assert_eq!(body["user"]["email"], EMAIL);
    assert_eq!(body["user"]["name"], "");
    assert_eq!(body["user"]["emailVerified"], true);
    assert_eq!(body["session"]["token"], body["token"]);
    assert_eq!(body["session"]["userId"], body["user"]["id"]);
    let cookie = set_cookie(&resp, "better-auth.session_token").unwrap();
    assert!(cookie.starts_with(&format!(
        "better-auth.session_token={}.",
        body["token"].as_str().unwrap()
    )));
}

fn a_link_works_once(backend: Backend) {
    let t = app(backend);
    let mail = request_link(&t, json!({"email": EMAIL, "callbackURL": "/dash?tab=1"}));
    assert_eq!(t.open_link(&mail.url, None).status, 302);
    let again = t.open_link(&mail.url, None);
    assert_eq!(location(&again), format!("{ORIGIN}/dash?tab=1&error=INVALID_TOKEN"));
    assert!(again.set_cookies().is_empty(), "no session for a spent link");
    let user = t.storage().find_user_by_email(EMAIL).unwrap().unwrap();
    assert_eq!(t.storage().list_user_sessions(&user.id).unwrap().len(), 1);
}

fn a_link_opened_twice_at_once_signs_in_once(backend: Backend) {
    let t = app(backend);
    let mail = request_link(&t, json!({"email": EMAIL, "callbackURL": "/dash"}));
    let answers: Vec<Response> = std::thread::scope(|s| {
        let opens: Vec<_> = (0..4).map(|_| s.spawn(|| t.open_link(&mail.url, None))).collect();
        opens.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let signed_in = answers
        .iter()
        .filter(|r| set_cookie(r, "better-auth.session_token").is_some())
        .count();
    assert_eq!(signed_in, 1);
    for r in answers
        .iter()
        .filter(|r| set_cookie(r, "better-auth.session_token").is_none())
    {
        assert_eq!(location(r), format!("{ORIGIN}/dash?error=INVALID_TOKEN"));
    }
    let user = t.storage().find_user_by_email(EMAIL).unwrap().unwrap();
    assert_eq!(t.storage().list_user_sessions(&user.id).unwrap().len(), 1);
}

fn a_link_expires_after_five_minutes(backend: Backend) {
    let t = app(backend);
    let fresh = request_link(&t, json!({"email": EMAIL, "callbackURL": "/dash"}));
    t.clock.advance(time::Duration::seconds(299));
    assert_eq!(location(&t.open_link(&fresh.url, None)), format!("{ORIGIN}/dash"));

    let stale = request_link(&t, json!({"email": "grace@example.com", "callbackURL": "/dash"}));
    t.clock.advance(time::Duration::seconds(300));
    let resp = t.open_link(&stale.url, None);
    assert_eq!(location(&resp), format!("{ORIGIN}/dash?error=INVALID_TOKEN"));
    assert!(resp.set_cookies().is_empty());
    assert!(t.storage().find_user_by_email("grace@example.com").unwrap().is_none());
    // The expired row is gone, not left to be retried.
    let identifier = format!("magic-link:{}", stale.token);
    assert!(t.storage().find_verification(&identifier).unwrap().is_none());
}

fn the_lifetime_follows_the_configuration(backend: Backend) {
    let t = app_with(backend, |c| c.magic_link.expires_in = 60);
    let mail = request_link(&t, json!({"email": EMAIL, "callbackURL": "/dash"}));
    assert!(mail.text.contains("1 minute"), "{}", mail.text);
    t.clock.advance(time::Duration::seconds(61));
    assert_eq!(
        location(&t.open_link(&mail.url, None)),
        format!("{ORIGIN}/dash?error=INVALID_TOKEN")
    );
}

fn wrong_tokens_redirect_with_invalid_token_and_change_nothing(backend: Backend) {
    let t = app(backend);
    let mail = request_link(&t, json!({"email": EMAIL}));
    // Rows of the magic-link shape that are not a link Sesame wrote, and a token of another kind.
    for (identifier, value) in [
        ("magic-link:notarecord", "user-id"),
        (
            "magic-link:othertype",
            r#"{"type":"email-otp","email":"ada@example.com"}"#,
        ),
        (
            "magic-link:badaddress",
            r#"{"type":"magic-link","email":"not-an-address"}"#,
        ),
    ] {
        t.storage()
            .create_verification(&Verification {
                id: identifier.replace(':', "-"),
                identifier: identifier.to_string(),
                value: value.to_string(),
                expires_at: t.clock_now() + time::Duration::minutes(5),
                created_at: t.clock_now(),
                updated_at: t.clock_now(),
            })
            .unwrap();
    }
    let mut wrong = mail.token.clone();
    wrong.replace_range(0..1, if wrong.starts_with('a') { "b" } else { "a" });
    for token in [
        wrong.as_str(),
        &mail.token.to_lowercase(),
        &mail.token[..31],
        "",
        "notarecord",
        "othertype",
        "badaddress",
        "%20",
        "magic-link:x",
    ] {
        let resp = t.get(
            &format!("/magic-link/verify?token={token}&callbackURL=%2Fdash&errorCallbackURL=%2Foops%3Fa%3D1"),
            None,
        );
        assert_eq!(
            location(&resp),
            format!("{ORIGIN}/oops?a=1&error=INVALID_TOKEN"),
            "{token}"
        );
        assert!(resp.set_cookies().is_empty());
    }
    assert!(t.storage().find_user_by_email(EMAIL).unwrap().is_none());
    // Without any callback the error goes to the site's root.
    let resp = t.get("/magic-link/verify?token=nope", None);
    assert_eq!(location(&resp), format!("{ORIGIN}/?error=INVALID_TOKEN"));
    // The real link still works.
    assert_eq!(location(&t.open_link(&mail.url, None)), format!("{ORIGIN}/"));
    // No token at all, or a NUL in it, is a validation error.
    assert_error(&t.get("/magic-link/verify", None), 400, "VALIDATION_ERROR");
    assert_error(&t.get("/magic-link/verify?token=%00", None), 400, "VALIDATION_ERROR");
}

fn disabled_sign_up_refuses_unknown_addresses(backend: Backend) {
    let t = app_with(backend, |c| c.magic_link.disable_sign_up = true);
    let mail = request_link(&t, json!({"email": "new@example.com", "callbackURL": "/dash"}));
    let resp = t.open_link(&mail.url, None);
    assert_eq!(location(&resp), format!("{ORIGIN}/dash?error=new_user_signup_disabled"));
    assert!(resp.set_cookies().is_empty());
    assert!(t.storage().find_user_by_email("new@example.com").unwrap().is_none());
    // An existing user still signs in.
    t.sign_up(EMAIL);
    let mail = request_link(&t, json!({"email": EMAIL, "callbackURL": "/dash"}));
    assert_eq!(location(&t.open_link(&mail.url, None)), format!("{ORIGIN}/dash"));
}

/// Hostile redirect targets: refused before anything is stored or sent, and a link carrying
/// one is refused without spending it.
fn hostile_callback_urls_are_refused(backend: Backend) {
    let t = app(backend);
    let hostile = [
        "https://evil.com",
        "//evil.com",
        "/\\evil.com",
        "javascript:alert(1)",
        "http://localhost:3000.evil.com/",
        "https://evil.com/\r\nSet-Cookie: x=1",
    ];
    for (field, code) in [
        ("callbackURL", "INVALID_CALLBACK_URL"),
        ("newUserCallbackURL", "INVALID_NEW_USER_CALLBACK_URL"),
        ("errorCallbackURL", "INVALID_ERROR_CALLBACK_URL"),
    ] {
        for bad in hostile {
            let resp = t.post("/sign-in/magic-link", json!({"email": EMAIL, field: bad}));
            assert_error(&resp, 403, code);
        }
    }
    t.assert_no_mail();

    let mail = request_link(&t, json!({"email": EMAIL, "callbackURL": format!("{ORIGIN}/dash")}));
    assert!(mail.url.contains("callbackURL=http%3A%2F%2Flocalhost%3A3000%2Fdash"));
    let token = &mail.token;
    for field in ["callbackURL", "newUserCallbackURL", "errorCallbackURL"] {
        for bad in hostile {
            let target = format!(
                "{BASE}/magic-link/verify?token={token}&{field}={}",
                url::form_urlencoded::byte_serialize(bad.as_bytes()).collect::<String>()
            );
            let resp = t.send(Request::get(&target));
            // Better Auth's checks on this route all report the callbackURL.
            assert_error(&resp, 403, "INVALID_CALLBACK_URL");
            assert!(resp.set_cookies().is_empty());
        }
    }
    // Refused links were not spent.
    assert_eq!(location(&t.open_link(&mail.url, None)), format!("{ORIGIN}/dash"));
}

/// Pre-account hijacking: someone signs up with Ada's address and a password before she ever
/// proves it. Her magic link proves it: the password and every session made before go.
fn an_unverified_account_loses_what_predates_the_proof(backend: Backend) {
    let t = app(backend);
    let (_, squatter) = t.sign_up(EMAIL);
    let before = t.storage().find_user_by_email(EMAIL).unwrap().unwrap();
    assert!(!before.email_verified);
    let mail = request_link(
        &t,
        json!({"email": EMAIL, "callbackURL": "/dash", "newUserCallbackURL": "/welcome"}),
    );
    let resp = t.open_link(&mail.url, None);
    assert_eq!(location(&resp), format!("{ORIGIN}/dash"), "not a new user");
    let after = t.storage().find_user_by_email(EMAIL).unwrap().unwrap();
    assert_eq!(after.id, before.id);
    assert!(after.email_verified);
    assert!(
        t.storage().list_user_accounts(&after.id).unwrap().is_empty(),
        "the password is gone"
    );
    assert_error(&t.sign_in(EMAIL, PASSWORD), 401, "INVALID_EMAIL_OR_PASSWORD");
    assert!(session_user(&t, &squatter).is_null(), "the earlier session is revoked");
    let sessions = t.storage().list_user_sessions(&after.id).unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(session_user(&t, &cookie_header(&resp))["id"], after.id.as_str());
}

fn cross_site_requests_cannot_send_links(backend: Backend) {
    let t = app(backend);
    let form = Request::post(&format!("{BASE}/sign-in/magic-link"))
        .with_json(&json!({"email": EMAIL}))
        .with_header("sec-fetch-site", "cross-site")
        .with_header("sec-fetch-mode", "navigate");
    assert_error(&t.send(form), 403, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED");
    let other_origin = Request::post(&format!("{BASE}/sign-in/magic-link"))
        .with_json(&json!({"email": EMAIL}))
        .with_header("origin", "https://evil.com");
    assert_error(&t.send(other_origin), 403, "INVALID_ORIGIN");
    t.assert_no_mail();
    // A bad address is a validation error.
    let resp = t.post("/sign-in/magic-link", json!({"email": "not-an-address"}));
    assert_error(&resp, 400, "VALIDATION_ERROR");
}

fn in_process_calls_send_and_open_links(backend: Backend) {
    let t = app(backend);
    let data = t
        .app
        .call(
            "signInMagicLink",
            ApiInput::new().body(json!({"email": EMAIL, "name": "Ada"})),
        )
        .unwrap();
    assert_eq!(data, json!({"status": true}));
    let mail = t.mail_to(MailKind::MagicLink, EMAIL);
    let out = t
        .app
        .call_with_headers("magicLinkVerify", ApiInput::new().query("token", &mail.token))
        .unwrap();
    assert_eq!(out.data["user"]["email"], EMAIL);
    assert_eq!(out.data["user"]["name"], "Ada");
    assert!(out.set_cookies()[0].starts_with("better-auth.session_token="));
    // Spent: the in-process call gets the redirect as an error, as Better Auth throws it.
    let err = t
        .app
        .call("magicLinkVerify", ApiInput::new().query("token", &mail.token))
        .unwrap_err();
    assert_eq!(err.status, 302);
    assert_eq!(
        err.headers
            .iter()
            .find(|(k, _)| k == "location")
            .map(|(_, v)| v.as_str()),
        Some(format!("{ORIGIN}/?error=INVALID_TOKEN").as_str())
    );
}

fn hashed_storage_keeps_only_the_tokens_digest(backend: Backend) {
    let t = app_with(backend, |c| c.magic_link.store_hashed = true);
    let mail = request_link(&t, json!({"email": EMAIL, "callbackURL": "/dash"}));
    assert!(t
        .storage()
        .find_verification(&format!("magic-link:{}", mail.token))
        .unwrap()
        .is_none());
    let digest = sesame::crypto::sha256_base64url(&mail.token);
    assert!(t
        .storage()
        .find_verification(&format!("magic-link:{digest}"))
        .unwrap()
        .is_some());
    // The digest itself is not a token.
    let resp = t.get(&format!("/magic-link/verify?token={digest}&callbackURL=%2Fdash"), None);
    assert_eq!(location(&resp), format!("{ORIGIN}/dash?error=INVALID_TOKEN"));
    assert_eq!(location(&t.open_link(&mail.url, None)), format!("{ORIGIN}/dash"));
}

/// Better Auth's rule for the plugin's two routes: 5 per 60 seconds per client.
fn both_routes_allow_five_requests_a_minute(backend: Backend) {
    let t = app_with(backend, |c| c.rate_limit = true);
    for _ in 0..5 {
        assert_eq!(t.post("/sign-in/magic-link", json!({"email": EMAIL})).status, 200);
    }
    let resp = t.post("/sign-in/magic-link", json!({"email": EMAIL}));
    assert_error(&resp, 429, "RATE_LIMITED");
    assert_eq!(resp.header("retry-after"), Some("60"));
    for _ in 0..5 {
        assert_eq!(t.get("/magic-link/verify?token=guess", None).status, 302);
    }
    assert_error(&t.get("/magic-link/verify?token=guess", None), 429, "RATE_LIMITED");
    t.clock.advance(time::Duration::seconds(60));
    assert_eq!(t.get("/magic-link/verify?token=guess", None).status, 302);
}

fn the_plugin_is_off_unless_enabled(backend: Backend) {
    let t = TestApp::new(backend);
    assert_error(
        &t.post("/sign-in/magic-link", json!({"email": EMAIL})),
        404,
        "NOT_FOUND",
    );
    assert_error(&t.get("/magic-link/verify?token=x", None), 404, "NOT_FOUND");
}

crate::backend_suite!(
    a_link_signs_up_a_new_address_and_redirects_to_the_new_user_callback,
    a_link_for_an_existing_user_redirects_to_the_callback,
    without_a_callback_the_link_answers_json,
    a_link_works_once,
    a_link_opened_twice_at_once_signs_in_once,
    a_link_expires_after_five_minutes,
    the_lifetime_follows_the_configuration,
    wrong_tokens_redirect_with_invalid_token_and_change_nothing,
    disabled_sign_up_refuses_unknown_addresses,
    hostile_callback_urls_are_refused,
    an_unverified_account_loses_what_predates_the_proof,
    cross_site_requests_cannot_send_links,
    in_process_calls_send_and_open_links,
    hashed_storage_keeps_only_the_tokens_digest,
    both_routes_allow_five_requests_a_minute,
    the_plugin_is_off_unless_enabled,
);
