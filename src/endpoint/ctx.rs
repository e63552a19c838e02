//! What a handler works with: [`Services`], everything built once at start-up that an endpoint
//! may reach (configuration, storage, clock, mail, OAuth providers, cookie policy, trusted
//! origins, the enabled plugins and the mounted endpoints), and [`Ctx`], one request's view of
//! them with the request's clock reading, parsed body and queued cookies.
//!
//! The app (`app.rs`) owns the `Services` and builds a `Ctx` per request; nothing here knows
//! the pipeline.

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

use serde_json::Value;
use time::OffsetDateTime;

use super::Router;
use crate::auth::password;
use crate::clock::Clock;
use crate::config::Config;
use crate::error::ApiError;
use crate::http::cookies::{CookieJar, SetCookie};
use crate::http::origin::TrustedOrigins;
use crate::http::Request;
use crate::mail::{Mail, Mailer, Outbox, QueueError};
use crate::plugins::Plugin;
use crate::storage::Storage;

/// Whether a request came over HTTP (CSRF checks apply) or from Rust code in-process
/// (Better Auth's `auth.api.*`: no router-level origin check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Http,
    InProcess,
}

/// Everything an endpoint may reach, built once at start-up.
pub struct Services {
    pub config: Config,
    pub storage: Arc<dyn Storage>,
    pub clock: Arc<dyn Clock>,
    /// Every mounted endpoint (core and enabled plugins), matched by method and path or key.
    pub router: Router,
    pub cookies: CookieJar,
    pub trusted: TrustedOrigins,
    /// Verified against when a sign-in names an unknown user, to equalise timing. Computed on
    /// first use, not at start-up: one scrypt hash would cost ~100 ms before the first answer.
    pub(crate) dummy_hash: OnceLock<String>,
    /// Enabled plugins, in hook order.
    pub plugins: Vec<&'static Plugin>,
    /// The transport email goes through (`SESAME_SMTP_URL`, `SESAME_EMAIL_WEBHOOK_URL`, or stderr).
    pub mailer: Arc<dyn Mailer>,
    /// Delivers through `mailer` from a background thread; handlers only queue.
    pub outbox: Outbox,
    /// Social sign-in providers (built from `config.oauth`).
    pub oauth: crate::oauth::OAuth,
    /// Limits HTTP requests per client and path, password attempts per account and mail per
    /// recipient (`ratelimit/`).
    pub rate_limiter: crate::ratelimit::RateLimiter,
    /// Every Prometheus metric (`metrics.rs`), served when `SESAME_METRICS_ADDR` is set.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Answers `/ready` within its time budget (`api/ready.rs`).
    pub readiness: crate::api::ready::Readiness,
    /// Runs every password hash and verification (`auth/hash_pool.rs`).
    pub hash_pool: crate::auth::hash_pool::HashPool,
}

impl Services {
    /// Queues an email for background delivery; never waits for the mail server. With
    /// database storage the email is stored before this returns, and a full queue (503
    /// `MAIL_QUEUE_FULL`) or an unavailable database (503) fails the request, so no answer
    /// claims an email that was not kept.
    pub fn send_mail(&self, mail: Mail) -> Result<(), ApiError> {
        match self.outbox.send(mail) {
            Ok(()) => Ok(()),
            Err(QueueError::Full) => Err(mail_queue_full()),
            Err(QueueError::Storage(e)) => Err(e.into()),
        }
    }

    /// 503 `MAIL_QUEUE_FULL` when the outbox is known to be full, before a request that may
    /// send email changes anything (and before it looks up whether there is anyone to mail,
    /// so the answer says nothing about accounts).
    pub fn ensure_mail_room(&self) -> Result<(), ApiError> {
        if self.outbox.has_room() {
            Ok(())
        } else {
            Err(mail_queue_full())
        }
    }

    /// A hash in the configured scheme and cost that no password matches.
    pub fn dummy_hash(&self) -> &str {
        self.dummy_hash.get_or_init(|| {
            password::dummy_hash(self.config.password_hash, self.config.bcrypt_cost).unwrap_or_else(|e| {
                // Hashing a random string cannot fail with a validated config; if it ever did,
                // a malformed hash still makes every comparison fail, just faster.
                tracing::error!("computing the dummy password hash: {e:#}");
                String::new()
            })
        })
    }
}

fn mail_queue_full() -> ApiError {
    ApiError::new(503, crate::error::codes::MAIL_QUEUE_FULL).with_header("retry-after", "60")
}

/// Per-request context handed to handlers.
pub struct Ctx<'a> {
    /// The application's services.
    pub app: &'a Services,
    /// The request's one reading of the clock, in milliseconds precision.
    pub now: OffsetDateTime,
    /// The parsed body, if any.
    pub body: Option<Value>,
    pub transport: Transport,
    cookies: &'a RefCell<Vec<SetCookie>>,
}

