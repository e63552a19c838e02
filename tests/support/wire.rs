//! Helpers for the behaviour battery: parsed `Set-Cookie` lines, requests with any headers or
//! body, signed-in users, and rows written straight through the storage trait (sessions at
//! chosen times, users without a password) for states the API cannot produce directly.

use serde_json::{json, Value};
use sesame::http::{Request, Response};
use sesame::storage::models::{Account, Session, User};
use time::{Duration, OffsetDateTime};

use super::{assert_error, body_text, cookie_header, json_body, TestApp, BASE, ORIGIN, PASSWORD};

/// One `Set-Cookie` line, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie {
    pub name: String,
    pub value: String,
    pub max_age: Option<i64>,
    pub path: Option<String>,
    pub http_only: bool,
    pub secure: bool,
    pub same_site: Option<String>,
    pub domain: Option<String>,
    /// Attribute names in the order they appear (`Max-Age`, `Path`, …).
    pub order: Vec<String>,
    pub raw: String,
}

impl SetCookie {
    pub fn parse(line: &str) -> SetCookie {
        let mut parts = line.split(';').map(str::trim);
        let (name, value) = parts.next().and_then(|p| p.split_once('=')).expect("name=value");
        let mut c = SetCookie {
            name: name.to_string(),
            value: value.to_string(),
            max_age: None,
            path: None,
            http_only: false,
            secure: false,
            same_site: None,
            domain: None,
            order: Vec::new(),
            raw: line.to_string(),
        };
        for attr in parts {
            let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
            c.order.push(k.to_string());
            match k {
                "Max-Age" => c.max_age = Some(v.parse().expect("numeric Max-Age")),
                "Path" => c.path = Some(v.to_string()),
                "HttpOnly" => c.http_only = true,
                "Secure" => c.secure = true,
                "SameSite" => c.same_site = Some(v.to_string()),
                "Domain" => c.domain = Some(v.to_string()),
                other => panic!("unexpected cookie attribute {other} in {line}"),
            }
        }
        c
    }

    /// Better Auth's defaults: `Path=/; HttpOnly; SameSite=Lax`, `Secure` only when asked.
    pub fn assert_default_attributes(&self, secure: bool) {
        assert_eq!(self.path.as_deref(), Some("/"), "{}", self.raw);
        assert!(self.http_only, "not HttpOnly: {}", self.raw);
        assert_eq!(self.same_site.as_deref(), Some("Lax"), "{}", self.raw);
        assert_eq!(self.secure, secure, "Secure attribute: {}", self.raw);
    }

    pub fn is_expiry(&self) -> bool {
        self.value.is_empty() && self.max_age == Some(0)
    }
}

/// Every `Set-Cookie` of a response, parsed.
pub fn set_cookies(resp: &Response) -> Vec<SetCookie> {
    resp.set_cookies().iter().map(|l| SetCookie::parse(l)).collect()
}

/// The one `Set-Cookie` for this full cookie name (panics if there are several).
pub fn the_cookie(resp: &Response, name: &str) -> Option<SetCookie> {
    let all: Vec<SetCookie> = set_cookies(resp).into_iter().filter(|c| c.name == name).collect();
    assert!(all.len() <= 1, "several Set-Cookie for {name}: {all:?}");
    all.into_iter().next()
}

/// Asserts that the response expires exactly the three session cookies, with default attributes.
pub fn assert_clears_session_cookies(resp: &Response, prefix: &str, secure: bool) {
    let cookies = set_cookies(resp);
    let names: Vec<&str> = cookies.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            format!("{prefix}.session_token"),
            format!("{prefix}.session_data"),
            format!("{prefix}.dont_remember")
        ],
        "{:?}",
        resp.set_cookies()
    );
    for c in &cookies {
        assert!(c.is_expiry(), "not an expiry: {}", c.raw);
        let mut order = vec!["Max-Age", "Path", "HttpOnly"];
        if secure {
            order.push("Secure");
        }
        order.push("SameSite");
        assert_eq!(c.order, order, "{}", c.raw);
        c.assert_default_attributes(secure);
    }
}

/// Asserts a `200 null` get-session answer.
pub fn assert_null_session(resp: &Response) {
    assert_eq!(resp.status, 200, "{}", body_text(resp));
    assert_eq!(body_text(resp), "null");
}

/// A signed-in user: the token, the `Cookie` header to send and the user's id.
#[derive(Debug, Clone)]
pub struct Signed {
    pub token: String,
    pub cookie: String,
    pub user_id: String,
    pub email: String,
}

impl TestApp {
    /// A POST with a JSON body and these headers (nothing else added).
    pub fn post_headers(&self, path: &str, body: Value, headers: &[(&str, &str)]) -> Response {
        let mut req = Request::post(&format!("{BASE}{path}")).with_json(&body);
        for (k, v) in headers {
            req = req.with_header(k, v);
        }
        self.send(req)
    }

    /// A POST with a raw body of the given content type and these headers.
    pub fn post_raw(&self, path: &str, content_type: &str, body: &[u8], headers: &[(&str, &str)]) -> Response {
        let mut req = Request::post(&format!("{BASE}{path}")).with_body(content_type, body);
        for (k, v) in headers {
            req = req.with_header(k, v);
        }
        self.send(req)
    }

