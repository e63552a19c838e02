//! Cookies (spec §4.2–4.3): Better Auth's signed format checked against a cookie the real
//! Better Auth wrote (`fixtures/better-auth-cookie.json`), reading rules (first occurrence,
//! quotes, percent-encoding, bad signatures), attributes, the `__Secure-` prefix and Secure
//! flag under an https base URL, the prefix setting and Max-Age following the lifetime.

use serde_json::{json, Value};
use sesame::config::Secret;
use sesame::storage::models::{Account, Session, User};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::support::wire::{assert_clears_session_cookies, assert_null_session, set_cookies, the_cookie};
use crate::support::{json_body, TestApp, PASSWORD};

/// The values recorded from the reference Better Auth server (see `fixtures/`).
pub fn fixture() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/better-auth-cookie.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn date(v: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(v.as_str().unwrap(), &Rfc3339).unwrap()
}

/// A test app with the fixture's secret, its user and session rows inserted through the
/// storage trait, and the clock a minute after the session was created.
fn app_with_better_auth_rows(t: &TestApp) -> (TestApp, Value) {
    let f = fixture();
    let secret = f["secret"].as_str().unwrap().to_string();
    let t = TestApp::with_config(t.backend, move |c| c.secret = Secret::new(secret));
    let u = &f["sign_up"]["user"];
    let user = User {
        id: u["id"].as_str().unwrap().into(),
        name: u["name"].as_str().unwrap().into(),
        email: u["email"].as_str().unwrap().into(),
        email_verified: false,
        image: None,
        created_at: date(&u["createdAt"]),
        updated_at: date(&u["updatedAt"]),
        username: None,
        display_username: None,
        two_factor_enabled: None,
        admin: Default::default(),
        is_anonymous: false,
    };
    let hash = f["credential_account"]["password_hash"].as_str().unwrap().to_string();
    t.storage()
        .create_user_with_account(&user, &Account::credential(&user.id, hash, user.created_at))
        .unwrap();
    let s = &f["sign_up"]["session"];
    let session = Session {
        id: s["id"].as_str().unwrap().into(),
        token: s["token"].as_str().unwrap().into(),
        user_id: user.id.clone(),
        expires_at: date(&s["expiresAt"]),
        created_at: date(&s["createdAt"]),
        updated_at: date(&s["updatedAt"]),
        ip_address: Some(String::new()),
        user_agent: Some(s["userAgent"].as_str().unwrap().into()),
        dont_remember_me: false,
        impersonated_by: None,
    };
    t.storage().create_session(&session).unwrap();
    let mut remembered = session.clone();
    remembered.id = sesame::crypto::new_id();
    remembered.token = f["sign_in_dont_remember"]["token"].as_str().unwrap().into();
    remembered.expires_at = session.created_at + Duration::days(1);
    t.storage().create_session(&remembered).unwrap();
    t.clock.set(session.created_at + Duration::minutes(1));
    (t, f)
}

fn better_auth_cookie_is_accepted(t: &TestApp) {
    let (t, f) = app_with_better_auth_rows(t);
    let cookie = f["sign_up"]["cookie"].as_str().unwrap();
    let resp = t.get("/get-session", Some(cookie));
    assert_eq!(resp.status, 200);
    assert!(resp.set_cookies().is_empty());
    let body = json_body(&resp);
    assert_eq!(body["session"]["token"], f["sign_up"]["token"]);
    assert_eq!(body["session"]["expiresAt"], f["sign_up"]["session"]["expiresAt"]);
    assert_eq!(body["user"]["email"], f["sign_up"]["user"]["email"]);
    assert_eq!(body["user"]["id"], f["sign_up"]["user"]["id"]);
    // Authenticated endpoints take it too.
    let resp = t.post_with_cookies("/update-user", json!({"name": "Renamed"}), cookie);
    assert_eq!(resp.status, 200);
    // The Better Auth password hash verifies.
    let password = f["credential_account"]["password"].as_str().unwrap();
    assert_eq!(
        t.sign_in(f["sign_up"]["user"]["email"].as_str().unwrap(), password)
            .status,
        200
    );
}

