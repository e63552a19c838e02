//! Sessions: `GET /get-session` (spec §3.5, §4.5: null answers, expiry, sliding refresh, the
//! query flags, rememberMe=false), `GET /list-sessions` (freshness), the three revoke
//! endpoints and `POST /sign-out` (spec §3.6, §3.17). Time moves with the fixed clock.

use serde_json::{json, Value};
use time::Duration;

use crate::support::wire::{
    assert_clears_session_cookies, assert_null_session, assert_validation, iso, set_cookies, the_cookie,
};
use crate::support::{assert_error, json_body, TestApp, PASSWORD};

const P: &str = "better-auth";

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

fn get_session_signed_out_is_200_null(t: &TestApp) {
    let s = t.signed_up("a@example.com");
    let bad_sig = format!("{P}.session_token={}.{}", s.token, "A".repeat(43) + "=");
    let unsigned = format!("{P}.session_token={}", s.token);
    let other_secret = {
        let sig = sesame::crypto::hmac_base64("some-other-secret-0123456789abcdef", &s.token);
        format!(
            "{P}.session_token={}",
            sesame::http::js::encode_uri_component(&format!("{}.{sig}", s.token))
        )
    };
    for cookie in [
        None,
        Some("other=1"),
        Some(bad_sig.as_str()),
        Some(unsigned.as_str()),
        Some(other_secret.as_str()),
    ] {
        let resp = t.get("/get-session", cookie);
        assert_null_session(&resp);
        assert_eq!(resp.header("content-type"), Some("application/json"));
        assert_eq!(resp.header("cache-control"), Some("no-store"));
        assert_eq!(resp.header("pragma"), Some("no-cache"));
        // A missing or badly signed cookie changes no cookies.
        assert!(resp.set_cookies().is_empty(), "{cookie:?}: {:?}", resp.set_cookies());
    }
    assert!(t.session_exists(&s.token));
}

fn get_session_answers_session_and_user(t: &TestApp) {
    let now = t.clock_now();
    let s = t.signed_up("b@example.com");
    let resp = t.get("/get-session", Some(&s.cookie));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("cache-control"), Some("no-store"));
    assert!(resp.set_cookies().is_empty(), "a fresh session is not refreshed");
    let body = json_body(&resp);
    assert_eq!(keys(&body), ["session", "user"]);
    assert_eq!(
        keys(&body["session"]),
        [
            "expiresAt",
            "token",
            "createdAt",
            "updatedAt",
            "ipAddress",
            "userAgent",
            "userId",
            "id"
        ]
    );
    let session = &body["session"];
    assert_eq!(session["token"], s.token.as_str());
    assert_eq!(session["userId"], s.user_id.as_str());
    assert_eq!(session["createdAt"], iso(now));
    assert_eq!(session["updatedAt"], iso(now));
    assert_eq!(session["expiresAt"], iso(now + Duration::days(7)));
    // In-process requests have no peer address and no user agent: Better Auth writes "".
    assert_eq!((&session["ipAddress"], &session["userAgent"]), (&json!(""), &json!("")));
    assert_eq!(body["user"]["email"], "b@example.com");
    assert_eq!(body["user"]["id"], s.user_id.as_str());
}

fn missing_or_expired_session_clears_cookies(t: &TestApp) {
    // Correctly signed, but no such row: null and the cookies are cleared.
    let ghost = t.cookie_for("NoSuchSessionTokenNoSuchSession0");
    let resp = t.get("/get-session", Some(&ghost));
    assert_null_session(&resp);
    assert_clears_session_cookies(&resp, P, false);

    // An expired row: null, cookies cleared and the row deleted.
    let s = t.signed_up("c@example.com");
    t.clock.advance(Duration::days(7));
    // Still valid at the exact expiry instant (Better Auth: `expiresAt < now` is expired).
    assert_eq!(t.session_of(&s.cookie)["session"]["token"], s.token.as_str());
    // That read refreshed it (over a day since the last refresh); let it lapse entirely.
    t.clock.advance(Duration::days(7) + Duration::milliseconds(1));
    let resp = t.get("/get-session", Some(&s.cookie));
    assert_null_session(&resp);
    assert_clears_session_cookies(&resp, P, false);
    assert!(!t.session_exists(&s.token));
}