impl<'a> Ctx<'a> {
    /// Hashes a new password in the configured scheme, on the hashing pool (503
    /// `SERVER_BUSY` when the pool cannot take it in time).
    pub fn hash_password(&self, pass: &str) -> Result<String, ApiError> {
        let (pass, scheme, cost) = (pass.to_string(), self.config().password_hash, self.config().bcrypt_cost);
        Ok(self.app.hash_pool.run(move || password::hash(&pass, scheme, cost))??)
    }

    /// Whether `pass` matches the stored hash, checked on the hashing pool (503 `SERVER_BUSY`
    /// when the pool cannot take it in time).
    pub fn verify_password(&self, pass: &str, hash: &str) -> Result<bool, ApiError> {
        let (pass, hash) = (pass.to_string(), hash.to_string());
        self.app.hash_pool.run(move || password::verify(&pass, &hash))
    }

    /// A request's context; `cookies` collects what [`Ctx::add_cookie`] queues, for the
    /// pipeline to add to whatever the request answers.
    pub fn new(
        app: &'a Services,
        now: OffsetDateTime,
        body: Option<Value>,
        transport: Transport,
        cookies: &'a RefCell<Vec<SetCookie>>,
    ) -> Ctx<'a> {
        Ctx {
            app,
            now,
            body,
            transport,
            cookies,
        }
    }

    pub fn storage(&self) -> &dyn Storage {
        self.app.storage.as_ref()
    }

    pub fn config(&self) -> &Config {
        &self.app.config
    }

    pub fn secret(&self) -> &str {
        self.app.config.secret.expose()
    }

    /// Queues a cookie for the response, success or error. A deletion replaces any value
    /// queued earlier for the same name.
    pub fn add_cookie(&self, cookie: SetCookie) {
        let mut c = self.cookies.borrow_mut();
        if cookie.is_deletion() {
            c.retain(|v| v.name != cookie.name);
        }
        c.push(cookie);
    }

    /// Sets the signed session cookie; a rememberMe=false session gets browser-session
    /// cookies and the signed `dont_remember` marker (Better Auth's `setSessionCookie`).
    pub fn set_session_cookie(&self, token: &str, dont_remember: bool) {
        let jar = &self.app.cookies;
        let max_age = if dont_remember {
            None
        } else {
            Some(self.config().session_expires_in)
        };
        self.add_cookie(jar.signed(self.secret(), "session_token", token, max_age));
        if dont_remember {
            self.add_cookie(jar.signed(self.secret(), "dont_remember", "true", None));
        }
    }

    /// A user as endpoints answer it: the core fields and every enabled plugin's.
    pub fn user_json(&self, user: &crate::storage::models::User) -> Value {
        user_value(&self.app.plugins, user)
    }

    /// A session as endpoints answer it, with every enabled plugin's fields.
    pub fn session_json(&self, session: &crate::storage::models::Session) -> Value {
        session_value(&self.app.plugins, session)
    }

    /// Expires every session cookie.
    pub fn expire_session_cookies(&self) {
        for name in ["session_token", "session_data", "dont_remember"] {
            self.add_cookie(self.app.cookies.expire(name));
        }
    }

    /// The client address recorded on sessions, resolved as for rate limiting
    /// (`http::client_ip`: trusted proxies, IPv6 /64); `""` when unknown.
    pub fn client_ip(&self, req: &Request) -> String {
        let config = &self.app.config;
        crate::http::client_ip::client_key_with(req, &config.trusted_proxies, &config.ip_address_headers)
            .unwrap_or_default()
    }

    /// A redirect target made absolute against the base URL (`new URL(cb, baseURL)`).
    pub fn absolute_url(&self, target: &str) -> String {
        let base = self.config().base_url();
        match url::Url::parse(&base).and_then(|b| b.join(target)) {
            Ok(u) => u.to_string(),
            Err(_) => target.to_string(),
        }
    }
}

/// [`Ctx::user_json`] for these plugins.
pub fn user_value(plugins: &[&'static Plugin], user: &crate::storage::models::User) -> Value {
    let mut extra = serde_json::Map::new();
    for p in plugins {
        p.hooks.user_fields(user, &mut |key, value| {
            extra.insert(key.into(), value.to_value());
        });
    }
    with_fields_before_id(user.to_json(), extra)
}

/// [`Ctx::session_json`] for these plugins.
pub fn session_value(plugins: &[&'static Plugin], session: &crate::storage::models::Session) -> Value {
    let mut extra = serde_json::Map::new();
    for p in plugins {
        p.hooks.session_fields(session, &mut |key, value| {
            extra.insert(key.into(), value.to_value());
        });
    }
    with_fields_before_id(session.to_json(), extra)
}

/// `fields` inserted before the object's `id` key (Better Auth's order for plugin fields).
pub fn with_fields_before_id(value: Value, mut fields: serde_json::Map<String, Value>) -> Value {
    let Value::Object(core) = value else {
        return value;
    };
    if fields.is_empty() {
        return Value::Object(core);
    }
    let mut out = serde_json::Map::new();
    for (k, v) in core {
        if k == "id" {
            out.append(&mut fields);
        }
        out.insert(k, v);
    }
    out.append(&mut fields);
    Value::Object(out)
}
