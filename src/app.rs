//! The transport-free core: [`App`] holds the [`Services`] endpoints reach, the route table
//! composed from core and enabled plugin endpoints, and the rate limiter; [`App::handle_http`]
//! turns a [`Request`] into a [`Response`], and the in-process API (`inprocess.rs`) walks the
//! same pipeline by endpoint key.
//!
//! The pipeline, in the order that decides which error wins (`App::dispatch`):
//! 0. for HTTP, a CORS preflight is answered on its own (`http/cors.rs`): no limit, no handler;
//! 1. for HTTP, the rate limit (429, `App::rate_limit`);
//! 2. base path and route (404/405);
//! 3. body parse (415/400) and the NUL guard;
//! 4. for HTTP, non-GET requests: the Origin check when cookies are sent, and the redirect-URL
//!    fields (403);
//! 5. each enabled plugin's `before` hook, in `plugins::ALL_PLUGINS` order (one may rewrite
//!    the request, as the bearer plugin does, or answer early);
//! 6. the body and query against the endpoint's declaration (400 `VALIDATION_ERROR`), then the
//!    handler, which resolves the session (401/403) and acts;
//! 7. on a successful answer, each enabled plugin's `after` hook in the same order.
//!
//! Cookies set on the way (a refreshed session, cleared cookies) are added to whatever the
//! request answers, error or not. A panic becomes a 500; an unexpected failure's cause is
//! logged here, once, with the request id. Every HTTP answer then gets the CORS headers for a
//! trusted `Origin` and the security headers (`http/security_headers.rs`).

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::auth::hash_pool::{HashPool, PoolSize};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, StorageUrl};
use crate::endpoint::{Ctx, Declared, Endpoint, Match, Router, Services, Transport};
use crate::error::{codes, ApiError};
use crate::http::cookies::CookieJar;
use crate::http::cors;
use crate::http::origin::{self, TrustedOrigins};
use crate::http::{body, Method, Request, Response};
use crate::mail::{Mailer, Outbox, RetryPolicy};
use crate::metrics::{FailureLabels, MailStats, Metrics, RouteLabels, StatsCollector};
use crate::plugins::Plugin;
use crate::ratelimit::RateLimiter;
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

/// The endpoints an app mounts: every core endpoint (`api::CORE_ENDPOINTS`), then each
/// enabled plugin's, in plugin order. The router refuses two claiming one method and path.
pub fn endpoints(plugins: &[&Plugin]) -> Vec<&'static dyn Declared> {
    let mut all = crate::api::CORE_ENDPOINTS.to_vec();
    for p in plugins {
        all.extend_from_slice(p.endpoints);
    }
    all
}

/// The storage `DATABASE_URL` names, connected and migrated.
pub fn open_storage(config: &Config) -> anyhow::Result<Arc<dyn Storage>> {
    Ok(match &config.storage {
        StorageUrl::Memory => Arc::new(MemoryStorage::new()),
        StorageUrl::Postgres(url) => Arc::new(PgStorage::connect(url.expose(), config, &migrations())?),
        StorageUrl::Sqlite(path) => Arc::new(SqliteStorage::connect(path, config, &migrations())?),
    })
}

/// The outbox the storage calls for: in the database's mail queue when it has one (the retry
/// policy is then the configuration's, `SESAME_MAIL_RETRY_*`), else in memory with `policy`.
fn start_outbox(
    config: &Config,
    storage: &Arc<dyn Storage>,
    mailer: Arc<dyn Mailer>,
    policy: RetryPolicy,
    stats: &Arc<MailStats>,
) -> anyhow::Result<Outbox> {
    match storage.clone().mail_queue() {
        Some(queue) => Outbox::start_durable(mailer, queue, config.email.outbox, stats.clone()),
        None => Outbox::start_counting(mailer, policy, stats.clone()),
    }
}

fn router(plugins: &[&Plugin]) -> anyhow::Result<Router> {
    Router::new(endpoints(plugins).into_iter().map(|d| d.endpoint()).collect())
}

pub struct App {
    services: Services,
    /// Warns once about `X-Forwarded-For` from a peer not in `SESAME_TRUSTED_PROXIES`.
    forwarded_for: crate::http::client_ip::UntrustedForwardedFor,
    /// Counts the outbox keeps, shared by every outbox this app starts.
    mail_stats: Arc<MailStats>,
}

/// The app's services (`app.config`, `app.storage`, …) are read through the app.
impl Deref for App {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.services
    }
}

impl DerefMut for App {
    fn deref_mut(&mut self) -> &mut Services {
        &mut self.services
    }
}

impl App {
    /// Builds the app with the storage `DATABASE_URL` names.
    pub fn from_config(config: Config) -> anyhow::Result<App> {
        let storage = open_storage(&config)?;
        let app = App::new(config, storage, Arc::new(SystemClock))?;
        app.oauth.warm_up();
        Ok(app)
    }