fn sesame_signs_exactly_like_better_auth(t: &TestApp) {
    let (t, f) = app_with_better_auth_rows(t);
    let secret = f["secret"].as_str().unwrap();
    let token = f["sign_up"]["token"].as_str().unwrap();
    let jar = &t.app.cookies;
    assert_eq!(
        jar.signed(secret, "session_token", token, Some(604_800)).render(),
        f["sign_up"]["set_cookie"].as_str().unwrap()
    );
    assert_eq!(t.cookie_for(token), f["sign_up"]["cookie"].as_str().unwrap());
    // rememberMe=false: both browser-session cookies, byte for byte.
    let dr = &f["sign_in_dont_remember"];
    let ours = [
        jar.signed(secret, "session_token", dr["token"].as_str().unwrap(), None)
            .render(),
        jar.signed(secret, "dont_remember", "true", None).render(),
    ];
    assert_eq!(json!(ours), dr["set_cookies"]);
    // Re-issuing the fixture session (update-user) writes Better Auth's exact cookie.
    let resp = t.post_with_cookies(
        "/update-user",
        json!({"name": "X"}),
        f["sign_up"]["cookie"].as_str().unwrap(),
    );
    assert_eq!(resp.set_cookies(), [f["sign_up"]["set_cookie"].as_str().unwrap()]);
}

fn better_auth_dont_remember_cookies_are_honoured(t: &TestApp) {
    let (t, f) = app_with_better_auth_rows(t);
    let cookie = f["sign_in_dont_remember"]["cookie"].as_str().unwrap();
    let resp = t.get("/get-session", Some(cookie));
    assert_eq!(
        json_body(&resp)["session"]["token"],
        f["sign_in_dont_remember"]["token"]
    );
    let resp = t.post_with_cookies("/update-user", json!({"name": "Y"}), cookie);
    assert_eq!(json!(resp.set_cookies()), f["sign_in_dont_remember"]["set_cookies"]);
}

fn signed_cookie_reading_rules(t: &TestApp) {
    let s = t.signed_up("read@example.com");
    let (name, value) = s.cookie.split_once('=').unwrap();
    let decoded = percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .unwrap()
        .into_owned();
    assert!(decoded.ends_with('=') && decoded.contains('.'));
    let ok = |cookie: String| {
        let resp = t.get("/get-session", Some(&cookie));
        assert_eq!(json_body(&resp)["session"]["token"], s.token.as_str(), "{cookie}");
    };
    let null = |cookie: String| {
        let resp = t.get("/get-session", Some(&cookie));
        assert_null_session(&resp);
        assert!(resp.set_cookies().is_empty(), "{cookie}: {:?}", resp.set_cookies());
    };
    ok(format!("{name}={value}"));
    // Not percent-encoded, or quoted: the same cookie.
    ok(format!("{name}={decoded}"));
    ok(format!("{name}=\"{value}\""));
    // Among other cookies, and the first occurrence wins.
    ok(format!("theme=dark; {name}={value}; {name}=garbage"));
    null(format!("{name}=garbage; {name}={value}"));
    // Signature problems: treated as no cookie.
    let sig = decoded.rsplit_once('.').unwrap().1.to_string();
    null(format!("{name}={}.{}", s.token, &sig[..43]));
    null(format!("{name}={}.{}A", s.token, &sig[..43]));
    null(format!("{name}={}", s.token));
    null(format!("{name}=.{sig}"));
    null(format!("{name}={}x.{sig}", s.token));
    // Other names are not this cookie.
    null(format!("__Secure-{name}={value}"));
    null(format!("better-auth-session_token={value}"));
}