    /// A POST without any body, with cookies and the trusted Origin.
    pub fn post_empty(&self, path: &str, cookies: &str) -> Response {
        self.send(
            Request::post(&format!("{BASE}{path}"))
                .with_header("cookie", cookies)
                .with_header("origin", ORIGIN),
        )
    }

    /// A form-urlencoded POST without cookies.
    pub fn post_form(&self, path: &str, form: &str) -> Response {
        self.post_raw(path, "application/x-www-form-urlencoded", form.as_bytes(), &[])
    }

    /// Signs up `email` with [`PASSWORD`] and returns the signed-in user.
    pub fn signed_up(&self, email: &str) -> Signed {
        self.signed_up_with(email, PASSWORD)
    }

    pub fn signed_up_with(&self, email: &str, password: &str) -> Signed {
        let resp = self.post(
            "/sign-up/email",
            json!({"name": "Test User", "email": email, "password": password}),
        );
        assert_eq!(resp.status, 200, "sign-up failed: {}", body_text(&resp));
        signed(&resp)
    }

    /// Signs in again (a second session for the same user).
    pub fn signed_in(&self, email: &str, password: &str) -> Signed {
        let resp = self.sign_in(email, password);
        assert_eq!(resp.status, 200, "sign-in failed: {}", body_text(&resp));
        signed(&resp)
    }

    /// The current session as get-session reports it (panics on `null`).
    pub fn session_of(&self, cookie: &str) -> Value {
        let resp = self.get("/get-session", Some(cookie));
        assert_eq!(resp.status, 200);
        let body = json_body(&resp);
        assert!(body.is_object(), "no session for {cookie}: {body}");
        body
    }

    /// The `Cookie` header carrying this token, signed as Sesame signs it.
    pub fn cookie_for(&self, token: &str) -> String {
        let set = self
            .app
            .cookies
            .signed(self.app.config.secret.expose(), "session_token", token, None)
            .render();
        set.split(';').next().unwrap().to_string()
    }

    /// Inserts a user (and, with a hash, their credential account) straight into storage.
    pub fn insert_user(&self, email: &str, password_hash: Option<&str>) -> User {
        let now = self.clock_now();
        let user = User {
            id: sesame::crypto::new_id(),
            name: "Stored User".into(),
            email: email.to_lowercase(),
            email_verified: false,
            image: None,
            created_at: now,
            updated_at: now,
            username: None,
            display_username: None,
            two_factor_enabled: None,
            admin: Default::default(),
            is_anonymous: false,
        };
        let account = match password_hash {
            Some(h) => Account::credential(&user.id, h.to_string(), now),
            // A social-only user: an OAuth account and no password.
            None => Account {
                issuer: "local:oauth:github".into(),
                account_id: format!("gh-{}", user.id),
                provider_id: "github".into(),
                password: None,
                ..Account::credential(&user.id, String::new(), now)
            },
        };
        self.storage().create_user_with_account(&user, &account).unwrap();
        user
    }

    /// Inserts a session row for the user created `age` ago and expiring `lifetime` after that.
    pub fn insert_session(&self, user_id: &str, age: Duration, lifetime: Duration) -> Session {
        let created = self.clock_now() - age;
        let session = Session {
            id: sesame::crypto::new_id(),
            token: sesame::crypto::new_id(),
            user_id: user_id.to_string(),
            expires_at: created + lifetime,
            created_at: created,
            updated_at: created,
            ip_address: Some(String::new()),
            user_agent: Some(String::new()),
            dont_remember_me: false,
            impersonated_by: None,
        };
        self.storage().create_session(&session).unwrap();
        session
    }

    pub fn clock_now(&self) -> OffsetDateTime {
        use sesame::clock::Clock;
        self.clock.now()
    }

    /// Whether a session row with this token exists.
    pub fn session_exists(&self, token: &str) -> bool {
        self.storage().find_session_with_user(token).unwrap().is_some()
    }
}

/// The signed-in user a sign-up or sign-in answer describes.
pub fn signed(resp: &Response) -> Signed {
    let body = json_body(resp);
    Signed {
        token: body["token"].as_str().expect("token").to_string(),
        cookie: cookie_header(resp),
        user_id: body["user"]["id"].as_str().expect("user id").to_string(),
        email: body["user"]["email"].as_str().expect("email").to_string(),
    }
}

/// Asserts a `VALIDATION_ERROR` with exactly this message.
pub fn assert_validation(resp: &Response, message: &str) {
    assert_error(resp, 400, "VALIDATION_ERROR");
    assert_eq!(json_body(resp)["message"], message);
}

/// Asserts an error whose message is also fixed.
pub fn assert_error_message(resp: &Response, status: u16, code: &str, message: &str) {
    assert_error(resp, status, code);
    assert_eq!(json_body(resp)["message"], message);
}

/// `2026-11-26T12:00:00.000Z`-style ISO string of a time, as Sesame writes dates.
pub fn iso(t: OffsetDateTime) -> String {
    sesame::clock::iso(t)
}

/// Whether a string is a 32-character alphanumeric id or token.
pub fn is_id(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() == 32 && s.bytes().all(|b| b.is_ascii_alphanumeric()))
}
