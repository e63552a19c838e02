//! Helpers for the two-factor plugin's tests: an app with the plugin, a cookie-keeping client
//! over the HTTP pipeline, and TOTP codes computed from a `totpURI` as an authenticator app
//! would (with `totp-rs`, independently of Sesame's own TOTP code).

use std::collections::BTreeMap;

use serde_json::{json, Value};
use sesame::clock::Clock;
use sesame::http::{Request, Response};

use super::{json_body, Backend, TestApp, BASE, ORIGIN, PASSWORD};

pub const EMAIL: &str = "ada@example.com";

/// An app with the two-factor and username plugins.
pub fn app(backend: Backend) -> TestApp {
    TestApp::with_config(backend, |c| {
        c.plugins = vec!["two-factor".into(), "username".into()];
    })
}

/// A browser on the app's origin: keeps the cookies each answer sets.
pub struct Client<'a> {
    pub t: &'a TestApp,
    jar: BTreeMap<String, String>,
}

impl<'a> Client<'a> {
    pub fn new(t: &'a TestApp) -> Client<'a> {
        Client {
            t,
            jar: BTreeMap::new(),
        }
    }

    pub fn cookie_header(&self) -> String {
        self.jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Whether the jar holds `better-auth.<short>`.
    pub fn has(&self, short: &str) -> bool {
        self.jar.contains_key(&format!("better-auth.{short}"))
    }

    pub fn forget(&mut self, short: &str) {
        self.jar.remove(&format!("better-auth.{short}"));
    }

    pub fn set_raw(&mut self, short: &str, value: &str) {
        self.jar.insert(format!("better-auth.{short}"), value.to_string());
    }

    pub fn raw(&self, short: &str) -> Option<String> {
        self.jar.get(&format!("better-auth.{short}")).cloned()
    }

    fn keep(&mut self, resp: &Response) {
        for line in resp.set_cookies() {
            let Some((name, value)) = line.split(';').next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            if line.contains("Max-Age=0") {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_string(), value.to_string());
            }
        }
    }

    pub fn post(&mut self, path: &str, body: Value) -> Response {
        let mut req = Request::post(&format!("{BASE}{path}"))
            .with_json(&body)
            .with_header("origin", ORIGIN);
        if !self.jar.is_empty() {
            req = req.with_header("cookie", &self.cookie_header());
        }
        let resp = self.t.send(req);
        self.keep(&resp);
        resp
    }

    pub fn get(&mut self, path: &str) -> Response {
        let mut req = Request::get(&format!("{BASE}{path}"));
        if !self.jar.is_empty() {
            req = req.with_header("cookie", &self.cookie_header());
        }
        let resp = self.t.send(req);
        self.keep(&resp);
        resp
    }

    /// The signed-in user per get-session (`Null` when signed out).
    pub fn session_user(&mut self) -> Value {
        let resp = self.get("/get-session");
        assert_eq!(resp.status, 200);
        json_body(&resp)["user"].clone()
    }

    pub fn sign_in(&mut self) -> Response {
        self.post("/sign-in/email", json!({"email": EMAIL, "password": PASSWORD}))
    }
}

/// The key bytes of a `totpURI`'s `secret` (unpadded base32).
pub fn key_of(uri: &str) -> Vec<u8> {
    let url = url::Url::parse(uri).expect("totpURI is a URL");
    let secret = url
        .query_pairs()
        .find(|(k, _)| k == "secret")
        .map(|(_, v)| v.into_owned())
        .expect("totpURI has a secret");
    totp_rs::Secret::Encoded(secret).to_bytes().expect("base32 secret")
}

/// The 6-digit SHA-1 code of the 30-second step `offset` steps from the app's clock.
pub fn code(t: &TestApp, key: &[u8], offset: i64) -> String {
    let now = t.clock.now().unix_timestamp() + offset * 30;
    let totp = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, key.to_vec());
    totp.generate(u64::try_from(now).unwrap())
}

/// Moves the clock to the next 30-second step (a fresh TOTP code).
pub fn next_step(t: &TestApp) {
    t.clock.advance(time::Duration::seconds(30));
}

/// Signs up Ada and enables TOTP (enable, then a first code): the client is signed in, and the
/// key and backup codes are returned. The clock is on a fresh step afterwards.
pub fn with_totp(t: &TestApp) -> (Client<'_>, Vec<u8>, Vec<String>) {
    let mut c = Client::new(t);
    let resp = c.post(
        "/sign-up/email",
        json!({"name": "Ada", "email": EMAIL, "password": PASSWORD}),
    );
    assert_eq!(resp.status, 200);
    let resp = c.post("/two-factor/enable", json!({"password": PASSWORD}));
    assert_eq!(resp.status, 200, "{}", super::body_text(&resp));
    let body = json_body(&resp);
    let key = key_of(body["totpURI"].as_str().unwrap());
    let codes: Vec<String> = serde_json::from_value(body["backupCodes"].clone()).unwrap();
    let resp = c.post("/two-factor/verify-totp", json!({"code": code(t, &key, 0)}));
    assert_eq!(resp.status, 200, "{}", super::body_text(&resp));
    next_step(t);
    (c, key, codes)
}