fn secure_cookies_under_an_https_base_url(t: &TestApp) {
    let t = TestApp::with_config(t.backend, |c| c.base_origin = "https://auth.example.com".into());
    let origin = [("origin", "https://auth.example.com")];
    let resp = t.post_headers(
        "/sign-up/email",
        json!({"name": "S", "email": "secure@example.com", "password": PASSWORD}),
        &origin,
    );
    assert_eq!(resp.status, 200);
    let c = the_cookie(&resp, "__Secure-better-auth.session_token").expect("prefixed cookie");
    assert_eq!(c.order, ["Max-Age", "Path", "HttpOnly", "Secure", "SameSite"]);
    c.assert_default_attributes(true);
    assert_eq!(set_cookies(&resp).len(), 1);
    let cookie = format!("{}={}", c.name, c.value);
    assert_eq!(t.session_of(&cookie)["user"]["email"], "secure@example.com");
    // The server reads only the name it writes.
    let unprefixed = format!("better-auth.session_token={}", c.value);
    assert_null_session(&t.get("/get-session", Some(&unprefixed)));

    let resp = t.post_headers(
        "/sign-in/email",
        json!({"email": "secure@example.com", "password": PASSWORD, "rememberMe": false}),
        &origin,
    );
    let cookies = set_cookies(&resp);
    let names: Vec<&str> = cookies.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "__Secure-better-auth.session_token",
            "__Secure-better-auth.dont_remember"
        ],
        "{:?}",
        resp.set_cookies()
    );
    for c in &cookies {
        c.assert_default_attributes(true);
    }
    let resp = t.post_headers("/sign-out", json!({}), &[("cookie", &cookie), origin[0]]);
    assert_clears_session_cookies(&resp, "__Secure-better-auth", true);
    // The https origin is the trusted one now.
    let resp = t.post_headers(
        "/sign-out",
        json!({}),
        &[("cookie", &cookie), ("origin", "http://auth.example.com")],
    );
    crate::support::assert_error(&resp, 403, "INVALID_ORIGIN");
}

fn cookie_prefix_and_lifetime_follow_the_configuration(t: &TestApp) {
    let t = TestApp::with_config(t.backend, |c| {
        c.cookie_prefix = "myapp".into();
        c.session_expires_in = 3600;
    });
    let resp = t.post(
        "/sign-up/email",
        json!({"name": "P", "email": "prefix@example.com", "password": PASSWORD}),
    );
    let c = the_cookie(&resp, "myapp.session_token").expect("custom prefix");
    assert_eq!(c.max_age, Some(3600));
    let cookie = format!("{}={}", c.name, c.value);
    let session = t.session_of(&cookie);
    assert_eq!(
        session["session"]["expiresAt"],
        crate::support::wire::iso(t.clock_now() + Duration::hours(1))
    );
    assert_null_session(&t.get("/get-session", Some(&format!("better-auth.session_token={}", c.value))));
    let resp = t.post_empty("/sign-out", &cookie);
    assert_clears_session_cookies(&resp, "myapp", false);
}

fn cookie_domain_goes_on_every_cookie_set_and_cleared(t: &TestApp) {
    let t = TestApp::with_config(t.backend, |c| {
        c.base_origin = "https://auth.example.com".into();
        c.cookie_domain = Some("example.com".into());
    });
    let origin = ("origin", "https://auth.example.com");
    let resp = t.post_headers(
        "/sign-up/email",
        json!({"name": "D", "email": "domain@example.com", "password": PASSWORD}),
        &[origin],
    );
    let c = the_cookie(&resp, "__Secure-better-auth.session_token").expect("session cookie");
    assert_eq!(c.domain.as_deref(), Some("example.com"), "{}", c.raw);
    assert_eq!(c.order, ["Max-Age", "Domain", "Path", "HttpOnly", "Secure", "SameSite"]);
    let cookie = format!("{}={}", c.name, c.value);
    assert_eq!(t.session_of(&cookie)["user"]["email"], "domain@example.com");
    // A deletion must name the same Domain, or the browser keeps the shared cookie.
    let resp = t.post_headers("/sign-out", json!({}), &[("cookie", &cookie), origin]);
    let cleared = set_cookies(&resp);
    assert_eq!(cleared.len(), 3);
    for c in cleared {
        assert!(c.is_expiry(), "{}", c.raw);
        assert_eq!(c.domain.as_deref(), Some("example.com"), "{}", c.raw);
    }
}

