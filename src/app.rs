//! The transport-free core: [`App`] holds configuration, storage, clock and the route table;
//! [`App::handle_http`] turns a [`Request`] into a [`Response`], and the in-process API
//! (`inprocess.rs`) walks the same pipeline by endpoint key.
//!
//! Pipeline (spec §1.3, the order decides which error wins): for HTTP, the rate limit (429,
//! `ratelimit/`) → base path and route (404/405)
//! → body parse (415/400) → for HTTP, non-GET requests: the Origin check when cookies are
//! sent and the redirect-URL fields (403) → the handler, which validates (400), resolves the
//! session (401/403) and acts. Cookies set on the way (a refreshed session, cleared cookies)
//! are added to whatever the handler answers. A panic becomes a logged 500. Every HTTP answer
//! then gets the security headers (`http/security_headers.rs`).

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use serde_json::Value;
use time::OffsetDateTime;

use crate::auth::password;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, StorageUrl};
use crate::error::{codes, ApiError};
use crate::http::cookies::CookieJar;
use crate::http::origin::{self, TrustedOrigins};
use crate::http::router::{Match, Router};
use crate::http::{body, request_id, Method, Request, Response};
use crate::mail::{Mail, Mailer, Outbox, RetryPolicy};
use crate::plugins::Plugin;
use crate::storage::memory::MemoryStorage;
use crate::storage::postgres::PgStorage;
use crate::storage::sql::{migrations::CORE, Migration};
use crate::storage::sqlite::SqliteStorage;
use crate::storage::Storage;

/// Every migration this build applies, in order: the core schema, then each compiled-in
/// plugin's, enabled or not (so enabling a plugin later never finds its tables or columns
/// missing). Storage applies the list it is handed and never reads the plugin list.
pub fn migrations() -> Vec<Migration> {
    let plugins = crate::plugins::ALL_PLUGINS.iter().flat_map(|p| p.migrations);
    CORE.iter().chain(plugins).copied().collect()
}

/// Whether a request came over HTTP (CSRF checks apply) or from Rust code in-process
/// (Better Auth's `auth.api.*`: no router-level origin check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Http,
    InProcess,
}

pub struct App {
    pub config: Config,
    pub storage: Arc<dyn Storage>,
    pub clock: Arc<dyn Clock>,
    pub router: Router,
    pub cookies: CookieJar,
    pub trusted: TrustedOrigins,
    /// Verified against when a sign-in names an unknown user, to equalise timing. Computed on
    /// first use, not at start-up: one scrypt hash would cost ~100 ms before the first answer.
    dummy_hash: std::sync::OnceLock<String>,
    /// Enabled plugins, in hook order.
    pub plugins: Vec<&'static Plugin>,
    /// The transport email goes through (`SESAME_SMTP_URL`, `SESAME_EMAIL_WEBHOOK_URL`, or stderr).
    pub mailer: Arc<dyn Mailer>,
    /// Delivers through `mailer` from a background thread; handlers only queue.
    pub outbox: Outbox,
    /// Social sign-in providers (built from `config.oauth`).
    pub oauth: crate::oauth::OAuth,
    /// Limits HTTP requests per client and path (`ratelimit/`).
    pub rate_limiter: crate::ratelimit::RateLimiter,
    /// Warns once about `X-Forwarded-For` from a peer not in `SESAME_TRUSTED_PROXIES`.
    forwarded_for: crate::http::client_ip::UntrustedForwardedFor,
}

impl App {
    /// Builds the app with the storage `DATABASE_URL` names.
    pub fn from_config(config: Config) -> anyhow::Result<App> {
        let storage: Arc<dyn Storage> = match &config.storage {
            StorageUrl::Memory => Arc::new(MemoryStorage::new()),
            StorageUrl::Postgres(url) => Arc::new(PgStorage::connect(url.expose(), &config, &migrations())?),
            StorageUrl::Sqlite(path) => Arc::new(SqliteStorage::connect(path, &config, &migrations())?),
        };
        let app = App::new(config, storage, Arc::new(SystemClock))?;
        app.oauth.warm_up();
        Ok(app)
    }

