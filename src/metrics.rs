//! Prometheus metrics: every metric Sesame exports is defined here, in [`Metrics`], and
//! served in the OpenMetrics text format at `GET /metrics` on `SESAME_METRICS_ADDR`
//! (`server/metrics_listener.rs`).
//!
//! Two kinds: metrics updated where things happen (requests, rate-limited answers, the
//! password-hashing queue, sessions, sign-in failures), and metrics read at scrape time from
//! the parts that keep their own numbers (the storage pool and its errors, the mail outbox)
//! through [`StatsCollector`]. Labels are bounded sets: route *patterns* (an unknown path is
//! `unmatched`), methods, statuses, error codes — never anything a client chooses freely.
//!
//! Adding a metric: a field here, registered in [`Metrics::new`] (or a sample in
//! [`StatsCollector`] for a number another part keeps), and a line in README's "Health and
//! metrics".

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HashStartLabels {
    /// Why the hash could start: `free` (the workers were not all busy), `share` (within
    /// `SESAME_HASH_SHARE`), `catch_up` (beyond the cores the share covers, because the
    /// running hashes left it unused).
    pub reason: &'static str,
    /// How many hashes were already running: `0`, `1` or `2+`.
    pub running: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    pub route: String,
    /// The error code answered (`INVALID_EMAIL_OR_PASSWORD`, `EMAIL_NOT_VERIFIED`, …).
    pub reason: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

fn wait_histogram() -> Histogram {
    Histogram::new([0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
}

/// Every metric, and the registry that renders them.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub rate_limited: Family<RouteLabels, Counter>,
    pub hash_jobs: Counter,
    pub hash_queue_depth: Gauge,
    pub hash_wait: Histogram,
    pub hash_rejected: Counter,
    pub hash_throttled: Counter<f64, AtomicU64>,
    pub hash_started: Family<HashStartLabels, Counter>,
    pub sessions_created: Counter,
    pub sign_in_failures: Family<FailureLabels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// The metrics of one app; `collector` supplies the numbers read at scrape time.
    pub fn new(collector: StatsCollector) -> Metrics {
        let mut registry = Registry::with_prefix("sesame");
        let m = Metrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            rate_limited: Family::default(),
            hash_jobs: Counter::default(),
            hash_queue_depth: Gauge::default(),
            hash_wait: wait_histogram(),
            hash_rejected: Counter::default(),
            hash_throttled: Counter::default(),
            hash_started: Family::default(),
            sessions_created: Counter::default(),
            sign_in_failures: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route pattern and status",
            m.requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from reading a request to writing its answer, by method and route pattern",
            m.latency.clone(),
        );
        registry.register(
            "rate_limited",
            "Requests answered 429 by the rate limiter, by method and route pattern",
            m.rate_limited.clone(),
        );
        registry.register(
            "password_hash_jobs",
            "Password hashes and verifications handed to the hashing pool",
            m.hash_jobs.clone(),
        );
        registry.register(
            "password_hash_queue_depth",
            "Password hashes waiting for a hashing-pool thread",
            m.hash_queue_depth.clone(),
        );
        registry.register(
            "password_hash_wait_seconds",
            "Time password hashes waited for a hashing-pool thread",
            m.hash_wait.clone(),
        );
        registry.register(
            "password_hash_throttled_seconds",
            "Time hashing threads held a queued hash back because the workers were busy and hashing had used its CPU share (SESAME_HASH_SHARE) or ran as many hashes as it covers cores",
            m.hash_throttled.clone(),
        );
        registry.register(
            "password_hash_started",
            "Password hashes started by the hashing pool, by why they could start (free: the workers were not all busy; share: within SESAME_HASH_SHARE; catch_up: beyond the cores the share covers because the running hashes left it unused) and how many were running already",
            m.hash_started.clone(),
        );
        registry.register(
            "password_hash_rejected",
            "Password hashes refused with 503 SERVER_BUSY: the queue was full or the hash could not start in time",
            m.hash_rejected.clone(),
        );
        registry.register(
            "sessions_created",
            "Sessions created (any sign-in or sign-up)",
            m.sessions_created.clone(),
        );
        registry.register(
            "sign_in_failures",
            "Sign-in attempts refused, by route pattern and the error code answered",
            m.sign_in_failures.clone(),
        );
        registry.register_collector(Box::new(collector));
        Metrics { registry, ..m }
    }

    /// The OpenMetrics text of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Counts a hash started by the hashing pool, with `running` others already at work.
    pub fn observe_hash_start(&self, reason: &'static str, running: usize) {
        let running = match running {
            0 => "0",
            1 => "1",
            _ => "2+",
        };
        self.hash_started
            .get_or_create(&HashStartLabels { reason, running })
            .inc();
    }

    /// Counts an answered request.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let (method, route) = (method.to_string(), route.to_string());
        self.latency
            .get_or_create(&RouteLabels {
                method: method.clone(),
                route: route.clone(),
            })
            .observe(seconds);
        self.requests
            .get_or_create(&RequestLabels { method, route, status })
            .inc();
    }
}

