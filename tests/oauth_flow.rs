//! Social sign-in's redirect flow against the fake provider (real ureq calls): the authorize
//! URL and state, the callback's happy paths for a built-in (GitHub-style) and a generic OIDC
//! provider, repeat sign-in, implicit linking rules, and every failure redirect.

use serde_json::json;
use sesame::http::Request;
use sesame::storage::models::UserUpdate;

use crate::support::fake_provider::{FakeProvider, TestKey};
use crate::support::oauth::{self, callback, github_sign_in, location, start};
use sesame::clock::Clock;

use crate::support::{assert_error, cookie_header, json_body, set_cookie, TestApp, BASE};

const DEFAULT_ERROR: &str = "http://localhost:3000/api/auth/error";

fn github_new_user_then_repeat_sign_in(t: &TestApp) {
    let f = oauth::fake();
    let t = oauth::app(t.backend, &f, &[]);
    let flow = start(
        &t,
        json!({"provider": "github", "callbackURL": "/dash", "newUserCallbackURL": "/welcome"}),
    );
    assert_eq!(flow.response.header("location"), Some(flow.url.as_str()));
    assert_eq!(json_body(&flow.response)["redirect"], true);
    let keys: Vec<String> = flow.url.query_pairs().map(|(k, _)| k.into_owned()).collect();
    assert_eq!(
        keys,
        [
            "response_type",
            "client_id",
            "state",
            "scope",
            "redirect_uri",
            "code_challenge_method",
            "code_challenge"
        ]
    );
    assert_eq!(flow.param("scope").as_deref(), Some("read:user user:email"));
    assert_eq!(
        flow.param("redirect_uri").as_deref(),
        Some("http://localhost:3000/api/auth/callback/github")
    );
    assert!(flow.url.as_str().contains("scope=read%3Auser+user%3Aemail"));
    assert_eq!(flow.state.len(), 32);
    assert!(flow
        .state
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    let state_cookie = set_cookie(&flow.response, "better-auth.state").unwrap();
    assert!(
        state_cookie.contains("; Max-Age=300; Path=/; HttpOnly; SameSite=Lax"),
        "{state_cookie}"
    );

    let resp = callback(
        &t,
        "github",
        &[("code", "code-1"), ("state", &flow.state)],
        &flow.cookies,
    );
    assert_eq!(location(&resp), "/welcome");
    assert!(set_cookie(&resp, "better-auth.state").unwrap().contains("Max-Age=0"));
    let session = set_cookie(&resp, "better-auth.session_token").unwrap();
    assert!(session.contains("Max-Age=604800"), "{session}");

    let token_req = &f.requests("/github/token")[0];
    let form = token_req.form();
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["code"], "code-1");
    assert_eq!(form["client_id"], "gh-client");
    assert_eq!(form["client_secret"], "gh-secret");
    assert_eq!(form["redirect_uri"], "http://localhost:3000/api/auth/callback/github");
    assert_eq!(form["code_verifier"].len(), 128);
    assert_eq!(
        sesame::oauth::code_challenge(&form["code_verifier"]),
        flow.param("code_challenge").unwrap()
    );
    assert_eq!(token_req.header("accept"), Some("application/json"));
    let user_req = &f.requests("/github/user")[0];
    assert_eq!(user_req.header("authorization"), Some("Bearer gho_fake_access"));
    assert_eq!(user_req.header("user-agent"), Some("better-auth"));

    let me = json_body(&t.get("/get-session", Some(&cookie_header(&resp))));
    assert_eq!(me["user"]["email"], "octocat@example.com");
    assert_eq!(me["user"]["name"], "The Octocat");
    assert_eq!(me["user"]["emailVerified"], true);
    assert_eq!(me["user"]["image"], "https://avatars.example.com/u/12345");
    let accounts = json_body(&t.get("/list-accounts", Some(&cookie_header(&resp))));
    assert_eq!(accounts.as_array().unwrap().len(), 1);
    assert_eq!(accounts[0]["issuer"], "local:oauth:github");
    assert_eq!(accounts[0]["accountId"], "12345");
    assert_eq!(accounts[0]["providerId"], "github");
    assert_eq!(accounts[0]["scopes"], json!(["read:user", "user:email"]));
    assert!(accounts[0].get("accessToken").is_none());

    // Signing in again reuses the user and goes to callbackURL.
    let again = github_sign_in(
        &t,
        json!({"provider": "github", "callbackURL": "/dash", "newUserCallbackURL": "/welcome"}),
    );
    assert_eq!(location(&again), "/dash");
    let me2 = json_body(&t.get("/get-session", Some(&cookie_header(&again))));
    assert_eq!(me2["user"]["id"], me["user"]["id"]);
    assert_eq!(
        json_body(&t.get("/list-accounts", Some(&cookie_header(&again))))
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

fn default_callback_url_and_disable_redirect(t: &TestApp) {
    let f = oauth::fake();
    let t = oauth::app(t.backend, &f, &[]);
    let resp = t.post("/sign-in/social", json!({"provider": "github", "disableRedirect": true, "scopes": ["repo"], "loginHint": "octo", "additionalParams": {"allow_signup": "false"}}));
    assert_eq!(resp.status, 200);
    assert!(resp.header("location").is_none());
    let body = json_body(&resp);
    assert_eq!(body["redirect"], false);
    let url = url::Url::parse(body["url"].as_str().unwrap()).unwrap();
    let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(q[3], ("scope".into(), "read:user user:email repo".into()));
    assert_eq!(q[5], ("login_hint".into(), "octo".into()));
    assert_eq!(q.last().unwrap(), &("allow_signup".into(), "false".into()));
    let flow = oauth::flow_from(resp);
    let done = callback(&t, "github", &[("code", "c"), ("state", &flow.state)], &flow.cookies);
    assert_eq!(location(&done), "http://localhost:3000");
}

fn sign_in_social_errors(t: &TestApp) {
    let f = oauth::fake();
    let t = oauth::app(t.backend, &f, &[]);
    assert_error(
        &t.post("/sign-in/social", json!({"provider": "nope"})),
        404,
        "PROVIDER_NOT_FOUND",
    );
    let resp = t.post("/sign-in/social", json!({}));
    assert_error(&resp, 400, "VALIDATION_ERROR");
    assert_eq!(json_body(&resp)["message"], "[body.provider] Invalid input");
    assert_error(
        &t.post(
            "/sign-in/social",
            json!({"provider": "github", "callbackURL": "https://evil.example"}),
        ),
        403,
        "INVALID_CALLBACK_URL",
    );
    let resp = t.post(
        "/sign-in/social",
        json!({"provider": "github", "additionalParams": {"state": "x"}}),
    );
    assert_error(&resp, 400, "VALIDATION_ERROR");
    assert_eq!(
        json_body(&resp)["message"],
        "[body.additionalParams] additionalParams cannot include reserved OAuth parameters: state, client_id, redirect_uri, response_type, code_challenge, code_challenge_method, nonce, scope"
    );
    assert_error(
        &t.post("/sign-in/social", json!({"provider": "github", "scopes": "repo"})),
        400,
        "VALIDATION_ERROR",
    );
}

fn state_failures_redirect_with_codes(t: &TestApp) {
    let f = oauth::fake();
    let t = oauth::app(t.backend, &f, &[]);
    let body = json!({"provider": "github", "callbackURL": "/dash", "errorCallbackURL": "/err"});
    assert_eq!(
        location(&callback(&t, "github", &[("code", "c")], "")),
        format!("{DEFAULT_ERROR}?error=state_not_found")
    );
    let flow = start(&t, body.clone());
    // The last character changed (to one it is not: a fixed "x" matched one state in 62).
    let last = if flow.state.ends_with('x') { 'y' } else { 'x' };
    let tampered = format!("{}{last}", &flow.state[..31]);
    assert_ne!(tampered, flow.state);
    let resp = callback(&t, "github", &[("code", "c"), ("state", &tampered)], &flow.cookies);
    assert_eq!(location(&resp), format!("{DEFAULT_ERROR}?error=state_mismatch"));
    // A missing state cookie refuses the flow (and does not burn it).
    assert_eq!(
        location(&callback(&t, "github", &[("code", "c"), ("state", &flow.state)], "")),
        "/err?error=state_mismatch"
    );
    assert_eq!(
        location(&callback(
            &t,
            "github",
            &[("code", "c"), ("state", &flow.state)],
            &flow.cookies
        )),
        "/dash"
    );
    // Replaying a used state finds nothing.
    let replay = callback(&t, "github", &[("code", "c"), ("state", &flow.state)], &flow.cookies);
    assert_eq!(location(&replay), format!("{DEFAULT_ERROR}?error=state_mismatch"));
    // Expired: the row outlives the 10 minutes only on the clock.
    let flow = start(&t, body.clone());
    t.clock.advance(time::Duration::minutes(11));
    let resp = callback(&t, "github", &[("code", "c"), ("state", &flow.state)], &flow.cookies);
    assert!(location(&resp).ends_with("error=state_mismatch"), "{}", location(&resp));
    assert_eq!(
        f.requests("/github/token").len(),
        1,
        "only the valid flow reached the token endpoint"
    );
}

fn provider_errors_redirect_with_codes(t: &TestApp) {
    let f = oauth::fake();
    let t = oauth::app(t.backend, &f, &[]);
    let body = json!({"provider": "github", "callbackURL": "/dash", "errorCallbackURL": "/err?from=oauth"});
    let flow = start(&t, body.clone());
    let resp = callback(
        &t,
        "github",
        &[
            ("error", "access_denied"),
            ("error_description", "User denied access"),
            ("state", &flow.state),
        ],
        &flow.cookies,
    );
    assert_eq!(
        location(&resp),
        "/err?from=oauth&error=access_denied&error_description=User+denied+access"
    );
    let flow = start(&t, body.clone());
    assert_eq!(
        location(&callback(&t, "github", &[("state", &flow.state)], &flow.cookies)),
        "/err?from=oauth&error=no_code"
    );

    f.respond("/github/token", 500, r#"{"error":"server_error"}"#);
    let flow = start(&t, body.clone());
    let resp = callback(&t, "github", &[("code", "c"), ("state", &flow.state)], &flow.cookies);
    assert_eq!(location(&resp), "/err?from=oauth&error=invalid_code");
    f.respond(
        "/github/token",
        200,
        r#"{"error":"bad_verification_code","error_description":"The code passed is incorrect"}"#,
    );
    let flow = start(&t, body.clone());
    assert_eq!(
        location(&callback(
            &t,
            "github",
            &[("code", "c"), ("state", &flow.state)],
            &flow.cookies
        )),
        "/err?from=oauth&error=invalid_code"
    );

    // A token endpoint slower than SESAME_OAUTH_TIMEOUT_MS is a failure, not a hang: with the
    // timeout at 300 ms and the provider answering a valid token only after 3 s, the flow can
    // only end in invalid_code if the timeout fired.
    let slow = oauth::app(t.backend, &f, &[("SESAME_OAUTH_TIMEOUT_MS", "300")]);
    f.respond_fixture("/github/token", "github-token.json");
    f.delay("/github/token", 3000);
    let flow = start(&slow, body.clone());
    let resp = callback(&slow, "github", &[("code", "c"), ("state", &flow.state)], &flow.cookies);
    assert_eq!(location(&resp), "/err?from=oauth&error=invalid_code");
    f.delay("/github/token", 0);

    f.respond_fixture("/github/token", "github-token.json");
    f.respond("/github/user", 401, r#"{"message":"Bad credentials"}"#);
    let flow = start(&t, body.clone());
    assert_eq!(
        location(&callback(
            &t,
            "github",
            &[("code", "c"), ("state", &flow.state)],
            &flow.cookies
        )),
        "/err?from=oauth&error=unable_to_get_user_info"
    );

    f.respond("/github/user", 200, r#"{"id":7,"login":"noemail","email":null}"#);
    f.respond("/github/emails", 200, "[]");
    let flow = start(&t, body.clone());
    assert_eq!(
        location(&callback(
            &t,
            "github",
            &[("code", "c"), ("state", &flow.state)],
            &flow.cookies
        )),
        "/err?from=oauth&error=email_not_found"
    );
}

fn implicit_linking_rules(t: &TestApp) {
    let f = oauth::fake();
    let t = oauth::app(t.backend, &f, &[]);
    let (_, cookies) = t.sign_up("octocat@example.com");
    let body = json!({"provider": "github", "callbackURL": "/dash", "errorCallbackURL": "/err"});
    // The local user is not verified: no implicit link.
    assert_eq!(
        location(&github_sign_in(&t, body.clone())),
        "/err?error=account_not_linked"
    );
    let user_id = json_body(&t.get("/get-session", Some(&cookies)))["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let verified = UserUpdate {
        email_verified: Some(true),
        ..UserUpdate::default()
    };
    t.storage().update_user(&user_id, &verified, t.clock.now()).unwrap();
    t.clock.advance(time::Duration::seconds(1));
    let resp = github_sign_in(&t, body.clone());
    assert_eq!(location(&resp), "/dash");
    let accounts = json_body(&t.get("/list-accounts", Some(&cookie_header(&resp))));
    let providers: Vec<&str> = accounts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["providerId"].as_str().unwrap())
        .collect();
    assert_eq!(providers, ["credential", "github"]);
}

fn untrusted_unverified_provider_email_is_not_linked(t: &TestApp) {
    let f = oauth::fake();
    f.respond(
        "/github/emails",
        200,
        r#"[{"email":"octocat@example.com","primary":true,"verified":false}]"#,
    );
    let t = oauth::app(t.backend, &f, &[]);
    let (_, cookies) = t.sign_up("octocat@example.com");
    let user_id = json_body(&t.get("/get-session", Some(&cookies)))["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let verified = UserUpdate {
        email_verified: Some(true),
        ..UserUpdate::default()
    };
    t.storage().update_user(&user_id, &verified, t.clock.now()).unwrap();
    let body = json!({"provider": "github", "callbackURL": "/dash", "errorCallbackURL": "/err"});
    assert_eq!(
        location(&github_sign_in(&t, body.clone())),
        "/err?error=account_not_linked"
    );
    // A trusted provider links even with an unverified provider email.
    let t2 = oauth::app(t.backend, &f, &[("SESAME_TRUSTED_PROVIDERS", "github")]);
    let (_, cookies) = t2.sign_up("octocat@example.com");
    let user_id = json_body(&t2.get("/get-session", Some(&cookies)))["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    t2.storage().update_user(&user_id, &verified, t2.clock.now()).unwrap();
    assert_eq!(location(&github_sign_in(&t2, body)), "/dash");
}

fn sign_up_disabled_per_provider(t: &TestApp) {
    let f = oauth::fake();
    let t = oauth::app(t.backend, &f, &[("SESAME_GITHUB_DISABLE_IMPLICIT_SIGN_UP", "true")]);
    let body = json!({"provider": "github", "callbackURL": "/dash", "errorCallbackURL": "/err"});
    assert_eq!(location(&github_sign_in(&t, body)), "/err?error=signup_disabled");
    let body = json!({"provider": "github", "callbackURL": "/dash", "requestSignUp": true});
    assert_eq!(location(&github_sign_in(&t, body)), "/dash");
}

fn form_post_callback_bounces_to_get(t: &TestApp) {
    let f = oauth::fake();
    let t = oauth::app(t.backend, &f, &[]);
    let req = Request::post(&format!("{BASE}/callback/apple?iss=https%3A%2F%2Fappleid.apple.com")).with_body(
        "application/x-www-form-urlencoded",
        b"state=abc&code=xyz&user=%7B%22name%22%3A1%7D&extra=dropped",
    );
    let resp = t.send(req);
    assert_eq!(
        location(&resp),
        "http://localhost:3000/api/auth/callback/apple?code=xyz&state=abc&user=%7B%22name%22%3A1%7D&iss=https%3A%2F%2Fappleid.apple.com"
    );
}

fn generic_oidc_discovery_and_id_token(t: &TestApp) {
    let f = oauth::fake();
    let t = oauth::app(t.backend, &f, &[]);
    let flow = start(&t, json!({"provider": "mock", "callbackURL": "/dash"}));
    assert!(flow
        .url
        .as_str()
        .starts_with(&f.url("/authorize?response_type=code&client_id=mock-client")));
    assert_eq!(flow.param("scope").as_deref(), Some("openid email profile"));
    let nonce = flow.param("nonce").expect("OIDC flows carry a nonce");
    let mut claims = oauth::claims(&t, &f.base, "mock-client", "oidc-user-1", "ada@example.com");
    claims["nonce"] = json!(nonce);
    let token = oauth::id_token(&claims, TestKey::Rsa);
    f.respond_json(
        "/oidc/token",
        200,
        &json!({"access_token": "oidc-access", "id_token": token, "token_type": "Bearer", "expires_in": 3600}),
    );
    let resp = callback(
        &t,
        "mock",
        &[("code", "c"), ("state", &flow.state), ("iss", &f.base)],
        &flow.cookies,
    );
    assert_eq!(location(&resp), "/dash");
    let me = json_body(&t.get("/get-session", Some(&cookie_header(&resp))));
    assert_eq!(me["user"]["email"], "ada@example.com");
    assert_eq!(me["user"]["emailVerified"], true);
    let accounts = json_body(&t.get("/list-accounts", Some(&cookie_header(&resp))));
    assert_eq!(accounts[0]["issuer"], f.base.as_str());
    assert_eq!(accounts[0]["accountId"], "oidc-user-1");
    assert_eq!(f.requests("/oidc/token")[0].form()["code_verifier"].len(), 128);

    // An id_token bound to another flow's nonce is refused.
    let flow = start(
        &t,
        json!({"provider": "mock", "callbackURL": "/dash", "errorCallbackURL": "/err"}),
    );
    let resp = callback(&t, "mock", &[("code", "c"), ("state", &flow.state)], &flow.cookies);
    assert_eq!(location(&resp), "/err?error=unable_to_get_user_info");
    // RFC 9207: an `iss` from another issuer is refused before the exchange.
    let flow = start(
        &t,
        json!({"provider": "mock", "callbackURL": "/dash", "errorCallbackURL": "/err"}),
    );
    let resp = callback(
        &t,
        "mock",
        &[("code", "c"), ("state", &flow.state), ("iss", "https://evil.example")],
        &flow.cookies,
    );
    assert_eq!(location(&resp), "/err?error=issuer_mismatch");
}

fn unreachable_discovery_is_retried_on_first_use(t: &TestApp) {
    let f = FakeProvider::start();
    let t = oauth::app(t.backend, &f, &[]);
    assert_error(
        &t.post("/sign-in/social", json!({"provider": "mock"})),
        502,
        "PROVIDER_UNAVAILABLE",
    );
    f.respond_fixture("/.well-known/openid-configuration", "oidc-discovery.json");
    let flow = start(&t, json!({"provider": "mock"}));
    assert!(flow.url.as_str().starts_with(&f.url("/authorize")));
}

crate::suite!(
    github_new_user_then_repeat_sign_in,
    default_callback_url_and_disable_redirect,
    sign_in_social_errors,
    state_failures_redirect_with_codes,
    provider_errors_redirect_with_codes,
    implicit_linking_rules,
    untrusted_unverified_provider_email_is_not_linked,
    sign_up_disabled_per_provider,
    form_post_callback_bounces_to_get,
    generic_oidc_discovery_and_id_token,
    unreachable_discovery_is_retried_on_first_use,
);