    /// The app configured in code: see [`AppBuilder`](crate::app_builder::AppBuilder).
    pub fn builder() -> crate::app_builder::AppBuilder {
        crate::app_builder::AppBuilder::new()
    }

    pub fn new(config: Config, storage: Arc<dyn Storage>, clock: Arc<dyn Clock>) -> anyhow::Result<App> {
        App::assemble(config, storage, clock, None)
    }

    /// The app over `storage`, sending email through `mailer` or, without one, the transport
    /// the configuration names.
    pub(crate) fn assemble(
        config: Config,
        storage: Arc<dyn Storage>,
        clock: Arc<dyn Clock>,
        mailer: Option<Arc<dyn Mailer>>,
    ) -> anyhow::Result<App> {
        let plugins = crate::plugins::enabled(&config.plugins)?;
        let router = router(&plugins)?;
        let mailer = match mailer {
            Some(m) => m,
            None => crate::mail::from_config(&config)?,
        };
        let mail_stats = Arc::new(MailStats::default());
        let outbox = start_outbox(&config, &storage, mailer.clone(), RetryPolicy::default(), &mail_stats)?;
        let scraped = storage.clone();
        let metrics = Arc::new(Metrics::new(StatsCollector {
            storage: Box::new(move || scraped.stats()),
            mail: mail_stats.clone(),
        }));
        let hash_pool = HashPool::new(
            PoolSize {
                threads: config.hash_threads,
                queue: config.hash_queue,
                start_timeout: Duration::from_millis(config.hash_start_timeout_ms),
                contended_cpu_rate: config.hash_cpu_rate,
            },
            metrics.clone(),
        );
        Ok(App {
            forwarded_for: Default::default(),
            mail_stats,
            services: Services {
                rate_limiter: RateLimiter::from_config(&config, &storage),
                oauth: crate::oauth::OAuth::new(&config.oauth),
                cookies: CookieJar::new(&config),
                trusted: TrustedOrigins::new(&config.base_origin, &config.trusted_origins),
                config,
                storage,
                clock,
                router,
                dummy_hash: OnceLock::new(),
                plugins,
                mailer,
                outbox,
                metrics,
                readiness: crate::api::ready::Readiness::new(migrations()),
                hash_pool,
            },
        })
    }

    /// The same app sending email through `mailer` (tests inject a `RecordingMailer`).
    pub fn with_mailer(self, mailer: Arc<dyn Mailer>) -> anyhow::Result<App> {
        self.with_mailer_policy(mailer, RetryPolicy::default())
    }

    /// The same app sending email through `mailer` with a retry policy of its own.
    pub fn with_mailer_policy(mut self, mailer: Arc<dyn Mailer>, policy: RetryPolicy) -> anyhow::Result<App> {
        // Dropping the old outbox ends its thread (in memory, once its queue is empty).
        self.outbox = start_outbox(&self.config, &self.storage, mailer.clone(), policy, &self.mail_stats)?;
        self.mailer = mailer;
        Ok(self)
    }

    /// Answers one HTTP request. Never panics: a panicking handler gives a logged 500.
    pub fn handle_http(&self, req: Request) -> Response {
        self.forwarded_for.check(&req, &self.config.trusted_proxies);
        let origin = cors::allowed_origin(&self.trusted, &req).map(str::to_string);
        // A preflight is answered here, before the rate limit and routing: it runs no handler
        // and a browser sends one ahead of many calls, so it must not eat the call's allowance.
        let outcome = if cors::is_preflight(&req) && self.under_base_path(&req.path) {
            cors::preflight(&self.trusted, &req)
        } else {
            self.run(req, Transport::Http)
        };
        let mut resp = match outcome {
            Ok(r) => r,
            Err(e) => Response::from_error(&e),
        };
        cors::decorate(&mut resp, origin.as_deref());
        crate::http::security_headers::apply(&mut resp);
        resp
    }

    fn under_base_path(&self, path: &str) -> bool {
        path.strip_prefix(self.config.base_path.as_str())
            .is_some_and(|rest| rest.starts_with('/'))
    }

