//! The two-factor plugin beyond the HTTP pipeline: a `twoFactor` row Better Auth 1.7.25 wrote
//! (fixture) accepted on every backend, the whole flow over a real socket and through the
//! typed in-process API, and the strict rate limit on its routes.

use serde_json::{json, Value};
use sesame::clock::Clock;
use sesame::config::Secret;
use sesame::plugins::two_factor::{self, EnableBody, PasswordBody, VerifyCodeBody};
use sesame::storage::two_factor::{RowChange, TwoFactor, TwoFactorSwitch};
use sesame::ApiInput;

use crate::support::browser::Browser;
use crate::support::http_client;
use crate::support::two_factor::{app, code, key_of, next_step, with_totp, Client, EMAIL};
use crate::support::{assert_error, json_body, set_cookie, Backend, TestApp, BASE, PASSWORD};

fn fixture() -> Value {
    serde_json::from_str(include_str!("../fixtures/better-auth-two-factor.json")).unwrap()
}

fn a_better_auth_row_is_accepted(backend: Backend) {
    let fx = fixture();
    let secret = fx["secret"].as_str().unwrap().to_string();
    let t = TestApp::with_config(backend, move |c| {
        c.plugins = vec!["two-factor".into()];
        c.secret = Secret::new(secret);
    });
    let mut c = Client::new(&t);
    let resp = c.post(
        "/sign-up/email",
        json!({"name": "Ada", "email": EMAIL, "password": PASSWORD}),
    );
    let user_id = json_body(&resp)["user"]["id"].as_str().unwrap().to_string();
    // Better Auth's row, moved to this user: secret and backup codes exactly as it stored them.
    let row = &fx["row"];
    let text = |k: &str| row[k].as_str().unwrap().to_string();
    t.storage()
        .save_two_factor(&TwoFactor {
            id: text("id"),
            secret: text("secret"),
            backup_codes: text("backupCodes"),
            user_id: user_id.clone(),
            verified: row["verified"].as_bool(),
            failed_verification_count: row["failedVerificationCount"].as_i64(),
            locked_until: None,
        })
        .unwrap();
    let on = TwoFactorSwitch {
        user_id: &user_id,
        enabled: true,
        now: t.clock.now(),
        row: RowChange::Keep,
        rotate: None,
    };
    t.storage().switch_two_factor(&on).unwrap().unwrap();

    // The URI carries Better Auth's secret.
    let resp = c.post("/two-factor/get-totp-uri", json!({"password": PASSWORD}));
    let key = key_of(json_body(&resp)["totpURI"].as_str().unwrap());
    assert_eq!(key, fx["totpSecret"].as_str().unwrap().as_bytes());

    // Sign-in answers as Better Auth did (its reference also offers "otp").
    let mut c = Client::new(&t);
    let resp = c.post(
        "/sign-in/email",
        json!({"email": EMAIL, "password": PASSWORD, "callbackURL": "/home", "rememberMe": false}),
    );
    let recorded = &fx["signInChallenge"];
    assert_eq!(
        json_body(&resp)["twoFactorRedirect"],
        recorded["body"]["twoFactorRedirect"]
    );
    assert_eq!(resp.header("location"), recorded["location"].as_str());
    let attributes = |line: &str| line.split_once(';').map(|(_, a)| a.trim().to_string());
    for name in ["two_factor", "session_token", "dont_remember"] {
        let ours = set_cookie(&resp, &format!("better-auth.{name}")).unwrap();
        let theirs = recorded["setCookie"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .find(|l| l.starts_with(&format!("better-auth.{name}=")))
            .unwrap();
        assert_eq!(attributes(&ours), attributes(theirs), "{name}");
    }
    let resp = c.post("/two-factor/verify-totp", json!({"code": code(&t, &key, 0)}));
    assert_eq!(resp.status, 200);
    // rememberMe: false carries through the challenge: a browser-session cookie.
    assert!(!set_cookie(&resp, "better-auth.session_token")
        .unwrap()
        .contains("Max-Age"));
    assert_eq!(c.session_user()["id"], user_id.as_str());

    // Better Auth's encrypted backup codes work, once each, and the rest stay readable to it.
    let backup = fx["backupCodes"][0].as_str().unwrap();
    let mut c = Client::new(&t);
    c.sign_in();
    assert_eq!(
        c.post("/two-factor/verify-backup-code", json!({"code": backup})).status,
        200
    );
    let row = t.storage().find_two_factor(&user_id).unwrap().unwrap();
    let left = sesame::plugins::two_factor::vault::open_codes(fx["secret"].as_str().unwrap(), &row.backup_codes);
    assert_eq!(left.unwrap().unwrap().len(), 9);
}

fn the_flow_works_over_a_real_socket(backend: Backend) {
    let t = app(backend);
    let server = http_client::spawn(t.app.clone());
    let mut b = Browser::new(server.addr);
    let at = |path: &str| format!("{BASE}{path}");
    let resp = b.post(
        &at("/sign-up/email"),
        &json!({"name": "Ada", "email": EMAIL, "password": PASSWORD}),
    );
    assert_eq!(resp.status, 200);
    let resp = b.post(&at("/two-factor/enable"), &json!({"password": PASSWORD}));
    let key = key_of(resp.json()["totpURI"].as_str().unwrap());
    let resp = b.post(&at("/two-factor/verify-totp"), &json!({"code": code(&t, &key, 0)}));
    assert_eq!(resp.json()["user"]["twoFactorEnabled"], true);
    next_step(&t);

    b.clear();
    let resp = b.post(&at("/sign-in/email"), &json!({"email": EMAIL, "password": PASSWORD}));
    assert_eq!(resp.json()["twoFactorRedirect"], true);
    assert!(resp
        .set_cookies()
        .iter()
        .any(|c| c.starts_with("better-auth.two_factor=")));
    let resp = b.post(&at("/two-factor/verify-totp"), &json!({"code": code(&t, &key, 0)}));
    assert_eq!(resp.status, 200);
    let resp = b.get(&at("/get-session"));
    assert_eq!(resp.json()["user"]["email"], EMAIL);
}

fn the_flow_works_through_the_in_process_api(backend: Backend) {
    let t = app(backend);
    let (_, cookies) = t.sign_up(EMAIL);
    let enabled = t
        .app
        .endpoint(&two_factor::ENABLE)
        .header("cookie", &cookies)
        .body(EnableBody {
            password: PASSWORD.into(),
            ..EnableBody::default()
        })
        .send()
        .unwrap();
    assert_eq!(enabled.method, "totp");
    assert_eq!(enabled.backup_codes.as_ref().map(Vec::len), Some(10));
    let key = key_of(enabled.totp_uri.as_deref().unwrap());
    let verified = t
        .app
        .endpoint(&two_factor::VERIFY_TOTP)
        .header("cookie", &cookies)
        .body(VerifyCodeBody {
            code: code(&t, &key, 0),
            trust_device: None,
        })
        .with_headers()
        .unwrap();
    assert_eq!(verified.data.user.extra["twoFactorEnabled"], true);
    next_step(&t);

    // Sign-in in-process: the typed answer says a second factor is needed...
    let typed = t
        .app
        .endpoint(&sesame::api::SIGN_IN_EMAIL)
        .body(sesame::api::SignInEmailBody {
            email: EMAIL.into(),
            password: PASSWORD.into(),
            ..Default::default()
        })
        .send()
        .unwrap();
    assert!(typed.needs_second_factor() && typed.token.is_empty());
    assert_eq!(typed.two_factor_methods.unwrap(), ["totp", "otp"]);
    // ... then the untyped call's cookie goes with the code.
    let input = ApiInput::new().body(json!({"email": EMAIL, "password": PASSWORD}));
    let challenge = t.app.call_with_headers("signInEmail", input).unwrap();
    assert_eq!(challenge.data["twoFactorRedirect"], true);
    let cookie = challenge
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("better-auth.two_factor="))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string();
    let wrong = t
        .app
        .endpoint(&two_factor::VERIFY_TOTP)
        .header("cookie", &cookie)
        .body(VerifyCodeBody {
            code: "12345x".into(),
            trust_device: None,
        })
        .send()
        .unwrap_err();
    assert_eq!((wrong.status, wrong.code.as_ref()), (401, "INVALID_CODE"));
    let session = t
        .app
        .endpoint(&two_factor::VERIFY_TOTP)
        .header("cookie", &cookie)
        .body(VerifyCodeBody {
            code: code(&t, &key, 0),
            trust_device: None,
        })
        .send()
        .unwrap();
    assert!(session.token.is_some_and(|s| s.len() == 32));
    let err = t
        .app
        .endpoint(&two_factor::DISABLE)
        .body(PasswordBody {
            password: PASSWORD.into(),
        })
        .send()
        .unwrap_err();
    assert_eq!((err.status, err.code.as_ref()), (401, "UNAUTHORIZED"));
}