fn session_slides_once_update_age_has_passed(t: &TestApp) {
    let start = t.clock_now();
    let s = t.signed_up("slide@example.com");
    t.clock.advance(Duration::hours(23));
    let resp = t.get("/get-session", Some(&s.cookie));
    assert!(
        resp.set_cookies().is_empty(),
        "not due before a day: {:?}",
        resp.set_cookies()
    );
    assert_eq!(json_body(&resp)["session"]["expiresAt"], iso(start + Duration::days(7)));

    t.clock.advance(Duration::hours(1));
    let now = t.clock_now();
    let resp = t.get("/get-session", Some(&s.cookie));
    let body = json_body(&resp);
    assert_eq!(body["session"]["expiresAt"], iso(now + Duration::days(7)));
    assert_eq!(body["session"]["updatedAt"], iso(now));
    assert_eq!(body["session"]["createdAt"], iso(start));
    let c = the_cookie(&resp, &format!("{P}.session_token")).expect("refreshed cookie");
    assert_eq!(c.max_age, Some(604_800));
    c.assert_default_attributes(false);
    assert_eq!(format!("{}={}", c.name, c.value), s.cookie, "same token, re-signed");
    assert_eq!(set_cookies(&resp).len(), 1);
    let (row, _) = t.storage().find_session_with_user(&s.token).unwrap().unwrap();
    assert_eq!((row.expires_at, row.updated_at), (now + Duration::days(7), now));

    // Just refreshed: the next read does not slide again.
    t.clock.advance(Duration::hours(1));
    assert!(t.get("/get-session", Some(&s.cookie)).set_cookies().is_empty());
}

fn disable_refresh_uses_javascript_truthiness(t: &TestApp) {
    let start = t.clock_now();
    let s = t.signed_up("flags@example.com");
    t.clock.advance(Duration::days(2));
    // Any non-empty value is true, "false" and "0" included.
    for flag in ["true", "false", "0", "1"] {
        let resp = t.get(&format!("/get-session?disableRefresh={flag}"), Some(&s.cookie));
        assert!(resp.set_cookies().is_empty(), "disableRefresh={flag}");
        assert_eq!(json_body(&resp)["session"]["expiresAt"], iso(start + Duration::days(7)));
    }
    // Sesame has no cookie cache: the flag is accepted and changes nothing.
    let resp = t.get("/get-session?disableCookieCache=true&disableRefresh=1", Some(&s.cookie));
    assert_eq!(json_body(&resp)["session"]["token"], s.token.as_str());
    // An empty value is false: this read slides.
    let resp = t.get("/get-session?disableRefresh=", Some(&s.cookie));
    assert!(the_cookie(&resp, &format!("{P}.session_token")).is_some());
    assert_eq!(
        json_body(&resp)["session"]["expiresAt"],
        iso(t.clock_now() + Duration::days(7))
    );
}

fn remember_me_false_never_slides(t: &TestApp) {
    t.signed_up("dr@example.com");
    let start = t.clock_now();
    let resp = t.post(
        "/sign-in/email",
        json!({"email": "dr@example.com", "password": PASSWORD, "rememberMe": false}),
    );
    let cookie = crate::support::cookie_header(&resp);
    assert!(cookie.contains(&format!("{P}.dont_remember=")));
    // A one-day session is "due" at once by the sliding rule; dont_remember must stop it.
    for hours in [0, 12, 23] {
        t.clock.set(start + Duration::hours(hours));
        let resp = t.get("/get-session", Some(&cookie));
        assert!(
            resp.set_cookies().is_empty(),
            "after {hours}h: {:?}",
            resp.set_cookies()
        );
        assert_eq!(json_body(&resp)["session"]["expiresAt"], iso(start + Duration::days(1)));
    }
    t.clock.set(start + Duration::days(1) + Duration::seconds(1));
    let resp = t.get("/get-session", Some(&cookie));
    assert_null_session(&resp);
    assert_clears_session_cookies(&resp, P, false);
}

fn stray_cookie_cache_is_expired(t: &TestApp) {
    let s = t.signed_up("cache@example.com");
    let cookie = format!(
        "{}; {P}.session_data=abc; {P}.session_data.0=x; {P}.session_data.1=y",
        s.cookie
    );
    let resp = t.get("/get-session", Some(&cookie));
    assert_eq!(json_body(&resp)["session"]["token"], s.token.as_str());
    let names: Vec<String> = set_cookies(&resp).into_iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            format!("{P}.session_data"),
            format!("{P}.session_data.0"),
            format!("{P}.session_data.1")
        ]
    );
    assert!(set_cookies(&resp).iter().all(|c| c.is_expiry()));
    // Signed out, the stray cache cookie is still expired.
    let resp = t.get("/get-session", Some(&format!("{P}.session_data=abc")));
    assert_null_session(&resp);
    assert_eq!(
        resp.set_cookies(),
        [format!("{P}.session_data=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax")]
    );
}

