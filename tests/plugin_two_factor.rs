//! The two-factor plugin over the HTTP pipeline, on every backend: TOTP set-up (enable,
//! verify, get-totp-uri, disable), the sign-in challenge for email and username sign-in, wrong
//! and replayed codes, the per-challenge and per-account limits, and abuse of the inputs.

use serde_json::json;

use crate::support::two_factor::{app, code, key_of, next_step, with_totp, Client, EMAIL};
use crate::support::{assert_error, json_body, set_cookie, Backend, PASSWORD};

fn enable_answers_uri_and_codes_and_leaves_two_factor_off_until_a_first_code(backend: Backend) {
    let t = app(backend);
    let mut c = Client::new(&t);
    c.post(
        "/sign-up/email",
        json!({"name": "Ada", "email": EMAIL, "password": PASSWORD}),
    );
    assert_eq!(c.session_user()["twoFactorEnabled"], false);
    let resp = c.post("/two-factor/enable", json!({"password": PASSWORD}));
    assert_eq!(resp.status, 200);
    let body = json_body(&resp);
    assert_eq!(body["method"], "totp");
    let uri = body["totpURI"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/Sesame:ada%40example.com?secret="),
        "{uri}"
    );
    assert!(uri.ends_with("&issuer=Sesame&digits=6&period=30"), "{uri}");
    assert_eq!(key_of(uri).len(), 32);
    let codes = body["backupCodes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    assert!(codes.iter().all(|c| c.as_str().unwrap().len() == 11));

    // Stored encrypted, unverified; the user is not yet guarded.
    let user_id = c.session_user()["id"].as_str().unwrap().to_string();
    let row = t.storage().find_two_factor(&user_id).unwrap().unwrap();
    assert_eq!(row.verified, Some(false));
    assert!(!row.secret.contains(&String::from_utf8(key_of(uri)).unwrap()));
    assert!(!row.backup_codes.contains(codes[0].as_str().unwrap()));
    assert_eq!(c.session_user()["twoFactorEnabled"], false);
    let mut other = Client::new(&t);
    let resp = other.sign_in();
    assert_eq!(resp.status, 200);
    assert!(json_body(&resp)["token"].is_string());

    // Enabling again before the first code replaces the pending set-up.
    let again = json_body(&c.post("/two-factor/enable", json!({"password": PASSWORD})));
    assert_ne!(again["totpURI"], body["totpURI"]);
    assert_eq!(t.storage().find_two_factor(&user_id).unwrap().unwrap().id, row.id);
}

fn the_first_code_switches_two_factor_on_and_reissues_the_session(backend: Backend) {
    let t = app(backend);
    let mut c = Client::new(&t);
    c.post(
        "/sign-up/email",
        json!({"name": "Ada", "email": EMAIL, "password": PASSWORD}),
    );
    let old_cookies = c.cookie_header();
    let body = json_body(&c.post("/two-factor/enable", json!({"password": PASSWORD})));
    let key = key_of(body["totpURI"].as_str().unwrap());
    let resp = c.post("/two-factor/verify-totp", json!({"code": code(&t, &key, 0)}));
    assert_eq!(resp.status, 200);
    let body = json_body(&resp);
    assert_eq!(body["user"]["twoFactorEnabled"], true);
    assert!(set_cookie(&resp, "better-auth.session_token").is_some());
    assert_eq!(c.session_user()["twoFactorEnabled"], true);
    // The answer's token is the new session's; the old session is gone.
    let token = body["token"].as_str().unwrap();
    assert!(c.cookie_header().contains(token));
    let stale = t.get("/get-session", Some(&old_cookies));
    assert_eq!(json_body(&stale), serde_json::Value::Null);
    // Enabling once verified is refused.
    let resp = c.post("/two-factor/enable", json!({"password": PASSWORD}));
    assert_error(&resp, 400, "TOTP_ALREADY_ENABLED");
}

fn password_sign_in_answers_a_challenge_and_no_session(backend: Backend) {
    let t = app(backend);
    let (_, key, _) = with_totp(&t);
    let sessions_before = t
        .storage()
        .find_user_by_email(EMAIL)
        .unwrap()
        .map(|u| t.storage().list_user_sessions(&u.id).unwrap().len());
    let mut c = Client::new(&t);
    let resp = c.post(
        "/sign-in/email",
        json!({"email": EMAIL, "password": PASSWORD, "callbackURL": "/home"}),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(
        json_body(&resp),
        json!({"twoFactorRedirect": true, "twoFactorMethods": ["totp", "otp"]})
    );
    assert_eq!(resp.header("location"), Some("/home"));
    let two_factor = set_cookie(&resp, "better-auth.two_factor").unwrap();
    assert!(
        two_factor.contains("Max-Age=600") && two_factor.contains("HttpOnly"),
        "{two_factor}"
    );
    assert!(set_cookie(&resp, "better-auth.session_token")
        .unwrap()
        .contains("Max-Age=0"));
    assert!(!c.has("session_token"));
    let sessions_after = t
        .storage()
        .find_user_by_email(EMAIL)
        .unwrap()
        .map(|u| t.storage().list_user_sessions(&u.id).unwrap().len());
    assert_eq!(sessions_before, sessions_after);
    assert_eq!(c.session_user(), serde_json::Value::Null);

    let resp = c.post("/two-factor/verify-totp", json!({"code": code(&t, &key, 0)}));
    assert_eq!(resp.status, 200);
    let body = json_body(&resp);
    assert_eq!(body["user"]["email"], EMAIL);
    assert!(set_cookie(&resp, "better-auth.two_factor")
        .unwrap()
        .contains("Max-Age=0"));
    assert!(c.cookie_header().contains(body["token"].as_str().unwrap()));
    assert_eq!(c.session_user()["email"], EMAIL);
}

fn username_sign_in_is_guarded_too(backend: Backend) {
    let t = app(backend);
    let mut c = Client::new(&t);
    let resp = c.post(
        "/sign-up/email",
        json!({"name": "Ada", "email": EMAIL, "password": PASSWORD, "username": "ada"}),
    );
    assert_eq!(resp.status, 200);
    let key = key_of(
        json_body(&c.post("/two-factor/enable", json!({"password": PASSWORD})))["totpURI"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(
        c.post("/two-factor/verify-totp", json!({"code": code(&t, &key, 0)}))
            .status,
        200
    );
    let mut c = Client::new(&t);
    let resp = c.post("/sign-in/username", json!({"username": "ada", "password": PASSWORD}));
    assert_eq!(json_body(&resp)["twoFactorRedirect"], true);
    assert!(!c.has("session_token") && c.has("two_factor"));
    // A wrong password is still just a wrong password: no challenge.
    let resp = Client::new(&t).post(
        "/sign-in/username",
        json!({"username": "ada", "password": "wrong-password-1"}),
    );
    assert_error(&resp, 401, "INVALID_USERNAME_OR_PASSWORD");
}

fn wrong_and_replayed_codes_are_refused(backend: Backend) {
    let t = app(backend);
    let (mut signed_in, key, _) = with_totp(&t);
    let mut c = Client::new(&t);
    c.sign_in();
    let wrong = if code(&t, &key, 0) == "000000" {
        "111111"
    } else {
        "000000"
    };
    assert_error(
        &c.post("/two-factor/verify-totp", json!({"code": wrong})),
        401,
        "INVALID_CODE",
    );
    // Codes two steps away are outside the window; one step ahead is inside.
    for offset in [-2, 2] {
        let resp = c.post("/two-factor/verify-totp", json!({"code": code(&t, &key, offset)}));
        assert_error(&resp, 401, "INVALID_CODE");
    }
    let good = code(&t, &key, 1);
    assert_eq!(c.post("/two-factor/verify-totp", json!({"code": good})).status, 200);

    // The same code again, at the next sign-in within its window: refused.
    let mut c = Client::new(&t);
    c.sign_in();
    assert_error(
        &c.post("/two-factor/verify-totp", json!({"code": good})),
        401,
        "INVALID_CODE",
    );
    assert!(!c.has("session_token"));
    // And for a signed-in user checking a code.
    let fresh = code(&t, &key, 0);
    assert_eq!(
        signed_in.post("/two-factor/verify-totp", json!({"code": fresh})).status,
        200
    );
    let resp = signed_in.post("/two-factor/verify-totp", json!({"code": fresh}));
    assert_error(&resp, 401, "INVALID_CODE");
}

fn five_wrong_codes_end_the_challenge(backend: Backend) {
    let t = app(backend);
    let (_, key, _) = with_totp(&t);
    let mut c = Client::new(&t);
    c.sign_in();
    let wrong = if code(&t, &key, 0) == "000000" {
        "111111"
    } else {
        "000000"
    };
    for _ in 0..5 {
        assert_error(
            &c.post("/two-factor/verify-totp", json!({"code": wrong})),
            401,
            "INVALID_CODE",
        );
    }
    let cookies = c.cookie_header();
    let resp = c.post("/two-factor/verify-totp", json!({"code": code(&t, &key, 0)}));
    assert_error(&resp, 400, "TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE");
    assert!(set_cookie(&resp, "better-auth.two_factor")
        .unwrap()
        .contains("Max-Age=0"));
    // The challenge is over, even for a client that kept the cookie.
    let resp = t.post_with_cookies("/two-factor/verify-totp", json!({"code": code(&t, &key, 0)}), &cookies);
    assert_error(&resp, 401, "INVALID_TWO_FACTOR_COOKIE");
    // A new sign-in starts a new challenge.
    let mut c = Client::new(&t);
    c.sign_in();
    assert_eq!(
        c.post("/two-factor/verify-totp", json!({"code": code(&t, &key, 0)}))
            .status,
        200
    );
}

fn ten_failures_lock_the_account_for_fifteen_minutes(backend: Backend) {
    let t = app(backend);
    let (_, key, _) = with_totp(&t);
    let wrong = |t: &crate::support::TestApp| {
        if code(t, &key, 0) == "000000" {
            "111111"
        } else {
            "000000"
        }
    };
    for _ in 0..2 {
        let mut c = Client::new(&t);
        c.sign_in();
        for _ in 0..5 {
            let resp = c.post("/two-factor/verify-totp", json!({"code": wrong(&t)}));
            assert_error(&resp, 401, "INVALID_CODE");
        }
    }
    let mut c = Client::new(&t);
    c.sign_in();
    let resp = c.post("/two-factor/verify-totp", json!({"code": code(&t, &key, 0)}));
    assert_error(&resp, 429, "ACCOUNT_TEMPORARILY_LOCKED");
    assert!(!c.has("session_token"));
    t.clock.advance(time::Duration::minutes(14));
    let mut c = Client::new(&t);
    c.sign_in();
    let resp = c.post("/two-factor/verify-totp", json!({"code": code(&t, &key, 0)}));
    assert_error(&resp, 429, "ACCOUNT_TEMPORARILY_LOCKED");
    t.clock.advance(time::Duration::minutes(1));
    let resp = c.post("/two-factor/verify-totp", json!({"code": code(&t, &key, 0)}));
    assert_eq!(resp.status, 200);
    // The count starts again after a success.
    let user = t.storage().find_user_by_email(EMAIL).unwrap().unwrap();
    let row = t.storage().find_two_factor(&user.id).unwrap().unwrap();
    assert_eq!((row.failed_verification_count, row.locked_until), (Some(0), None));
}

fn get_totp_uri_needs_the_set_up_and_the_password(backend: Backend) {
    let t = app(backend);
    let mut c = Client::new(&t);
    c.post(
        "/sign-up/email",
        json!({"name": "Ada", "email": EMAIL, "password": PASSWORD}),
    );
    let resp = c.post("/two-factor/get-totp-uri", json!({"password": PASSWORD}));
    assert_error(&resp, 400, "TOTP_NOT_ENABLED");
    let uri = json_body(&c.post("/two-factor/enable", json!({"password": PASSWORD})))["totpURI"].clone();
    let resp = c.post("/two-factor/get-totp-uri", json!({"password": "wrong-password-1"}));
    assert_error(&resp, 400, "INVALID_PASSWORD");
    let resp = c.post("/two-factor/get-totp-uri", json!({"password": PASSWORD}));
    assert_eq!(json_body(&resp), json!({"totpURI": uri}));
    let resp = Client::new(&t).post("/two-factor/get-totp-uri", json!({"password": PASSWORD}));
    assert_error(&resp, 401, "UNAUTHORIZED");
}

fn enable_and_disable_need_the_password(backend: Backend) {
    let t = app(backend);
    let mut c = Client::new(&t);
    c.post(
        "/sign-up/email",
        json!({"name": "Ada", "email": EMAIL, "password": PASSWORD}),
    );
    let resp = c.post("/two-factor/enable", json!({"password": "wrong-password-1"}));
    assert_error(&resp, 400, "INVALID_PASSWORD");
    assert_error(&c.post("/two-factor/enable", json!({})), 400, "VALIDATION_ERROR");
    let resp = c.post("/two-factor/enable", json!({"password": PASSWORD, "method": "sms"}));
    assert_error(&resp, 400, "VALIDATION_ERROR");
    let resp = Client::new(&t).post("/two-factor/enable", json!({"password": PASSWORD}));
    assert_error(&resp, 401, "UNAUTHORIZED");
    let user = t.storage().find_user_by_email(EMAIL).unwrap().unwrap();
    assert!(t.storage().find_two_factor(&user.id).unwrap().is_none());
}

fn disable_turns_two_factor_off_and_forgets_the_secret(backend: Backend) {
    let t = app(backend);
    let (mut c, _, _) = with_totp(&t);
    let resp = c.post("/two-factor/disable", json!({"password": "wrong-password-1"}));
    assert_error(&resp, 400, "INVALID_PASSWORD");
    let before = c.cookie_header();
    let resp = c.post("/two-factor/disable", json!({"password": PASSWORD}));
    assert_eq!(json_body(&resp), json!({"status": true}));
    assert_ne!(c.cookie_header(), before, "the session is re-issued");
    assert_eq!(c.session_user()["twoFactorEnabled"], false);
    let user = t.storage().find_user_by_email(EMAIL).unwrap().unwrap();
    assert!(t.storage().find_two_factor(&user.id).unwrap().is_none());
    let resp = Client::new(&t).sign_in();
    assert!(json_body(&resp)["token"].is_string());
}

fn the_flag_cannot_be_set_through_sign_up_or_update_user(backend: Backend) {
    let t = app(backend);
    let mut c = Client::new(&t);
    let resp = c.post(
        "/sign-up/email",
        json!({"name": "Ada", "email": EMAIL, "password": PASSWORD, "twoFactorEnabled": true}),
    );
    assert_eq!(json_body(&resp)["user"]["twoFactorEnabled"], false);
    let resp = c.post("/update-user", json!({"twoFactorEnabled": true}));
    assert_error(&resp, 400, "FIELD_NOT_ALLOWED");
    assert_eq!(json_body(&resp)["message"], "twoFactorEnabled is not allowed to be set");
    assert_eq!(c.session_user()["twoFactorEnabled"], false);
    // Off is not a change of state: ignored like Better Auth's falsy value.
    let resp = c.post("/update-user", json!({"name": "Ada L", "twoFactorEnabled": false}));
    assert_eq!(resp.status, 200);
}

fn challenge_cookies_cannot_be_forged_reused_or_outlived(backend: Backend) {
    let t = app(backend);
    let (_, key, _) = with_totp(&t);
    // No cookie, an unsigned cookie, a cookie signed for another value.
    let mut c = Client::new(&t);
    let resp = c.post("/two-factor/verify-totp", json!({"code": code(&t, &key, 0)}));
    assert_error(&resp, 401, "INVALID_TWO_FACTOR_COOKIE");
    c.set_raw("two_factor", "2fa-guessed");
    let resp = c.post("/two-factor/verify-totp", json!({"code": code(&t, &key, 0)}));
    assert_error(&resp, 401, "INVALID_TWO_FACTOR_COOKIE");
    // A signed cookie of another kind (the session's) names no challenge.
    let mut other = Client::new(&t);
    other.post(
        "/sign-up/email",
        json!({"name": "Eve", "email": "eve@example.com", "password": PASSWORD}),
    );
    let mut c = Client::new(&t);
    c.set_raw("two_factor", &other.raw("session_token").unwrap());
    let resp = c.post("/two-factor/verify-totp", json!({"code": code(&t, &key, 0)}));
    assert_error(&resp, 401, "INVALID_TWO_FACTOR_COOKIE");

    // A challenge outlives neither its ten minutes nor its use.
    let mut c = Client::new(&t);
    c.sign_in();
    let kept = c.cookie_header();
    t.clock.advance(time::Duration::seconds(601));
    let resp = c.post("/two-factor/verify-totp", json!({"code": code(&t, &key, 0)}));
    assert_error(&resp, 401, "INVALID_TWO_FACTOR_COOKIE");
    let mut c = Client::new(&t);
    c.sign_in();
    let kept_fresh = c.cookie_header();
    assert_eq!(
        c.post("/two-factor/verify-totp", json!({"code": code(&t, &key, 0)}))
            .status,
        200
    );
    next_step(&t);
    let resp = t.post_with_cookies(
        "/two-factor/verify-totp",
        json!({"code": code(&t, &key, 0)}),
        &kept_fresh,
    );
    assert_error(&resp, 401, "INVALID_TWO_FACTOR_COOKIE");
    assert_ne!(kept, kept_fresh);
}

fn a_trusted_device_skips_the_challenge_for_thirty_days(backend: Backend) {
    let t = app(backend);
    let (_, key, _) = with_totp(&t);
    let mut c = Client::new(&t);
    c.sign_in();
    let resp = c.post(
        "/two-factor/verify-totp",
        json!({"code": code(&t, &key, 0), "trustDevice": true}),
    );
    assert_eq!(resp.status, 200);
    let trust = set_cookie(&resp, "better-auth.trust_device").unwrap();
    assert!(
        trust.contains("Max-Age=2592000") && trust.contains("HttpOnly"),
        "{trust}"
    );
    let first = c.raw("trust_device").unwrap();

    // The next sign-in from this device gets its session at once, and a new trust cookie.
    c.forget("session_token");
    let resp = c.sign_in();
    let body = json_body(&resp);
    assert!(
        body["token"].is_string() && body.get("twoFactorRedirect").is_none(),
        "{body}"
    );
    let second = c.raw("trust_device").unwrap();
    assert_ne!(first, second);
    // The replaced cookie (a copy taken earlier) no longer skips anything.
    let mut copy = Client::new(&t);
    copy.set_raw("trust_device", &first);
    let resp = copy.sign_in();
    assert_eq!(json_body(&resp)["twoFactorRedirect"], true);
    assert!(set_cookie(&resp, "better-auth.trust_device")
        .unwrap()
        .contains("Max-Age=0"));

    // Another user's trusted device is not trusted for this one.
    let mut eve = Client::new(&t);
    eve.post(
        "/sign-up/email",
        json!({"name": "Eve", "email": "eve@example.com", "password": PASSWORD}),
    );
    let eve_key = key_of(
        json_body(&eve.post("/two-factor/enable", json!({"password": PASSWORD})))["totpURI"]
            .as_str()
            .unwrap(),
    );
    eve.post("/two-factor/verify-totp", json!({"code": code(&t, &eve_key, 0)}));
    eve.forget("session_token");
    eve.post(
        "/sign-in/email",
        json!({"email": "eve@example.com", "password": PASSWORD}),
    );
    let resp = eve.post(
        "/two-factor/verify-totp",
        json!({"code": code(&t, &eve_key, 1), "trustDevice": true}),
    );
    assert_eq!(resp.status, 200);
    let mut mallory = Client::new(&t);
    mallory.set_raw("trust_device", &eve.raw("trust_device").unwrap());
    assert_eq!(json_body(&mallory.sign_in())["twoFactorRedirect"], true);

    // Thirty days later the device has to prove a second factor again.
    t.clock.advance(time::Duration::days(30) + time::Duration::seconds(1));
    c.forget("session_token");
    assert_eq!(json_body(&c.sign_in())["twoFactorRedirect"], true);
}

/// Two sign-ins sending the same TOTP code at the same moment: exactly one gets a session.
fn the_same_code_sent_twice_at_once_works_once(backend: Backend) {
    let t = app(backend);
    let (_, key, _) = with_totp(&t);
    for round in 0..3 {
        let mut clients = [Client::new(&t), Client::new(&t)];
        for c in &mut clients {
            c.sign_in();
        }
        let code = code(&t, &key, 0);
        let statuses: Vec<u16> = std::thread::scope(|s| {
            let handles: Vec<_> = clients
                .iter_mut()
                .map(|c| {
                    let code = code.clone();
                    s.spawn(move || c.post("/two-factor/verify-totp", json!({"code": code})).status)
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut sorted = statuses.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [200, 401], "round {round}: {statuses:?}");
        next_step(&t);
    }
}

crate::backend_suite!(
    enable_answers_uri_and_codes_and_leaves_two_factor_off_until_a_first_code,
    the_first_code_switches_two_factor_on_and_reissues_the_session,
    password_sign_in_answers_a_challenge_and_no_session,
    username_sign_in_is_guarded_too,
    wrong_and_replayed_codes_are_refused,
    five_wrong_codes_end_the_challenge,
    ten_failures_lock_the_account_for_fifteen_minutes,
    get_totp_uri_needs_the_set_up_and_the_password,
    enable_and_disable_need_the_password,
    disable_turns_two_factor_off_and_forgets_the_secret,
    the_flag_cannot_be_set_through_sign_up_or_update_user,
    challenge_cookies_cannot_be_forged_reused_or_outlived,
    a_trusted_device_skips_the_challenge_for_thirty_days,
    the_same_code_sent_twice_at_once_works_once,
);