/// Better Auth's plugin rule: 3 requests per 10 seconds per client on `/two-factor/*`.
fn two_factor_routes_are_under_the_strict_rate_limit(backend: Backend) {
    let t = TestApp::with_config(backend, |c| {
        c.plugins = vec!["two-factor".into()];
        c.rate_limit = true;
    });
    let mut c = Client::new(&t);
    for _ in 0..3 {
        let resp = c.post("/two-factor/verify-totp", json!({"code": "000000"}));
        assert_error(&resp, 401, "INVALID_TWO_FACTOR_COOKIE");
    }
    let resp = c.post("/two-factor/verify-totp", json!({"code": "000000"}));
    assert_eq!(resp.status, 429);
    t.clock.advance(time::Duration::seconds(11));
    let resp = c.post("/two-factor/verify-totp", json!({"code": "000000"}));
    assert_eq!(resp.status, 401);
}

/// Deleting a user removes their `twoFactor` row with them.
fn deleting_the_user_deletes_the_row(backend: Backend) {
    let t = app(backend);
    let (mut c, _, _) = with_totp(&t);
    let user = t.storage().find_user_by_email(EMAIL).unwrap().unwrap();
    assert!(t.storage().find_two_factor(&user.id).unwrap().is_some());
    assert!(t.storage().delete_user(&user.id).unwrap());
    assert!(t.storage().find_two_factor(&user.id).unwrap().is_none());
    assert_eq!(c.session_user(), Value::Null);
}

crate::backend_suite!(
    a_better_auth_row_is_accepted,
    the_flow_works_over_a_real_socket,
    the_flow_works_through_the_in_process_api,
    two_factor_routes_are_under_the_strict_rate_limit,
    deleting_the_user_deletes_the_row,
);