fn list_sessions_shows_the_users_active_sessions(t: &TestApp) {
    let a = t.signed_up("list@example.com");
    let a2 = t.signed_in("list@example.com", PASSWORD);
    let other = t.signed_up("other@example.com");
    let expired = t.insert_session(&a.user_id, Duration::days(8), Duration::days(7));
    let resp = t.get("/list-sessions", Some(&a.cookie));
    assert_eq!(resp.status, 200);
    let list = json_body(&resp);
    let tokens: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["token"].as_str().unwrap())
        .collect();
    assert_eq!(tokens.len(), 2, "{list}");
    assert!(tokens.contains(&a.token.as_str()) && tokens.contains(&a2.token.as_str()));
    assert!(!tokens.contains(&other.token.as_str()) && !tokens.contains(&expired.token.as_str()));
    for s in list.as_array().unwrap() {
        assert_eq!(
            keys(s),
            [
                "expiresAt",
                "token",
                "createdAt",
                "updatedAt",
                "ipAddress",
                "userAgent",
                "userId",
                "id"
            ]
        );
    }
    assert_error(&t.get("/list-sessions", None), 401, "UNAUTHORIZED");
}

fn list_sessions_needs_a_fresh_session(t: &TestApp) {
    let s = t.signed_up("fresh@example.com");
    t.clock.advance(Duration::hours(23) + Duration::minutes(59));
    assert_eq!(t.get("/list-sessions", Some(&s.cookie)).status, 200);
    t.clock.advance(Duration::minutes(1));
    let resp = t.get("/list-sessions", Some(&s.cookie));
    assert_error(&resp, 403, "SESSION_NOT_FRESH");
    assert_eq!(json_body(&resp)["message"], "Session is not fresh");
    // Resolving the session on the way slid it, and the error keeps that cookie (as Better
    // Auth's does); sliding does not make it fresh again.
    let c = the_cookie(&resp, &format!("{P}.session_token")).expect("refresh cookie on the 403");
    assert_eq!(c.max_age, Some(604_800));
    assert_error(&t.get("/list-sessions", Some(&s.cookie)), 403, "SESSION_NOT_FRESH");
    // A new sign-in is fresh.
    let again = t.signed_in("fresh@example.com", PASSWORD);
    assert_eq!(t.get("/list-sessions", Some(&again.cookie)).status, 200);
}

fn fresh_age_zero_disables_the_check(t: &TestApp) {
    let t = TestApp::with_config(t.backend, |c| c.session_fresh_age = 0);
    let s = t.signed_up("nofresh@example.com");
    t.clock.advance(Duration::days(5));
    assert_eq!(t.get("/list-sessions", Some(&s.cookie)).status, 200);
}

fn revoke_session(t: &TestApp) {
    let a = t.signed_up("rev@example.com");
    let a2 = t.signed_in("rev@example.com", PASSWORD);
    let b = t.signed_up("victim@example.com");

    // Another user's token: the same 200, and nothing is deleted.
    let resp = t.post_with_cookies("/revoke-session", json!({"token": b.token}), &a.cookie);
    assert_eq!((resp.status, json_body(&resp)), (200, json!({"status": true})));
    assert!(t.session_exists(&b.token));
    assert_eq!(t.session_of(&b.cookie)["user"]["email"], "victim@example.com");
    // An unknown token: the same 200.
    let resp = t.post_with_cookies("/revoke-session", json!({"token": "nope"}), &a.cookie);
    assert_eq!((resp.status, json_body(&resp)), (200, json!({"status": true})));

    // One of the caller's other sessions: deleted, the caller's cookie untouched.
    let resp = t.post_with_cookies("/revoke-session", json!({"token": a2.token}), &a.cookie);
    assert_eq!(resp.status, 200);
    assert!(resp.set_cookies().is_empty());
    assert!(!t.session_exists(&a2.token));
    assert_null_session(&t.get("/get-session", Some(&a2.cookie)));

    // The caller's own current session: deleted, and Better Auth 1.7.25 clears the cookies.
    let resp = t.post_with_cookies("/revoke-session", json!({"token": a.token}), &a.cookie);
    assert_eq!(resp.status, 200);
    assert_clears_session_cookies(&resp, P, false);
    assert!(!t.session_exists(&a.token));

    // Validation comes before the session requirement.
    assert_validation(
        &t.post("/revoke-session", json!({})),
        "[body.token] Invalid input: expected string, received undefined",
    );
    assert_error(&t.post("/revoke-session", json!({"token": "x"})), 401, "UNAUTHORIZED");
}