/// The method as a label: the two Sesame routes use, or `other`.
pub fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "POST" => "POST",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// A storage backend's numbers, read at scrape time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StorageStats {
    /// `None` for backends without a pool (memory).
    pub pool: Option<PoolStats>,
    /// Operations that failed because the database was unreachable or exhausted (503).
    pub errors_unavailable: u64,
    /// Operations that failed otherwise (500).
    pub errors_other: u64,
    /// The session cache's numbers; `None` when there is none (`storage/session_cache.rs`).
    pub session_cache: Option<SessionCacheStats>,
}

/// The session cache's numbers, for the metrics and for tests that wait on an event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionCacheStats {
    pub hits: u64,
    pub misses: u64,
    /// Sessions and users evicted because they changed (notifications and local writes).
    pub invalidations: u64,
    /// Notifications received from the database.
    pub notifications: u64,
    /// Fills refused because an eviction raced them.
    pub refused_fills: u64,
    pub sessions: u64,
    pub users: u64,
    pub bytes: u64,
    /// Whether lookups use the cache now (the listener is connected and heard from).
    pub active: bool,
    /// Times the listener connection was lost, and established.
    pub disconnects: u64,
    pub connects: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub max: u64,
    pub open: u64,
    pub idle: u64,
    /// Callers waiting for a connection right now.
    pub waiting: u64,
}

/// The mail outbox's numbers, kept by the outbox as it works.
#[derive(Debug, Default)]
pub struct MailStats {
    pub queued: AtomicU64,
    /// The most emails the outbox holds (both lanes of the memory outbox together).
    pub capacity: AtomicU64,
    pub sent: AtomicU64,
    pub failed: AtomicU64,
    /// Requests the durable outbox refused because it was full (answered 503).
    pub refused: AtomicU64,
}

/// Reads the numbers other parts keep, at each scrape.
pub struct StatsCollector {
    pub storage: Box<dyn Fn() -> StorageStats + Send + Sync>,
    pub mail: Arc<MailStats>,
}

impl std::fmt::Debug for StatsCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StatsCollector")
    }
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: &[(&[(&'static str, &'static str)], u64)],
) -> Result<(), std::fmt::Error> {
    let metric = ConstGauge::new(0i64);
    let mut family = encoder.encode_descriptor(name, help, None, metric.metric_type())?;
    for (labels, value) in samples {
        let labels: Vec<(&str, &str)> = labels.to_vec();
        let m = family.encode_family(&labels)?;
        ConstGauge::new(i64::try_from(*value).unwrap_or(i64::MAX)).encode(m)?;
    }
    Ok(())
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: &[(&[(&'static str, &'static str)], u64)],
) -> Result<(), std::fmt::Error> {
    let metric = ConstCounter::new(0u64);
    let mut family = encoder.encode_descriptor(name, help, None, metric.metric_type())?;
    for (labels, value) in samples {
        let labels: Vec<(&str, &str)> = labels.to_vec();
        let m = family.encode_family(&labels)?;
        ConstCounter::new(*value).encode(m)?;
    }
    Ok(())
}

