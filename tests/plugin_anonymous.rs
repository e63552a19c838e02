//! The anonymous plugin on every backend, over the HTTP pipeline and in-process: guests and
//! their generated addresses, the refusals (a guest signing in anonymously again, deleting a
//! real user, `isAnonymous` set by a client), the guest deleted when they sign up, sign in or
//! open a magic link (and kept on a failed sign-in, a forged cookie, with deletion disabled),
//! `/delete-anonymous-user`, cross-site requests.

use serde_json::{json, Value};
use sesame::http::{Request, Response};
use sesame::mail::MailKind;
use sesame::storage::admin::UserQuery;
use sesame::ApiInput;

use crate::support::{assert_error, cookie_header, json_body, set_cookie, Backend, TestApp, BASE, ORIGIN, PASSWORD};

const EMAIL: &str = "ada@example.com";

fn app(backend: Backend) -> TestApp {
    app_with(backend, |_| {})
}

fn app_with(backend: Backend, adjust: impl FnOnce(&mut sesame::Config)) -> TestApp {
    TestApp::with_config(backend, |c| {
        c.plugins = vec!["anonymous".to_string()];
        adjust(c);
    })
}

fn user_count(t: &TestApp) -> u64 {
    t.storage().list_users(&UserQuery::default()).unwrap().1
}

/// Signs in as a new guest: the answer's user and the cookies to send back.
fn guest(t: &TestApp) -> (Value, String) {
    let resp = t.post("/sign-in/anonymous", json!({}));
    assert_eq!(resp.status, 200, "{}", crate::support::body_text(&resp));
    (json_body(&resp)["user"].clone(), cookie_header(&resp))
}

fn user_exists(t: &TestApp, id: &Value) -> bool {
    t.storage().find_user_by_id(id.as_str().unwrap()).unwrap().is_some()
}

fn session_user(t: &TestApp, cookies: &str) -> Value {
    json_body(&t.get("/get-session", Some(cookies)))["user"].clone()
}

fn a_guest_gets_a_placeholder_address_and_a_session(backend: Backend) {
    let t = app(backend);
    let resp = t.post("/sign-in/anonymous", json!({}));
    assert_eq!(resp.status, 200);
    let body = json_body(&resp);
    assert_eq!(body.as_object().unwrap().keys().collect::<Vec<_>>(), ["token", "user"]);
    let user = &body["user"];
    assert_eq!(user["name"], "Anonymous");
    assert_eq!(user["isAnonymous"], true);
    assert_eq!(user["emailVerified"], false);
    let email = user["email"].as_str().unwrap();
    let (local, domain) = email.split_once('@').unwrap();
    assert_eq!(domain, "anonymous.placeholder.invalid");
    assert!(
        local.len() == 32 && local.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
        "{email}"
    );
    // The user JSON orders plugin fields before the id, as Better Auth.
    let keys: Vec<&String> = user.as_object().unwrap().keys().collect();
    assert_eq!(keys[keys.len() - 2..], ["isAnonymous", "id"]);
    let cookie = set_cookie(&resp, "better-auth.session_token").unwrap();
    assert!(cookie.starts_with(&format!(
        "better-auth.session_token={}.",
        body["token"].as_str().unwrap()
    )));
    let stored = t.storage().find_user_by_email(email).unwrap().unwrap();
    assert!(stored.is_anonymous);
    assert!(
        t.storage().list_user_accounts(&stored.id).unwrap().is_empty(),
        "a guest has no account"
    );
    assert_eq!(session_user(&t, &cookie_header(&resp))["isAnonymous"], true);
    // A second guest is another user with another address.
    let (other, _) = guest(&t);
    assert_ne!(other["id"], user["id"]);
    assert_ne!(other["email"], user["email"]);
}

fn the_email_domain_follows_the_configuration(backend: Backend) {
    let t = app_with(backend, |c| {
        c.anonymous.email_domain = Some("guests.example.com".into())
    });
    let (user, _) = guest(&t);
    let email = user["email"].as_str().unwrap();
    let local = email.strip_suffix("@guests.example.com").unwrap();
    assert!(local.starts_with("temp-") && local.len() == 37, "{email}");
}

