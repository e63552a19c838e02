//! Regression tests for the social sign-in attacks of the first outside audit (issue 12), each
//! performed over a real socket against `sesame`'s HTTP server and the fake provider: an
//! account takeover through `additionalData`, open redirects through the same door,
//! pre-account hijacking through an unverified provider email, and provider addresses that
//! only look like a user's.

use serde_json::{json, Value};
use sesame::mail::MailKind;

use crate::support::browser::{location, target_of, Browser};
use crate::support::fake_provider::{FakeProvider, TestKey};
use crate::support::http_client;
use crate::support::mail::query_param;
use crate::support::oauth;
use crate::support::TestApp;

const SOCIAL: &str = "/api/auth/sign-in/social";

/// The fake provider answering as one GitHub account with one primary address.
fn provider_account(f: &FakeProvider, id: u64, email: &str, verified: bool) {
    f.respond_json(
        "/github/user",
        200,
        &json!({"login": format!("user{id}"), "id": id, "name": "Provider User", "email": null}),
    );
    f.respond_json(
        "/github/emails",
        200,
        &json!([{"email": email, "primary": true, "verified": verified}]),
    );
}

/// Starts a GitHub sign-in in `browser` and returns the flow's `state`.
fn start(browser: &mut Browser, body: Value) -> String {
    let resp = browser.post(SOCIAL, &body);
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    let url = resp.json()["url"].as_str().unwrap().to_string();
    query_param(&url, "state").expect("state")
}

/// The provider sending the browser back with a code.
fn finish(browser: &mut Browser, state: &str) -> String {
    location(&browser.get(&format!("/api/auth/callback/github?code=c&state={state}")))
}

fn session(browser: &mut Browser) -> Value {
    browser.get("/api/auth/get-session").json()
}

fn providers(t: &TestApp, user_id: &str) -> Vec<String> {
    t.storage()
        .list_user_accounts(user_id)
        .unwrap()
        .into_iter()
        .map(|a| a.provider_id)
        .collect()
}

/// Item 1: `additionalData.link` named the victim, and the attacker's provider account was
/// attached to the victim's user; from then on the attacker's social sign-in was the victim.
fn additional_data_cannot_link_a_provider_account_to_another_user(t: &TestApp) {
    let f = oauth::fake();
    provider_account(&f, 666, "attacker@evil.test", true);
    let t = oauth::app(t.backend, &f, &[]);
    let victim = t.signed_up("victim@example.com");
    let server = http_client::spawn(t.app.clone());
    let mut attacker = Browser::new(server.addr);
    let state = start(
        &mut attacker,
        json!({"provider": "github", "callbackURL": "/dash",
               "additionalData": {"link": {"userId": victim.user_id, "email": "attacker@evil.test"}}}),
    );
    assert_eq!(finish(&mut attacker, &state), "/dash");
    assert_eq!(
        providers(&t, &victim.user_id),
        ["credential"],
        "nothing was linked to the victim"
    );
    let me = session(&mut attacker);
    assert_eq!(me["user"]["email"], "attacker@evil.test", "{me}");
    assert_ne!(me["user"]["id"], victim.user_id.as_str());

    // Signing in again with the same provider account stays the attacker's own user.
    let mut again = Browser::new(server.addr);
    let state = start(&mut again, json!({"provider": "github", "callbackURL": "/dash"}));
    assert_eq!(finish(&mut again, &state), "/dash");
    assert_ne!(session(&mut again)["user"]["id"], victim.user_id.as_str());
    server.stop();
}

/// Item 1: every key Sesame itself reads from the state is dropped from `additionalData` (a
/// value there never decides who is linked, where the browser goes, or whether sign-up is
/// allowed); other keys pass through, as in Better Auth.
fn reserved_state_keys_are_stripped_from_additional_data(t: &TestApp) {
    let f = oauth::fake();
    let t = oauth::app(t.backend, &f, &[("SESAME_GITHUB_DISABLE_IMPLICIT_SIGN_UP", "true")]);
    let server = http_client::spawn(t.app.clone());
    let mut browser = Browser::new(server.addr);
    let injected = json!({
        "callbackURL": "https://evil.example/cb", "codeVerifier": "x", "errorURL": "https://evil.example/e",
        "newUserURL": "https://evil.example/n", "link": {"userId": "u", "email": "e@example.com"},
        "expiresAt": 4_102_444_800_000_i64, "requestSignUp": true, "idTokenNonce": "n",
        "oauthState": "s", "serverContext": {"role": "admin"}, "plan": "pro",
    });
    let state = start(
        &mut browser,
        json!({"provider": "github", "callbackURL": "/dash", "errorCallbackURL": "/err", "additionalData": injected}),
    );
    let row = t.storage().find_verification(&state).unwrap().expect("state row");
    let stored: Value = serde_json::from_str(&row.value).unwrap();
    for key in ["link", "newUserURL", "requestSignUp", "idTokenNonce", "serverContext"] {
        assert!(stored.get(key).is_none(), "{key} survived: {stored}");
    }
    assert_eq!(stored["callbackURL"], "/dash");
    assert_eq!(stored["errorURL"], "/err");
    assert_eq!(stored["oauthState"], state.as_str());
    assert_ne!(stored["codeVerifier"], "x");
    assert_eq!(stored["plan"], "pro", "other keys pass through");
    // `requestSignUp` from additionalData does not open sign-up.
    assert_eq!(finish(&mut browser, &state), "/err?error=signup_disabled");
    server.stop();
}