impl Collector for StatsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = (self.storage)();
        if let Some(pool) = s.pool {
            gauge(
                &mut encoder,
                "db_pool_connections",
                "Database connections open, by state",
                &[
                    (&[("state", "in_use")], pool.open.saturating_sub(pool.idle)),
                    (&[("state", "idle")], pool.idle),
                ],
            )?;
            gauge(
                &mut encoder,
                "db_pool_max_connections",
                "Largest size of the database pool",
                &[(&[], pool.max)],
            )?;
            gauge(
                &mut encoder,
                "db_pool_waiting",
                "Requests waiting for a database connection",
                &[(&[], pool.waiting)],
            )?;
        }
        counter(
            &mut encoder,
            "db_errors",
            "Storage operations that failed: unavailable (answered 503) or other (500)",
            &[
                (&[("kind", "unavailable")], s.errors_unavailable),
                (&[("kind", "other")], s.errors_other),
            ],
        )?;
        if let Some(c) = s.session_cache {
            counter(
                &mut encoder,
                "session_cache_lookups",
                "Session lookups answered from the session cache (hit) or the database (miss)",
                &[(&[("result", "hit")], c.hits), (&[("result", "miss")], c.misses)],
            )?;
            counter(
                &mut encoder,
                "session_cache_invalidations",
                "Sessions and users evicted from the session cache because they changed",
                &[(&[], c.invalidations)],
            )?;
            counter(
                &mut encoder,
                "session_cache_notifications",
                "Change notifications received from the database",
                &[(&[], c.notifications)],
            )?;
            counter(
                &mut encoder,
                "session_cache_listener_events",
                "Times the session cache's listener connection was established or lost",
                &[
                    (&[("event", "connect")], c.connects),
                    (&[("event", "disconnect")], c.disconnects),
                ],
            )?;
            gauge(
                &mut encoder,
                "session_cache_entries",
                "Rows in the session cache",
                &[(&[("kind", "session")], c.sessions), (&[("kind", "user")], c.users)],
            )?;
            gauge(
                &mut encoder,
                "session_cache_bytes",
                "Bytes the session cache holds, as it counts them",
                &[(&[], c.bytes)],
            )?;
            gauge(
                &mut encoder,
                "session_cache_active",
                "1 while lookups use the session cache (its listener is connected), 0 otherwise",
                &[(&[], u64::from(c.active))],
            )?;
        }
        let m = &self.mail;
        gauge(
            &mut encoder,
            "mail_queue_depth",
            "Emails waiting in the outbox",
            &[(&[], m.queued.load(Ordering::Relaxed))],
        )?;
        gauge(
            &mut encoder,
            "mail_queue_capacity",
            "Emails the outbox holds at most",
            &[(&[], m.capacity.load(Ordering::Relaxed))],
        )?;
        counter(
            &mut encoder,
            "mail_refused",
            "Requests answered 503 MAIL_QUEUE_FULL: the database outbox was full",
            &[(&[], m.refused.load(Ordering::Relaxed))],
        )?;
        counter(
            &mut encoder,
            "mail_sent",
            "Emails the transport accepted",
            &[(&[], m.sent.load(Ordering::Relaxed))],
        )?;
        counter(
            &mut encoder,
            "mail_failed",
            "Emails given up on (retries exhausted, refused, or dropped with a full outbox)",
            &[(&[], m.failed.load(Ordering::Relaxed))],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_openmetrics_with_the_prefix_and_collected_numbers() {
        let mail = Arc::new(MailStats::default());
        mail.sent.store(3, Ordering::Relaxed);
        let m = Metrics::new(StatsCollector {
            storage: Box::new(|| StorageStats {
                pool: Some(PoolStats {
                    max: 6,
                    open: 4,
                    idle: 1,
                    waiting: 2,
                }),
                errors_unavailable: 5,
                errors_other: 0,
                session_cache: Some(SessionCacheStats {
                    hits: 7,
                    active: true,
                    ..Default::default()
                }),
            }),
            mail,
        });
        m.observe_request("POST", "/api/auth/sign-in/email", 401, 0.02);
        m.sessions_created.inc();
        let text = m.render();
        for line in [
            "sesame_http_requests_total{method=\"POST\",route=\"/api/auth/sign-in/email\",status=\"401\"} 1",
            "sesame_http_request_duration_seconds_count{method=\"POST\",route=\"/api/auth/sign-in/email\"} 1",
            "sesame_sessions_created_total 1",
            "sesame_db_pool_connections{state=\"in_use\"} 3",
            "sesame_db_pool_waiting 2",
            "sesame_db_errors_total{kind=\"unavailable\"} 5",
            "sesame_mail_sent_total 3",
            "sesame_session_cache_lookups_total{result=\"hit\"} 7",
            "sesame_session_cache_active 1",
            "# EOF",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing from\n{text}");
        }
    }
}