fn a_guest_cannot_become_another_guest(backend: Backend) {
    let t = app(backend);
    let (user, cookies) = guest(&t);
    let resp = t.post_with_cookies("/sign-in/anonymous", json!({}), &cookies);
    assert_error(&resp, 400, "ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY");
    assert!(resp.set_cookies().is_empty());
    assert_eq!(user_count(&t), 1);
    assert_eq!(session_user(&t, &cookies)["id"], user["id"]);
    // A real user may start a guest session; the real user is left alone.
    let (_, real) = t.sign_up(EMAIL);
    let resp = t.post_with_cookies("/sign-in/anonymous", json!({}), &real);
    assert_eq!(resp.status, 200);
    assert!(t.storage().find_user_by_email(EMAIL).unwrap().is_some());
    assert_eq!(user_count(&t), 3);
}

fn signing_up_ends_the_guest(backend: Backend) {
    let t = app(backend);
    let (user, cookies) = guest(&t);
    let resp = t.post_with_cookies(
        "/sign-up/email",
        json!({"name": "Ada", "email": EMAIL, "password": PASSWORD}),
        &cookies,
    );
    assert_eq!(resp.status, 200);
    assert_eq!(json_body(&resp)["user"]["isAnonymous"], false);
    assert!(!user_exists(&t, &user["id"]), "the guest is deleted");
    assert!(session_user(&t, &cookies).is_null(), "with their session");
    let now = session_user(&t, &cookie_header(&resp));
    assert_eq!(
        (now["email"].as_str(), now["isAnonymous"].as_bool()),
        (Some(EMAIL), Some(false))
    );
    assert_eq!(user_count(&t), 1);
}

fn signing_in_ends_the_guest_and_a_failed_sign_in_keeps_them(backend: Backend) {
    let t = app(backend);
    t.sign_up(EMAIL);
    let (user, cookies) = guest(&t);
    let wrong = t.post_with_cookies(
        "/sign-in/email",
        json!({"email": EMAIL, "password": "wrong-password"}),
        &cookies,
    );
    assert_error(&wrong, 401, "INVALID_EMAIL_OR_PASSWORD");
    assert!(user_exists(&t, &user["id"]));
    assert_eq!(session_user(&t, &cookies)["id"], user["id"]);

    let resp = t.post_with_cookies(
        "/sign-in/email",
        json!({"email": EMAIL, "password": PASSWORD}),
        &cookies,
    );
    assert_eq!(resp.status, 200);
    assert!(!user_exists(&t, &user["id"]));
    assert_eq!(session_user(&t, &cookie_header(&resp))["email"], EMAIL);
}

/// The guest cookie decides whom the hook deletes: one that is not a signed, live guest
/// session deletes nobody.
fn only_a_real_guest_session_is_ended(backend: Backend) {
    let t = app(backend);
    t.sign_up(EMAIL);
    let (user, cookies) = guest(&t);
    let token = cookies
        .split("better-auth.session_token=")
        .nth(1)
        .and_then(|v| v.split(['.', ';']).next())
        .unwrap()
        .to_string();
    // The raw token without its signature, and with someone else's signature.
    for forged in [
        format!("better-auth.session_token={token}"),
        format!("better-auth.session_token={token}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D"),
    ] {
        let resp = t.post_with_cookies("/sign-in/email", json!({"email": EMAIL, "password": PASSWORD}), &forged);
        assert_eq!(resp.status, 200);
        assert!(user_exists(&t, &user["id"]), "{forged}");
    }
    // An expired guest session is no guest either.
    t.clock.advance(time::Duration::days(8));
    let resp = t.post_with_cookies(
        "/sign-in/email",
        json!({"email": EMAIL, "password": PASSWORD}),
        &cookies,
    );
    assert_eq!(resp.status, 200);
    assert!(user_exists(&t, &user["id"]));
    // Nor is a real user's session: signing in as someone else deletes nobody.
    let (_, grace) = t.sign_up("grace@example.com");
    let resp = t.post_with_cookies("/sign-in/email", json!({"email": EMAIL, "password": PASSWORD}), &grace);
    assert_eq!(resp.status, 200);
    assert!(t.storage().find_user_by_email("grace@example.com").unwrap().is_some());
}

fn a_magic_link_opened_by_a_guest_ends_the_guest(backend: Backend) {
    let t = TestApp::with_config(backend, |c| c.plugins = vec!["magic-link".into(), "anonymous".into()]);
    let (user, cookies) = guest(&t);
    let resp = t.post_with_cookies(
        "/sign-in/magic-link",
        json!({"email": EMAIL, "callbackURL": "/dash"}),
        &cookies,
    );
    assert_eq!(resp.status, 200);
    assert!(user_exists(&t, &user["id"]), "asking for a link signs nobody in");
    let mail = t.mail_to(MailKind::MagicLink, EMAIL);
    let resp = t.open_link(&mail.url, Some(&cookies));
    assert_eq!(resp.header("location"), Some(format!("{ORIGIN}/dash").as_str()));
    assert!(!user_exists(&t, &user["id"]));
    let now = session_user(&t, &cookie_header(&resp));
    assert_eq!(
        (now["email"].as_str(), now["isAnonymous"].as_bool()),
        (Some(EMAIL), Some(false))
    );
}