/// Item 2: `additionalData.errorURL` skipped the trusted-origin check, so a crafted state sent
/// whoever opened the callback to another site — with or without the state cookie, and on
/// `error=access_denied`.
fn additional_data_error_url_cannot_redirect_off_site(t: &TestApp) {
    let f = oauth::fake();
    let t = oauth::app(t.backend, &f, &[]);
    let server = http_client::spawn(t.app.clone());
    let evil = json!({"errorURL": "https://evil.example/steal", "newUserURL": "https://evil.example/new"});
    let default_error = "http://localhost:3000/api/auth/error";

    // The attacker's own browser, denying consent at the provider.
    let mut attacker = Browser::new(server.addr);
    let state = start(&mut attacker, json!({"provider": "github", "additionalData": evil}));
    let resp = attacker.get(&format!("/api/auth/callback/github?error=access_denied&state={state}"));
    assert_eq!(location(&resp), format!("{default_error}?error=access_denied"));

    // A victim lured to the attacker's callback link has no state cookie.
    let state = start(&mut attacker, json!({"provider": "github", "additionalData": evil}));
    let mut victim = Browser::new(server.addr);
    let resp = victim.get(&format!("/api/auth/callback/github?code=c&state={state}"));
    assert_eq!(location(&resp), format!("{default_error}?error=state_mismatch"));
    let resp = victim.get(&format!("/api/auth/callback/github?error=access_denied&state={state}"));
    assert!(!location(&resp).contains("evil"), "{}", location(&resp));

    // A new user lands on callbackURL, not on additionalData's newUserURL.
    let mut browser = Browser::new(server.addr);
    let state = start(
        &mut browser,
        json!({"provider": "github", "callbackURL": "/dash", "additionalData": evil}),
    );
    assert_eq!(finish(&mut browser, &state), "/dash");
    server.stop();
}

/// Item 3: an attacker signs in with a provider that reports the victim's address unverified,
/// so Sesame creates the user. The victim cannot sign up, resets the password — proving they
/// own the address — and from then on the attacker's provider account no longer gets in.
fn password_reset_evicts_an_unverified_provider_account(t: &TestApp) {
    let f = oauth::fake();
    provider_account(&f, 777, "victim@example.com", false);
    let t = oauth::app(t.backend, &f, &[]);
    let server = http_client::spawn(t.app.clone());
    let mut attacker = Browser::new(server.addr);
    let state = start(
        &mut attacker,
        json!({"provider": "github", "callbackURL": "/dash", "errorCallbackURL": "/err"}),
    );
    assert_eq!(finish(&mut attacker, &state), "/dash");
    let planted = session(&mut attacker);
    assert_eq!(planted["user"]["email"], "victim@example.com");
    assert_eq!(planted["user"]["emailVerified"], false);
    let user_id = planted["user"]["id"].as_str().unwrap().to_string();

    let mut victim = Browser::new(server.addr);
    let sign_up = json!({"name": "Victim", "email": "victim@example.com", "password": "victim-password-1"});
    assert_eq!(victim.post("/api/auth/sign-up/email", &sign_up).status, 422);
    let resp = victim.post(
        "/api/auth/request-password-reset",
        &json!({"email": "victim@example.com"}),
    );
    assert_eq!(resp.status, 200);
    let link = t.mail_to(MailKind::ResetPassword, "victim@example.com").url;
    let token = target_of(&link)
        .split('/')
        .nth(4)
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let resp = victim.post(
        "/api/auth/reset-password",
        &json!({"newPassword": "victim-password-2", "token": token}),
    );
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));

    assert!(session(&mut attacker).is_null(), "the attacker's session was revoked");
    assert_eq!(providers(&t, &user_id), ["credential"]);
    let mut attacker = Browser::new(server.addr);
    let state = start(
        &mut attacker,
        json!({"provider": "github", "callbackURL": "/dash", "errorCallbackURL": "/err"}),
    );
    assert_eq!(finish(&mut attacker, &state), "/err?error=account_not_linked");
    assert!(session(&mut attacker).is_null());

    let resp = victim.post(
        "/api/auth/sign-in/email",
        &json!({"email": "victim@example.com", "password": "victim-password-2"}),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["user"]["id"], user_id.as_str());
    assert_eq!(resp.json()["user"]["emailVerified"], true);
    server.stop();
}