    pub fn new(config: Config, storage: Arc<dyn Storage>, clock: Arc<dyn Clock>) -> anyhow::Result<App> {
        let plugins = crate::plugins::enabled(&config.plugins)?;
        let router = Router::new(crate::plugins::routes(&plugins))?;
        let mailer = crate::mail::from_config(&config)?;
        let outbox = Outbox::start(mailer.clone(), RetryPolicy::default())?;
        Ok(App {
            oauth: crate::oauth::OAuth::new(&config.oauth),
            rate_limiter: crate::ratelimit::RateLimiter::from_config(&config, &storage),
            cookies: CookieJar::new(&config),
            trusted: TrustedOrigins::new(&config.base_origin, &config.trusted_origins),
            config,
            storage,
            clock,
            router,
            dummy_hash: std::sync::OnceLock::new(),
            forwarded_for: Default::default(),
            plugins,
            mailer,
            outbox,
        })
    }

    /// The same app sending email through `mailer` (tests inject a `RecordingMailer`).
    pub fn with_mailer(self, mailer: Arc<dyn Mailer>) -> anyhow::Result<App> {
        self.with_mailer_policy(mailer, RetryPolicy::default())
    }

    /// The same app sending email through `mailer` with a retry policy of its own.
    pub fn with_mailer_policy(mut self, mailer: Arc<dyn Mailer>, policy: RetryPolicy) -> anyhow::Result<App> {
        // Dropping the old outbox ends its thread once its queue is empty.
        self.outbox = Outbox::start(mailer.clone(), policy)?;
        self.mailer = mailer;
        Ok(self)
    }

    /// Queues an email for background delivery; never blocks, never fails the request.
    pub fn send_mail(&self, mail: Mail) {
        self.outbox.send(mail);
    }

    /// A hash in the configured scheme and cost that no password matches.
    pub fn dummy_hash(&self) -> &str {
        self.dummy_hash.get_or_init(|| {
            password::dummy_hash(self.config.password_hash, self.config.bcrypt_cost).unwrap_or_else(|e| {
                // Hashing a random string cannot fail with a validated config; if it ever did,
                // a malformed hash still makes every comparison fail, just faster.
                eprintln!("ERROR computing the dummy password hash: {e:#}");
                String::new()
            })
        })
    }

    /// Whether a request (method and raw target) would run a password-hashing handler.
    pub fn is_slow_request(&self, method: &str, target: &str) -> bool {
        let path = target.split('?').next().unwrap_or_default();
        path.strip_prefix(self.config.base_path.as_str())
            .is_some_and(|rest| self.router.is_slow(&Method::parse(method), rest))
    }

    /// Answers one HTTP request. Never panics: a panicking handler gives a logged 500.
    pub fn handle_http(&self, req: Request) -> Response {
        self.forwarded_for.check(&req, &self.config.trusted_proxies);
        let mut resp = match self.run(req, Transport::Http) {
            Ok(r) => r,
            Err(e) => Response::from_error(&e),
        };
        crate::http::security_headers::apply(&mut resp);
        resp
    }

