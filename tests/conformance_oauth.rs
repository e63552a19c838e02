//! Social sign-in details where Sesame answers as Better Auth 1.7.25 does: the verification
//! email a social sign-up with an unverified provider email gets, `/account-info`'s merged
//! profile and closed `account` object, and `/refresh-token` leaving out what it does not have.

use serde_json::{json, Map, Value};
use sesame::config::oauth::OAuthConfig;
use sesame::http::Response;
use sesame::mail::MailKind;
use sesame::ApiInput;

use crate::support::fake_provider::{FakeProvider, TestKey};
use crate::support::oauth::{self, callback, location, start};
use crate::support::{assert_error, cookie_header, json_body, TestApp};

/// An app whose providers point at `f`, sending verification email on sign-up or not.
fn app(t: &TestApp, f: &FakeProvider, send_on_sign_up: bool) -> TestApp {
    let vars = oauth::vars(f, &[]);
    TestApp::with_config(t.backend, |c| {
        c.oauth = OAuthConfig::from_vars(&vars).expect("oauth config parses");
        c.email.send_on_sign_up = send_on_sign_up;
    })
}

/// A whole sign-in through the generic OIDC provider `mock`; `edit` adjusts the ID token.
fn oidc_sign_in(t: &TestApp, f: &FakeProvider, body: Value, edit: impl FnOnce(&mut Value)) -> Response {
    let flow = start(t, body);
    let mut claims = oauth::claims(t, &f.base, "mock-client", "oidc-user-1", "ada@example.com");
    claims["nonce"] = json!(flow.param("nonce").expect("OIDC flows carry a nonce"));
    edit(&mut claims);
    let token = oauth::id_token(&claims, TestKey::Rsa);
    f.respond_json(
        "/oidc/token",
        200,
        &json!({"access_token": "oidc-access", "refresh_token": "oidc-refresh", "id_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": "openid email profile"}),
    );
    callback(t, "mock", &[("code", "c"), ("state", &flow.state)], &flow.cookies)
}

fn as_user(sub: &'static str, email: &'static str, verified: bool) -> impl FnOnce(&mut Value) {
    move |c: &mut Value| {
        c["sub"] = json!(sub);
        c["email"] = json!(email);
        c["email_verified"] = json!(verified);
    }
}

fn mails_to(t: &TestApp, to: &str) -> usize {
    t.delivered().iter().filter(|m| m.to == to).count()
}

fn social_sign_up_with_an_unverified_email_mails_a_verification_link(t: &TestApp) {
    let f = oauth::fake();
    let t = app(t, &f, true);
    let body = json!({"provider": "mock", "callbackURL": "/welcome"});
    let resp = oidc_sign_in(&t, &f, body.clone(), as_user("s-ada", "ada@example.com", false));
    assert_eq!(location(&resp), "/welcome");
    let cookies = cookie_header(&resp);
    let me = json_body(&t.get("/get-session", Some(&cookies)));
    assert_eq!(me["user"]["emailVerified"], false, "signed in, not yet verified");

    let mail = t.mail_to(MailKind::Verification, "ada@example.com");
    assert!(
        mail.url
            .starts_with("http://localhost:3000/api/auth/verify-email?token="),
        "{}",
        mail.url
    );
    assert!(mail.url.ends_with("&callbackURL=%2Fwelcome"), "{}", mail.url);
    // Opened in the browser that signed up: the account holder proves the address, so the
    // provider account stays (opened by anyone else it would be dropped: `audit_oauth.rs`).
    let opened = t.open_link(&mail.url, Some(&cookies));
    assert_eq!(location(&opened), "/welcome");
    let me = json_body(&t.get("/get-session", Some(&cookies)));
    assert_eq!(me["user"]["emailVerified"], true);

    // Signing in again is not a sign-up: nothing more is sent.
    let resp = oidc_sign_in(&t, &f, body.clone(), as_user("s-ada", "ada@example.com", false));
    assert_eq!(location(&resp), "/welcome");
    assert_eq!(mails_to(&t, "ada@example.com"), 1);
    // A provider that vouches for the address: nothing to verify.
    let resp = oidc_sign_in(&t, &f, body, as_user("s-cy", "cy@example.com", true));
    assert_eq!(location(&resp), "/welcome");
    assert_eq!(mails_to(&t, "cy@example.com"), 0);
    // Without a callbackURL the link carries the sign-in's default, the app's origin.
    let resp = oidc_sign_in(
        &t,
        &f,
        json!({"provider": "mock"}),
        as_user("s-dee", "dee@example.com", false),
    );
    assert_eq!(location(&resp), "http://localhost:3000");
    let mail = t.mail_to(MailKind::Verification, "dee@example.com");
    assert!(
        mail.url.ends_with("&callbackURL=http%3A%2F%2Flocalhost%3A3000"),
        "{}",
        mail.url
    );
}