fn same_site_none_makes_cookies_secure_without_the_prefix(t: &TestApp) {
    let t = TestApp::with_config(t.backend, |c| {
        c.cookie_same_site = sesame::config::cookies::SameSite::None;
    });
    let resp = t.post(
        "/sign-up/email",
        json!({"name": "N", "email": "none@example.com", "password": PASSWORD}),
    );
    let c = the_cookie(&resp, "better-auth.session_token").expect("unprefixed: the URL is http");
    assert_eq!(c.same_site.as_deref(), Some("None"), "{}", c.raw);
    assert!(
        c.secure,
        "SameSite=None without Secure is dropped by browsers: {}",
        c.raw
    );
    let cookie = format!("{}={}", c.name, c.value);
    let resp = t.post_empty("/sign-out", &cookie);
    for c in set_cookies(&resp) {
        assert!(c.secure && c.same_site.as_deref() == Some("None"), "{}", c.raw);
    }
    let t = TestApp::with_config(t.backend, |c| {
        c.cookie_same_site = sesame::config::cookies::SameSite::Strict;
    });
    let resp = t.post(
        "/sign-up/email",
        json!({"name": "S", "email": "strict@example.com", "password": PASSWORD}),
    );
    let c = the_cookie(&resp, "better-auth.session_token").unwrap();
    assert_eq!(c.same_site.as_deref(), Some("Strict"));
    assert!(!c.secure);
}

fn secure_cookies_can_be_forced_behind_a_tls_proxy(t: &TestApp) {
    // The proxy terminates TLS and forwards plain http, but BETTER_AUTH_URL may still be http
    // (an internal name): SESAME_SECURE_COOKIES turns on Secure and the __Secure- prefix.
    let t = TestApp::with_config(t.backend, |c| c.secure_cookies_setting = Some(true));
    let resp = t.post(
        "/sign-up/email",
        json!({"name": "F", "email": "forced@example.com", "password": PASSWORD}),
    );
    let c = the_cookie(&resp, "__Secure-better-auth.session_token").expect("prefixed cookie");
    c.assert_default_attributes(true);
    let cookie = format!("{}={}", c.name, c.value);
    assert_eq!(t.session_of(&cookie)["user"]["email"], "forced@example.com");
    let resp = t.post_empty("/sign-out", &cookie);
    assert_clears_session_cookies(&resp, "__Secure-better-auth", true);
    // And off, on an https URL (Better Auth's useSecureCookies: false).
    let t = TestApp::with_config(t.backend, |c| {
        c.base_origin = "https://auth.example.com".into();
        c.secure_cookies_setting = Some(false);
    });
    let resp = t.post_headers(
        "/sign-up/email",
        json!({"name": "F", "email": "unforced@example.com", "password": PASSWORD}),
        &[("origin", "https://auth.example.com")],
    );
    the_cookie(&resp, "better-auth.session_token")
        .expect("unprefixed")
        .assert_default_attributes(false);
}

crate::suite!(
    cookie_domain_goes_on_every_cookie_set_and_cleared,
    same_site_none_makes_cookies_secure_without_the_prefix,
    secure_cookies_can_be_forced_behind_a_tls_proxy,
    better_auth_cookie_is_accepted,
    sesame_signs_exactly_like_better_auth,
    better_auth_dont_remember_cookies_are_honoured,
    signed_cookie_reading_rules,
    secure_cookies_under_an_https_base_url,
    cookie_prefix_and_lifetime_follow_the_configuration,
);