/// A social sign-in started and finished in the guest's browser (`/callback/:id`, a redirect
/// answer) ends the guest like any other sign-in.
fn a_social_sign_in_by_a_guest_ends_the_guest(backend: Backend) {
    use crate::support::oauth;
    let f = oauth::fake();
    let vars = oauth::vars(&f, &[]);
    let t = TestApp::with_config(backend, |c| {
        c.oauth = sesame::config::oauth::OAuthConfig::from_vars(&vars).expect("oauth config parses");
        c.plugins = vec!["anonymous".into()];
    });
    let (user, cookies) = guest(&t);
    let started = t.post_with_cookies(
        "/sign-in/social",
        json!({"provider": "github", "callbackURL": "/dash"}),
        &cookies,
    );
    let flow = oauth::flow_from(started);
    let resp = oauth::callback(
        &t,
        "github",
        &[("code", "code-1"), ("state", &flow.state)],
        &format!("{cookies}; {}", flow.cookies),
    );
    assert_eq!(oauth::location(&resp), "/dash");
    assert!(!user_exists(&t, &user["id"]));
    let now = session_user(&t, &cookie_header(&resp));
    assert_eq!(now["isAnonymous"], false);
    assert_ne!(now["id"], user["id"]);
}

/// A sign-in that stops at a second-factor challenge sets no session: the guest stays. The
/// session the second factor then makes comes from `/two-factor/*`, which Better Auth's hook
/// does not match either, so the guest is kept (deletable with /delete-anonymous-user).
fn a_guest_signing_in_with_a_second_factor_is_kept(backend: Backend) {
    use crate::support::two_factor::{code, with_totp, Client};
    let t = TestApp::with_config(backend, |c| c.plugins = vec!["two-factor".into(), "anonymous".into()]);
    let (_, key, _) = with_totp(&t);
    let mut c = Client::new(&t);
    let guest = json_body(&c.post("/sign-in/anonymous", json!({})))["user"].clone();
    let challenge = c.sign_in();
    assert_eq!(json_body(&challenge)["twoFactorRedirect"], true);
    assert!(user_exists(&t, &guest["id"]));
    let resp = c.post("/two-factor/verify-totp", json!({"code": code(&t, &key, 0)}));
    assert_eq!(resp.status, 200, "{}", crate::support::body_text(&resp));
    assert_eq!(c.session_user()["email"], EMAIL);
    assert!(user_exists(&t, &guest["id"]));
}

fn with_deletion_disabled_the_guest_stays(backend: Backend) {
    let t = app_with(backend, |c| c.anonymous.disable_delete = true);
    let (user, cookies) = guest(&t);
    let resp = t.post_with_cookies(
        "/sign-up/email",
        json!({"name": "Ada", "email": EMAIL, "password": PASSWORD}),
        &cookies,
    );
    assert_eq!(resp.status, 200);
    assert!(user_exists(&t, &user["id"]));
    let (_, cookies) = guest(&t);
    let resp = t.post_with_cookies("/delete-anonymous-user", json!({}), &cookies);
    assert_error(&resp, 400, "DELETE_ANONYMOUS_USER_DISABLED");
    assert_eq!(user_count(&t), 3);
}

fn a_guest_deletes_themselves(backend: Backend) {
    let t = app(backend);
    let (user, cookies) = guest(&t);
    let resp = t.post_with_cookies("/delete-anonymous-user", json!({}), &cookies);
    assert_eq!(resp.status, 200);
    assert_eq!(json_body(&resp), json!({"success": true}));
    let cleared = set_cookie(&resp, "better-auth.session_token").unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert!(!user_exists(&t, &user["id"]));
    assert!(session_user(&t, &cookies).is_null());
    assert_error(
        &t.post_with_cookies("/delete-anonymous-user", json!({}), &cookies),
        401,
        "UNAUTHORIZED",
    );
}