    /// Runs the pipeline inside `catch_unwind`; errors keep the cookies set on the way, and an
    /// unexpected failure's cause is logged. Every `Location` leaves percent-encoded
    /// (`http::location`).
    pub(crate) fn run(&self, mut req: Request, transport: Transport) -> Result<Response, ApiError> {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let ctx_cookies = RefCell::new(Vec::new());
            let result = self.dispatch(&mut req, transport, &ctx_cookies);
            (result, ctx_cookies.into_inner())
        }));
        match outcome {
            Ok((Ok(mut resp), cookies)) => {
                for c in cookies {
                    resp.add_cookie(c);
                }
                crate::http::location::encode_headers(&mut resp.headers);
                Ok(resp)
            }
            Ok((Err(mut err), cookies)) => {
                if let Some(cause) = err.cause.take() {
                    tracing::error!("{cause}");
                }
                err.cookies.extend(cookies);
                crate::http::location::encode_headers(&mut err.headers);
                Err(err)
            }
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!("handler panicked: {what}");
                Err(ApiError::internal())
            }
        }
    }

    /// The pipeline's first step for HTTP requests: count the request, before routing, so
    /// unknown paths and bad bodies are counted too. Rules are chosen by the path, buckets
    /// keyed by the route pattern (`/callback/:id` is one bucket per client, whatever the id).
    fn rate_limit(&self, req: &Request) -> Result<(), ApiError> {
        let route = req
            .path
            .strip_prefix(self.config.base_path.as_str())
            .filter(|rest| rest.starts_with('/') && !rest.contains("//"))
            .and_then(|rest| match self.router.find(&req.method, rest) {
                // An alias counts against its target's rule and bucket, or it would double the
                // target's allowance.
                Match::Found(route, _) => match route.alias_of {
                    Some(target) => Some((target, target, route.unlimited)),
                    None => Some((rest, route.path, route.unlimited)),
                },
                _ => None,
            });
        // `/ready`: a load balancer probes it constantly from one address.
        if route.is_some_and(|(_, _, unlimited)| unlimited) {
            return Ok(());
        }
        let now = self.clock.now();
        let now_ms = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        let result = self
            .rate_limiter
            .check(req, route.map(|(rest, pattern, _)| (rest, pattern)), now_ms);
        if result.is_err() {
            let labels = RouteLabels {
                method: crate::metrics::method_label(req.method.as_str()).to_string(),
                route: route.map_or_else(
                    || "unmatched".to_string(),
                    |(_, pattern, _)| format!("{}{}", self.config.base_path, pattern),
                ),
            };
            self.metrics.rate_limited.get_or_create(&labels).inc();
        }
        result
    }

    /// Steps 1–7 of the module's pipeline.
    fn dispatch(
        &self,
        req: &mut Request,
        transport: Transport,
        cookies: &RefCell<Vec<crate::http::cookies::SetCookie>>,
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
            Match::Found(route, params) => (route, params),
            Match::WrongMethod(allow) => {
                return Err(ApiError::new(405, codes::METHOD_NOT_ALLOWED).with_header("allow", allow.join(", ")))
            }
            Match::NotFound => return Err(not_found()),
        };
        req.params = params;
        let result = self.run_route(route, req, transport, cookies);
        if let Err(e) = &result {
            if route.path.starts_with("/sign-in") {
                let labels = FailureLabels {
                    route: format!("{}{}", self.config.base_path, route.path),
                    reason: e.code.to_string(),
                };
                self.metrics.sign_in_failures.get_or_create(&labels).inc();
            }
        }
        result
    }

    /// Steps past routing: body, input and origin checks, hooks, handler.
    fn run_route(
        &self,
        route: &Endpoint,
        req: &mut Request,
        transport: Transport,
        cookies: &RefCell<Vec<crate::http::cookies::SetCookie>>,
    ) -> Result<Response, ApiError> {
        let parsed = body::parse(req, route.media)?;
        crate::http::input_guard::check(req, parsed.as_ref())?;
        if transport == Transport::Http && !matches!(req.method, Method::Get | Method::Head | Method::Options) {
            if req.header("cookie").is_some() {
                origin::check_request_origin(&self.trusted, req)?;
            }
            origin::check_url_fields(&self.trusted, parsed.as_ref(), req)?;
        }
        let ctx = Ctx::new(
            &self.services,
            crate::clock::millis(self.clock.now()),
            parsed,
            transport,
            cookies,
        );
        for plugin in &self.plugins {
            if let Some(early) = plugin.hooks.before(&ctx, req)? {
                return Ok(early);
            }
        }
        // The input against the endpoint's declaration: after the hooks, before the handler (as
        // Better Auth validates when the endpoint is called).
        route.validate(ctx.body.as_ref(), req)?;
        let mut resp = (route.handler)(&ctx, req)?;
        // The after hooks see the cookies the handler set (the bearer plugin reads the session
        // cookie to answer with its token).
        for c in cookies.borrow_mut().drain(..) {
            resp.add_cookie(c);
        }
        for plugin in &self.plugins {
            plugin.hooks.after(&ctx, req, &mut resp);
        }
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::{enabled, ALL_PLUGINS};

    #[test]
    fn all_plugins_together_build_a_conflict_free_router() {
        let ids: Vec<String> = ALL_PLUGINS.iter().map(|p| p.id.to_string()).collect();
        let plugins = enabled(&ids).unwrap();
        assert_eq!(plugins.len(), ALL_PLUGINS.len());
        router(&plugins).unwrap();
    }
}
