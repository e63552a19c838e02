//! Helpers for the social sign-in tests: an app whose providers point at a [`FakeProvider`],
//! starting a flow and following it to the callback as a browser would.

use std::collections::HashMap;

use serde_json::{json, Value};
use sesame::config::oauth::OAuthConfig;
use sesame::http::{Request, Response};

use super::fake_provider::{FakeProvider, TestKey};
use super::{cookie_header, json_body, Backend, TestApp, BASE};

/// A fake serving GitHub-style and OIDC endpoints with the canned fixtures.
pub fn fake() -> FakeProvider {
    let f = FakeProvider::start();
    f.respond_fixture("/github/token", "github-token.json");
    f.respond_fixture("/github/user", "github-user.json");
    f.respond_fixture("/github/emails", "github-emails.json");
    f.respond_fixture("/.well-known/openid-configuration", "oidc-discovery.json");
    f.respond_fixture("/jwks", "jwks.json");
    f.respond_fixture("/oidc/userinfo", "oidc-userinfo.json");
    f
}

/// The provider variables pointing github, google and the OIDC provider `mock` at the fake.
pub fn vars(f: &FakeProvider, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut v: HashMap<String, String> = [
        ("GITHUB_CLIENT_ID", "gh-client".to_string()),
        ("GITHUB_CLIENT_SECRET", "gh-secret".to_string()),
        ("SESAME_GITHUB_AUTHORIZATION_URL", f.url("/login/oauth/authorize")),
        ("SESAME_GITHUB_TOKEN_URL", f.url("/github/token")),
        ("SESAME_GITHUB_USERINFO_URL", f.url("/github/user")),
        ("SESAME_GITHUB_EMAILS_URL", f.url("/github/emails")),
        ("GOOGLE_CLIENT_ID", "google-client".to_string()),
        ("GOOGLE_CLIENT_SECRET", "google-secret".to_string()),
        ("SESAME_GOOGLE_JWKS_URL", f.url("/jwks")),
        ("SESAME_GOOGLE_TOKEN_URL", f.url("/google/token")),
        ("SESAME_OIDC_PROVIDERS", "mock".to_string()),
        (
            "SESAME_OIDC_MOCK_DISCOVERY_URL",
            f.url("/.well-known/openid-configuration"),
        ),
        ("SESAME_OIDC_MOCK_CLIENT_ID", "mock-client".to_string()),
        ("SESAME_OIDC_MOCK_CLIENT_SECRET", "mock-secret".to_string()),
        // Generous: CI machines are loaded two-core boxes. The timeout test sets its own.
        ("SESAME_OAUTH_TIMEOUT_MS", "10000".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (k, val) in extra {
        v.insert(k.to_string(), val.to_string());
    }
    v
}

/// A test app on `backend` whose providers point at the fake.
pub fn app(backend: Backend, f: &FakeProvider, extra: &[(&str, &str)]) -> TestApp {
    let vars = vars(f, extra);
    TestApp::with_config(backend, |c| {
        c.oauth = OAuthConfig::from_vars(&vars).expect("oauth config parses")
    })
}

/// A started redirect flow.
pub struct Flow {
    pub response: Response,
    pub url: url::Url,
    pub state: String,
    /// The `Cookie` header the browser sends back (the signed state cookie).
    pub cookies: String,
}

impl Flow {
    pub fn param(&self, key: &str) -> Option<String> {
        self.url
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    }
}

/// `POST /sign-in/social` with `body`, expecting the redirect answer.
pub fn start(t: &TestApp, body: Value) -> Flow {
    let resp = t.post("/sign-in/social", body);
    flow_from(resp)
}

pub fn flow_from(resp: Response) -> Flow {
    assert_eq!(resp.status, 200, "sign-in/social: {}", super::body_text(&resp));
    let url = url::Url::parse(json_body(&resp)["url"].as_str().unwrap()).unwrap();
    let state = url.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    let cookies = cookie_header(&resp);
    Flow {
        response: resp,
        url,
        state,
        cookies,
    }
}

/// The provider redirecting the browser back: `GET /callback/<id>?<query>` with cookies.
pub fn callback(t: &TestApp, provider: &str, query: &[(&str, &str)], cookies: &str) -> Response {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query.iter())
        .finish();
    let mut req = Request::get(&format!("{BASE}/callback/{provider}?{q}"));
    if !cookies.is_empty() {
        req = req.with_header("cookie", cookies);
    }
    t.send(req)
}

/// Runs a whole GitHub sign-in and returns the callback's answer.
pub fn github_sign_in(t: &TestApp, body: Value) -> Response {
    let flow = start(t, body);
    callback(
        t,
        "github",
        &[("code", "code-1"), ("state", &flow.state)],
        &flow.cookies,
    )
}

/// The `Location` of a redirect.
pub fn location(resp: &Response) -> &str {
    assert_eq!(resp.status, 302, "expected a redirect: {}", super::body_text(resp));
    resp.header("location").unwrap_or_default()
}

/// Claims of a valid ID token for `aud`, issued at the test clock's now.
pub fn claims(t: &TestApp, iss: &str, aud: &str, sub: &str, email: &str) -> Value {
    let now = now_secs(t);
    json!({
        "iss": iss, "aud": aud, "sub": sub, "email": email, "email_verified": true,
        "name": "Id Token User", "picture": "https://img.example.com/p.png",
        "iat": now, "exp": now + 3600,
    })
}

/// The test clock's now, in Unix seconds.
pub fn now_secs(t: &TestApp) -> i64 {
    use sesame::clock::Clock;
    t.clock.now().unix_timestamp()
}

pub fn id_token(claims: &Value, key: TestKey) -> String {
    super::fake_provider::sign(claims, key)
}