fn revoke_sessions_ends_every_session(t: &TestApp) {
    let a = t.signed_up("all@example.com");
    let a2 = t.signed_in("all@example.com", PASSWORD);
    let b = t.signed_up("bystander@example.com");
    let resp = t.post_empty("/revoke-sessions", &a.cookie);
    assert_eq!((resp.status, json_body(&resp)), (200, json!({"status": true})));
    // The reference server (1.7.25) clears the cookies; the spec (1.7.1) said it did not.
    assert_clears_session_cookies(&resp, P, false);
    assert!(t.storage().list_user_sessions(&a.user_id).unwrap().is_empty());
    for old in [&a.cookie, &a2.cookie] {
        let resp = t.get("/get-session", Some(old));
        assert_null_session(&resp);
        assert_clears_session_cookies(&resp, P, false);
    }
    assert!(t.session_exists(&b.token));
    assert_error(&t.post("/revoke-sessions", json!({})), 401, "UNAUTHORIZED");
}

fn revoke_other_sessions_keeps_the_current_one(t: &TestApp) {
    let a = t.signed_up("others@example.com");
    let a2 = t.signed_in("others@example.com", PASSWORD);
    let a3 = t.signed_in("others@example.com", PASSWORD);
    let b = t.signed_up("else@example.com");
    let resp = t.post_with_cookies("/revoke-other-sessions", json!({}), &a2.cookie);
    assert_eq!((resp.status, json_body(&resp)), (200, json!({"status": true})));
    assert!(resp.set_cookies().is_empty());
    assert!(t.session_exists(&a2.token));
    assert!(!t.session_exists(&a.token) && !t.session_exists(&a3.token));
    assert!(t.session_exists(&b.token));
    assert_eq!(t.session_of(&a2.cookie)["session"]["token"], a2.token.as_str());
    assert_error(&t.post("/revoke-other-sessions", json!({})), 401, "UNAUTHORIZED");
}

fn sign_out_deletes_the_session_and_always_clears_cookies(t: &TestApp) {
    let a = t.signed_up("out@example.com");
    let a2 = t.signed_in("out@example.com", PASSWORD);
    let resp = t.post_empty("/sign-out", &a.cookie);
    assert_eq!((resp.status, json_body(&resp)), (200, json!({"success": true})));
    assert_eq!(
        resp.set_cookies(),
        [
            format!("{P}.session_token=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"),
            format!("{P}.session_data=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"),
            format!("{P}.dont_remember=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"),
        ]
    );
    assert!(!t.session_exists(&a.token));
    assert!(t.session_exists(&a2.token), "only the current session ends");
    assert_null_session(&t.get("/get-session", Some(&a.cookie)));

    // Signed out already, or never signed in: the same answer.
    for resp in [
        t.post("/sign-out", json!({})),
        t.post_empty("/sign-out", "x=y"),
        t.post_empty("/sign-out", &a.cookie),
    ] {
        assert_eq!((resp.status, json_body(&resp)), (200, json!({"success": true})));
        assert_clears_session_cookies(&resp, P, false);
    }
    assert_validation(
        &t.post("/sign-out", json!([])),
        "[body] Invalid input: expected object, received array",
    );
}

crate::suite!(
    get_session_signed_out_is_200_null,
    get_session_answers_session_and_user,
    missing_or_expired_session_clears_cookies,
    session_slides_once_update_age_has_passed,
    disable_refresh_uses_javascript_truthiness,
    remember_me_false_never_slides,
    stray_cookie_cache_is_expired,
    list_sessions_shows_the_users_active_sessions,
    list_sessions_needs_a_fresh_session,
    fresh_age_zero_disables_the_check,
    revoke_session,
    revoke_sessions_ends_every_session,
    revoke_other_sessions_keeps_the_current_one,
    sign_out_deletes_the_session_and_always_clears_cookies,
);