fn social_sign_up_sends_nothing_when_sign_up_mail_is_off(t: &TestApp) {
    let f = oauth::fake();
    let t = app(t, &f, false);
    let resp = oidc_sign_in(
        &t,
        &f,
        json!({"provider": "mock", "callbackURL": "/welcome"}),
        as_user("s-eve", "eve@example.com", false),
    );
    assert_eq!(location(&resp), "/welcome");
    t.assert_no_mail();
}

fn google_token(t: &TestApp, sub: &str, email: &str) -> String {
    let mut c = oauth::claims(t, "https://accounts.google.com", "google-client", sub, email);
    c["email_verified"] = json!(false);
    oauth::id_token(&c, TestKey::Rsa)
}

fn id_token_sign_up_mails_a_link_over_http_and_in_process(t: &TestApp) {
    let f = oauth::fake();
    let t = app(t, &f, true);
    let token = google_token(&t, "g-1", "gus@example.com");
    let resp = t.post(
        "/sign-in/social",
        json!({"provider": "google", "idToken": {"token": token}}),
    );
    assert_eq!(resp.status, 200, "{}", crate::support::body_text(&resp));
    assert_eq!(json_body(&resp)["user"]["emailVerified"], false);
    let mail = t.mail_to(MailKind::Verification, "gus@example.com");
    assert!(
        mail.url.ends_with("&callbackURL=%2F"),
        "no callbackURL: / ({})",
        mail.url
    );

    let token = google_token(&t, "g-2", "hal@example.com");
    let data = t
        .app
        .call(
            "signInSocial",
            ApiInput::new().body(json!({"provider": "google", "callbackURL": "/home", "idToken": {"token": token}})),
        )
        .unwrap();
    assert_eq!(data["user"]["email"], "hal@example.com");
    let mail = t.mail_to(MailKind::Verification, "hal@example.com");
    assert!(mail.url.ends_with("&callbackURL=%2Fhome"), "{}", mail.url);
}

fn a_hostile_callback_never_reaches_a_working_link(t: &TestApp) {
    let f = oauth::fake();
    let t = app(t, &f, true);
    // Over HTTP the callbackURL is refused before anything happens.
    let resp = t.post(
        "/sign-in/social",
        json!({"provider": "mock", "callbackURL": "https://evil.example/phish"}),
    );
    assert_error(&resp, 403, "INVALID_CALLBACK_URL");
    let token = google_token(&t, "g-3", "ivy@example.com");
    let resp = t.post(
        "/sign-in/social",
        json!({"provider": "google", "callbackURL": "//evil.example", "idToken": {"token": token}}),
    );
    assert_error(&resp, 403, "INVALID_CALLBACK_URL");
    t.assert_no_mail();
    // In-process callers are trusted as Better Auth's `auth.api` callers are, but the emailed
    // link checks its callbackURL again when opened.
    t.app
        .call(
            "signInSocial",
            ApiInput::new().body(
                json!({"provider": "google", "callbackURL": "https://evil.example/phish", "idToken": {"token": token}}),
            ),
        )
        .unwrap();
    let mail = t.mail_to(MailKind::Verification, "ivy@example.com");
    assert_error(&t.open_link(&mail.url, None), 403, "INVALID_CALLBACK_URL");
}

/// The merged profile Better Auth 1.7.25's generic OAuth plugin answers (observed on the
/// reference with an OIDC provider): `id`, `emailVerified`, `image`, then every claim.
fn merged(claims: &Value) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), claims["sub"].clone());
    m.insert("emailVerified".into(), claims["email_verified"].clone());
    m.insert("image".into(), claims["picture"].clone());
    for (k, v) in claims.as_object().unwrap() {
        m.insert(k.clone(), v.clone());
    }
    Value::Object(m)
}