    /// Runs the pipeline inside `catch_unwind`; errors keep the cookies set on the way. Every
    /// `Location` leaves percent-encoded (`http::location`).
    pub(crate) fn run(&self, mut req: Request, transport: Transport) -> Result<Response, ApiError> {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let ctx_cookies = RefCell::new(Vec::new());
            let result = self.dispatch(&mut req, transport, &ctx_cookies);
            (result, ctx_cookies.into_inner())
        }));
        match outcome {
            Ok((Ok(mut resp), cookies)) => {
                for c in cookies {
                    resp.add_set_cookie(c);
                }
                crate::http::location::encode_headers(&mut resp.headers);
                Ok(resp)
            }
            Ok((Err(mut err), cookies)) => {
                err.headers
                    .extend(cookies.into_iter().map(|c| ("set-cookie".to_string(), c)));
                crate::http::location::encode_headers(&mut err.headers);
                Err(err)
            }
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                crate::log::error(&format!(
                    "request_id={} handler panicked: {what}",
                    request_id::current()
                ));
                Err(ApiError::internal())
            }
        }
    }

    fn dispatch(
        &self,
        req: &mut Request,
        transport: Transport,
        cookies: &RefCell<Vec<String>>,
    ) -> Result<Response, ApiError> {
        if transport == Transport::Http {
            self.rate_limit(req)?;
        }
        let not_found = || ApiError::new(404, codes::NOT_FOUND);
        let Some(rest) = req.path.strip_prefix(self.config.base_path.as_str()) else {
            return Err(not_found());
        };
        if !rest.starts_with('/') || rest.contains("//") {
            return Err(not_found());
        }
        let rest = rest.to_string();
        let (route, params) = match self.router.find(&req.method, &rest) {
            Match::Found(route, params) => (*route, params),
            Match::WrongMethod(allow) => {
                return Err(ApiError::new(405, codes::METHOD_NOT_ALLOWED).with_header("allow", allow.join(", ")))
            }
            Match::NotFound => return Err(not_found()),
        };
        req.params = params;
        let parsed = body::parse(req, route.body)?;
        crate::http::input_guard::check(req, parsed.as_ref())?;
        if transport == Transport::Http && !matches!(req.method, Method::Get | Method::Head | Method::Options) {
            if req.header("cookie").is_some() {
                origin::check_request_origin(&self.trusted, req)?;
            }
            origin::check_url_fields(&self.trusted, parsed.as_ref(), req)?;
        }
        let ctx = Ctx {
            app: self,
            now: crate::clock::millis(self.clock.now()),
            body: parsed,
            transport,
            cookies,
        };
        for plugin in &self.plugins {
            if let Some(early) = plugin.hooks.before(&ctx, req)? {
                return Ok(early);
            }
        }
        let mut resp = (route.handler)(&ctx, req)?;
        for c in cookies.borrow_mut().drain(..) {
            resp.add_set_cookie(c);
        }
        for plugin in &self.plugins {
            plugin.hooks.after(&ctx, req, &mut resp);
        }
        Ok(resp)
    }
}

/// Per-request context handed to handlers.
pub struct Ctx<'a> {
    pub app: &'a App,
    /// The request's one reading of the clock, in milliseconds precision.
    pub now: OffsetDateTime,
    /// The parsed body, if any.
    pub body: Option<Value>,
    pub transport: Transport,
    cookies: &'a RefCell<Vec<String>>,
}

impl Ctx<'_> {
    pub fn storage(&self) -> &dyn Storage {
        self.app.storage.as_ref()
    }

    pub fn config(&self) -> &Config {
        &self.app.config
    }

    pub fn secret(&self) -> &str {
        self.app.config.secret.expose()
    }

    /// Queues a rendered `Set-Cookie` for the response, success or error.
    pub fn add_cookie(&self, rendered: String) {
        let mut c = self.cookies.borrow_mut();
        let name = rendered.split('=').next().unwrap_or_default().to_string();
        if rendered.contains("; Max-Age=0;") {
            c.retain(|v| v.split('=').next() != Some(name.as_str()));
        }
        c.push(rendered);
    }

    /// Sets the signed session cookie; a rememberMe=false session gets browser-session
    /// cookies and the signed `dont_remember` marker (spec §4.6).
    pub fn set_session_cookie(&self, token: &str, dont_remember: bool) {
        let jar = &self.app.cookies;
        let max_age = if dont_remember {
            None
        } else {
            Some(self.config().session_expires_in)
        };
        self.add_cookie(jar.render_signed(self.secret(), "session_token", token, max_age));
        if dont_remember {
            self.add_cookie(jar.render_signed(self.secret(), "dont_remember", "true", None));
        }
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
        crate::http::client_ip::client_key(req, &self.app.config.trusted_proxies).unwrap_or_default()
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