fn only_guests_are_deleted_and_only_by_themselves(backend: Backend) {
    let t = app(backend);
    assert_error(&t.post("/delete-anonymous-user", json!({})), 401, "UNAUTHORIZED");
    let (_, real) = t.sign_up(EMAIL);
    assert_error(
        &t.post_with_cookies("/delete-anonymous-user", json!({}), &real),
        403,
        "USER_IS_NOT_ANONYMOUS",
    );
    assert!(t.storage().find_user_by_email(EMAIL).unwrap().is_some());
    // A page on another site cannot make the browser delete its guest.
    let (user, cookies) = guest(&t);
    for origin in ["https://evil.com", "null"] {
        let resp = t.send(
            Request::post(&format!("{BASE}/delete-anonymous-user"))
                .with_json(&json!({}))
                .with_header("cookie", &cookies)
                .with_header("origin", origin),
        );
        assert_eq!(resp.status, 403, "{origin}");
    }
    assert!(user_exists(&t, &user["id"]));
}

fn clients_cannot_set_is_anonymous(backend: Backend) {
    let t = app(backend);
    let resp = t.post(
        "/sign-up/email",
        json!({"name": "Ada", "email": EMAIL, "password": PASSWORD, "isAnonymous": true}),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(json_body(&resp)["user"]["isAnonymous"], false);
    assert!(!t.storage().find_user_by_email(EMAIL).unwrap().unwrap().is_anonymous);
    let cookies = cookie_header(&resp);
    let refused = t.post_with_cookies("/update-user", json!({"isAnonymous": true}), &cookies);
    assert_error(&refused, 400, "FIELD_NOT_ALLOWED");
    assert_eq!(json_body(&refused)["message"], "isAnonymous is not allowed to be set");
    // A guest cannot shed the flag either (only a falsy value is let through, and ignored).
    let (user, guest_cookies) = guest(&t);
    let resp = t.post_with_cookies(
        "/update-user",
        json!({"isAnonymous": false, "name": "G"}),
        &guest_cookies,
    );
    assert_eq!(resp.status, 200);
    let stored = t
        .storage()
        .find_user_by_id(user["id"].as_str().unwrap())
        .unwrap()
        .unwrap();
    assert!(stored.is_anonymous);
}

fn in_process_calls_make_and_delete_guests(backend: Backend) {
    let t = app(backend);
    let out = t.app.call_with_headers("signInAnonymous", ApiInput::new()).unwrap();
    assert_eq!(out.data["user"]["isAnonymous"], true);
    let cookie = out.set_cookies()[0].split(';').next().unwrap().to_string();
    let deleted = t
        .app
        .call("deleteAnonymousUser", ApiInput::new().header("cookie", &cookie))
        .unwrap();
    assert_eq!(deleted, json!({"success": true}));
    assert_eq!(user_count(&t), 0);
}

fn the_plugin_is_off_unless_enabled(backend: Backend) {
    let t = TestApp::new(backend);
    assert_error(&t.post("/sign-in/anonymous", json!({})), 404, "NOT_FOUND");
    assert_error(&t.post("/delete-anonymous-user", json!({})), 404, "NOT_FOUND");
    let (resp, _) = t.sign_up(EMAIL);
    assert!(json_body(&resp)["user"].get("isAnonymous").is_none());
}

fn guest_sign_ins_fall_under_the_strict_rule(backend: Backend) {
    let t = app_with(backend, |c| c.rate_limit = true);
    for _ in 0..3 {
        assert_eq!(t.post("/sign-in/anonymous", json!({})).status, 200);
    }
    let resp: Response = t.post("/sign-in/anonymous", json!({}));
    assert_error(&resp, 429, "RATE_LIMITED");
    assert_eq!(user_count(&t), 3);
}

crate::backend_suite!(
    a_guest_gets_a_placeholder_address_and_a_session,
    the_email_domain_follows_the_configuration,
    a_guest_cannot_become_another_guest,
    signing_up_ends_the_guest,
    signing_in_ends_the_guest_and_a_failed_sign_in_keeps_them,
    only_a_real_guest_session_is_ended,
    a_magic_link_opened_by_a_guest_ends_the_guest,
    a_guest_signing_in_with_a_second_factor_is_kept,
    a_social_sign_in_by_a_guest_ends_the_guest,
    with_deletion_disabled_the_guest_stays,
    a_guest_deletes_themselves,
    only_guests_are_deleted_and_only_by_themselves,
    clients_cannot_set_is_anonymous,
    in_process_calls_make_and_delete_guests,
    the_plugin_is_off_unless_enabled,
    guest_sign_ins_fall_under_the_strict_rule,
);