fn account_info_and_refresh_token_answer_better_auths_shapes(t: &TestApp) {
    let f = oauth::fake();
    let t = app(t, &f, false);
    let mut claims = Value::Null;
    let resp = oidc_sign_in(&t, &f, json!({"provider": "mock"}), |c| claims = c.clone());
    let cookies = cookie_header(&resp);
    let account_id = json_body(&t.get("/list-accounts", Some(&cookies)))[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let info_path = format!("/account-info?accountId={account_id}");
    let body = json_body(&t.get(&info_path, Some(&cookies)));
    assert_eq!(body["data"], merged(&claims));
    assert_eq!(body["data"].to_string(), merged(&claims).to_string(), "key order");
    assert_eq!(
        body["user"],
        json!({"name": "Id Token User", "email": "ada@example.com", "image": "https://img.example.com/p.png", "emailVerified": true})
    );
    assert_eq!(
        body["account"],
        json!({"id": account_id, "providerId": "mock", "accountId": "oidc-user-1"})
    );
    assert!(f.requests("/oidc/userinfo").is_empty(), "read from the stored id_token");
    // In-process, the same answer.
    let data = t
        .app
        .call(
            "accountInfo",
            ApiInput::new()
                .header("cookie", &cookies)
                .query("accountId", &account_id),
        )
        .unwrap();
    assert_eq!(data, body);

    // Once the id_token has expired, the userinfo endpoint answers (with a refreshed token).
    t.clock.advance(time::Duration::hours(2));
    f.respond_json(
        "/oidc/token",
        200,
        &json!({"access_token": "oidc-access-2", "token_type": "Bearer", "expires_in": 3600}),
    );
    let body = json_body(&t.get(&info_path, Some(&cookies)));
    assert_eq!(
        body["data"].to_string(),
        r#"{"sub":"oidc-user-1","email":"ada@example.com","email_verified":true,"name":"Ada Lovelace","picture":"https://img.example.com/ada.png","emailVerified":true,"image":"https://img.example.com/ada.png"}"#
    );
    let asked = f.requests("/oidc/userinfo");
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].header("authorization"), Some("Bearer oidc-access-2"));

    // No refresh-token lifetime: the key is left out, not null.
    let body = json_body(&t.post_with_cookies("/refresh-token", json!({"accountId": account_id}), &cookies));
    let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "accessToken",
            "refreshToken",
            "accessTokenExpiresAt",
            "scope",
            "idToken",
            "providerId",
            "accountId"
        ]
    );
    assert_eq!(body["refreshToken"], "oidc-refresh");
    assert_eq!(body["scope"], "openid,email,profile");
    f.respond_json(
        "/oidc/token",
        200,
        &json!({"access_token": "oidc-access-3", "token_type": "Bearer", "expires_in": 3600, "refresh_token_expires_in": 7200}),
    );
    let body = json_body(&t.post_with_cookies("/refresh-token", json!({"accountId": account_id}), &cookies));
    assert!(body["refreshTokenExpiresAt"].is_string(), "{body}");
}

fn account_info_without_a_live_provider_token_fails_cleanly(t: &TestApp) {
    let f = oauth::fake();
    let t = app(t, &f, false);
    let resp = oidc_sign_in(&t, &f, json!({"provider": "mock"}), |_| {});
    let cookies = cookie_header(&resp);
    let account_id = json_body(&t.get("/list-accounts", Some(&cookies)))[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The id_token expired and the userinfo endpoint refuses: 401, no fallback guesswork.
    t.clock.advance(time::Duration::minutes(70));
    f.respond_json(
        "/oidc/token",
        200,
        &json!({"access_token": "oidc-access-2", "token_type": "Bearer", "expires_in": 3600}),
    );
    f.respond("/oidc/userinfo", 401, "{}");
    assert_error(
        &t.get(&format!("/account-info?accountId={account_id}"), Some(&cookies)),
        401,
        "FAILED_TO_GET_USER_INFO",
    );
}

crate::suite!(
    social_sign_up_with_an_unverified_email_mails_a_verification_link,
    social_sign_up_sends_nothing_when_sign_up_mail_is_off,
    id_token_sign_up_mails_a_link_over_http_and_in_process,
    a_hostile_callback_never_reaches_a_working_link,
    account_info_and_refresh_token_answer_better_auths_shapes,
    account_info_without_a_live_provider_token_fails_cleanly,
);