/// Item 3, the other proof of ownership: the victim opens a verification link for the address.
fn email_verification_evicts_an_unverified_provider_account(t: &TestApp) {
    let f = oauth::fake();
    provider_account(&f, 778, "victim@example.com", false);
    let t = oauth::app(t.backend, &f, &[]);
    let server = http_client::spawn(t.app.clone());
    let mut attacker = Browser::new(server.addr);
    let state = start(
        &mut attacker,
        json!({"provider": "github", "callbackURL": "/dash", "errorCallbackURL": "/err"}),
    );
    assert_eq!(finish(&mut attacker, &state), "/dash");
    let user_id = session(&mut attacker)["user"]["id"].as_str().unwrap().to_string();

    let mut victim = Browser::new(server.addr);
    let resp = victim.post(
        "/api/auth/send-verification-email",
        &json!({"email": "victim@example.com"}),
    );
    assert_eq!(resp.status, 200);
    let link = t.mail_to(MailKind::Verification, "victim@example.com").url;
    assert_eq!(location(&victim.get(&target_of(&link))), "/");

    assert!(session(&mut attacker).is_null(), "the attacker's session was revoked");
    assert!(providers(&t, &user_id).is_empty(), "{:?}", providers(&t, &user_id));
    let user = t.storage().find_user_by_id(&user_id).unwrap().unwrap();
    assert!(user.email_verified);
    let mut attacker = Browser::new(server.addr);
    let state = start(
        &mut attacker,
        json!({"provider": "github", "callbackURL": "/dash", "errorCallbackURL": "/err"}),
    );
    assert_eq!(finish(&mut attacker, &state), "/err?error=account_not_linked");
    server.stop();
}

/// Also: a provider address that only case-folds to a user's (U+212A KELVIN SIGN lower-cases
/// to `k`) is not that user's address: it is refused before anything is stored or compared.
fn look_alike_provider_address_is_not_linked(t: &TestApp) {
    let f = oauth::fake();
    provider_account(&f, 779, "\u{212A}ate@example.com", true);
    let t = oauth::app(t.backend, &f, &[]);
    let kate = t.signed_up("kate@example.com");
    t.mark_verified("kate@example.com");
    let server = http_client::spawn(t.app.clone());
    let mut attacker = Browser::new(server.addr);
    let state = start(
        &mut attacker,
        json!({"provider": "github", "callbackURL": "/dash", "errorCallbackURL": "/err"}),
    );
    assert_eq!(finish(&mut attacker, &state), "/err?error=invalid_email");
    assert!(session(&mut attacker).is_null());
    assert_eq!(providers(&t, &kate.user_id), ["credential"]);

    // A provider address that is not an address at all is refused the same way.
    provider_account(&f, 780, "kate@example.com\r\nBcc: x@evil.test", true);
    let state = start(
        &mut attacker,
        json!({"provider": "github", "callbackURL": "/dash", "errorCallbackURL": "/err"}),
    );
    assert_eq!(finish(&mut attacker, &state), "/err?error=invalid_email");
    assert_eq!(providers(&t, &kate.user_id), ["credential"]);
    server.stop();
}

/// Also, the ID-token door: a verified token whose address only case-folds to a user's.
fn look_alike_id_token_address_is_refused(t: &TestApp) {
    let f = oauth::fake();
    let t = oauth::app(t.backend, &f, &[]);
    let kate = t.signed_up("kate@example.com");
    t.mark_verified("kate@example.com");
    let server = http_client::spawn(t.app.clone());
    let claims = oauth::claims(
        &t,
        "https://accounts.google.com",
        "google-client",
        "g-9",
        "\u{212A}ate@example.com",
    );
    let token = oauth::id_token(&claims, TestKey::Rsa);
    let mut attacker = Browser::new(server.addr);
    let resp = attacker.post(SOCIAL, &json!({"provider": "google", "idToken": {"token": token}}));
    assert_eq!(resp.status, 401, "{}", String::from_utf8_lossy(&resp.body));
    assert_eq!(resp.json()["code"], "INVALID_EMAIL");
    assert!(session(&mut attacker).is_null());
    assert_eq!(providers(&t, &kate.user_id), ["credential"]);
    server.stop();
}

crate::suite!(
    look_alike_id_token_address_is_refused,
    additional_data_cannot_link_a_provider_account_to_another_user,
    reserved_state_keys_are_stripped_from_additional_data,
    additional_data_error_url_cannot_redirect_off_site,
    password_reset_evicts_an_unverified_provider_account,
    email_verification_evicts_an_unverified_provider_account,
    look_alike_provider_address_is_not_linked,
);
