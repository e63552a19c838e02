//! Rate limiting of HTTP requests (spec §9.3; preface difference 5): Better Auth's rules and
//! algorithm, on by default, answered with 429 `RATE_LIMITED` JSON and `Retry-After`.
//!
//! The pipeline calls [`RateLimiter::check`] for every HTTP request before routing (in-process
//! calls are never limited). The key is `<client ip>|<path without the base path>`; paths the
//! router does not know share one bucket per client (`<ip>|(unmatched)`), so probing random
//! paths is still counted but cannot grow the table by one key per request.
//!
//! Buckets live behind [`RateLimitStore`] (a storage area): [`memory::MemoryRateLimitStore`]
//! for one process; a database store implements the same `consume` as one atomic statement
//! (see the trait). The pipeline's step that calls the limiter is `App::rate_limit`. By default
//! on PostgreSQL ([`StoreKind::Auto`]) the strict rules' buckets — every rule that guards a
//! secret, [`Rules::is_guarded`], so a rule added there is shared without more code — live in
//! the database and the general rule's in memory.
//!
//! Two kinds of bucket are not per client address, and live in the database whenever it has a
//! `"rateLimit"` table (whatever `SESAME_RATE_LIMIT_STORAGE` says), so every process shares
//! them:
//! - password attempts per account ([`RateLimiter::check_password_attempt`]): sign-in by email
//!   and by username share one bucket per account and client; `/verify-password`,
//!   `/change-password` and `/delete-user` share one per account, so a stolen session gets the
//!   strict sign-in limit from any number of addresses. The attempt is written before the
//!   password is checked: a database that cannot record it answers 503 for a right password
//!   and a wrong one alike.
//! - mail per recipient address and class ([`RateLimiter::admit_mail`],
//!   `SESAME_EMAIL_RECIPIENT_LIMIT`).
//!
//! A store that fails fails closed (503) on the paths the special rules guard (sign-in,
//! sign-up, password, email change, mail), and open elsewhere.

pub mod memory;
pub mod rules;

use std::sync::Arc;

use crate::error::{codes, ApiError};
use crate::http::client_ip::{self, IpNet};
use crate::http::Request;
pub use crate::storage::rate_limit::{Decision, RateLimitStore};
use crate::storage::StorageResult;
pub use rules::{CustomRule, Rule, Rules};

/// Where buckets live (`SESAME_RATE_LIMIT_STORAGE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// The default: on PostgreSQL, the buckets of the rules that guard a secret (sign-in,
    /// sign-up, password, email change, mail, one-time codes: [`Rules::is_guarded`]) in the
    /// database, so N processes behind a load balancer allow what one allows; every other
    /// bucket (the general 100 per 10 s) in this process's memory, so a session check costs
    /// no write. Elsewhere (memory, SQLite: one process) everything in memory.
    Auto,
    /// This process's memory (Better Auth's default).
    Memory,
    /// The storage backend's table, shared by every process (PostgreSQL).
    Database,
}

/// Better Auth's algorithm on one bucket, shared by stores that hold buckets in memory.
pub fn apply(bucket: &mut Option<(u32, i64)>, rule: Rule, now_ms: i64) -> Decision {
    let window_ms = i64::try_from(rule.window_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    match bucket {
        Some((count, last)) if now_ms.saturating_sub(*last) < window_ms => {
            if *count >= rule.max {
                let wait_ms = last.saturating_add(window_ms).saturating_sub(now_ms);
                let retry_after = u64::try_from((wait_ms + 999) / 1000).unwrap_or(1).max(1);
                Decision::Blocked { retry_after }
            } else {
                *count += 1;
                *last = now_ms;
                Decision::Allowed
            }
        }
        _ => {
            *bucket = Some((1, now_ms));
            Decision::Allowed
        }
    }
}

/// The configured limiter: on/off, the rules, trusted proxies and the bucket store.
pub struct RateLimiter {
    enabled: bool,
    rules: Rules,
    proxies: Vec<IpNet>,
    /// The client-address headers those proxies set (`SESAME_IP_ADDRESS_HEADERS`).
    ip_headers: Vec<String>,
    store: Arc<dyn RateLimitStore>,
    /// Buckets of the rules that guard a secret ([`Rules::is_guarded`]).
    strict_store: Arc<dyn RateLimitStore>,
    /// Password-attempt and per-recipient mail buckets: the database's table when it has one.
    shared: Arc<dyn RateLimitStore>,
    /// Mails per recipient address and class (`SESAME_EMAIL_RECIPIENT_LIMIT`); `None`: no limit.
    mail_rule: Option<Rule>,
}

/// Which mails share a per-recipient bucket. Account-security mail (verification, password
/// reset) has its own, so mail someone else triggers (an email change, a deletion request)
/// never uses up the recipient's allowance of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailClass {
    Security,
    Other,
}

/// Bucket key for paths the router does not know.
const UNMATCHED: &str = "(unmatched)";

impl RateLimiter {
    pub fn new(enabled: bool, rules: Rules, proxies: Vec<IpNet>, store: Arc<dyn RateLimitStore>) -> RateLimiter {
        RateLimiter {
            enabled,
            rules,
            proxies,
            ip_headers: crate::http::client_ip::DEFAULT_HEADERS
                .iter()
                .map(|h| h.to_string())
                .collect(),
            shared: store.clone(),
            strict_store: store.clone(),
            store,
            mail_rule: None,
        }
    }

    /// Where password-attempt and per-recipient mail buckets live.
    pub fn set_shared_store(&mut self, store: Arc<dyn RateLimitStore>) {
        self.shared = store;
    }

    /// Mails per recipient address and class; `None` for no limit.
    pub fn set_mail_rule(&mut self, rule: Option<Rule>) {
        self.mail_rule = rule;
    }

    /// On/off, rules and proxies from the configuration; buckets where
    /// `SESAME_RATE_LIMIT_STORAGE` says ([`StoreKind`]; memory when the backend has no table).
    pub fn from_config(config: &crate::config::Config, storage: &Arc<dyn crate::storage::Storage>) -> RateLimiter {
        let memory: Arc<dyn RateLimitStore> = Arc::new(memory::MemoryRateLimitStore::default());
        let database = storage.clone().rate_limit_store();
        let (store, strict_store) = match (config.rate_limit_storage, database.clone()) {
            (StoreKind::Database, Some(db)) => (db.clone(), db),
            (StoreKind::Database, None) => {
                tracing::warn!(
                    "SESAME_RATE_LIMIT_STORAGE=database but {} storage has no table for it: buckets stay in memory",
                    storage.kind()
                );
                (memory.clone(), memory)
            }
            (StoreKind::Auto, Some(db)) if storage.kind() == "postgres" => (memory, db),
            (StoreKind::Auto | StoreKind::Memory, _) => (memory.clone(), memory),
        };
        let shared = database.unwrap_or_else(|| store.clone());
        let mut limiter = RateLimiter::new(
            config.rate_limit,
            Rules::new(config.rate_limit_rules.clone()),
            config.trusted_proxies.clone(),
            store,
        );
        limiter.strict_store = strict_store;
        limiter.set_shared_store(shared);
        limiter.set_mail_rule(config.email.recipient_limit);
        limiter.ip_headers = config.ip_address_headers.clone();
        limiter
    }

    /// Where the general rule's buckets live (`memory`, `postgres`, `sqlite`).
    pub fn store_kind(&self) -> &'static str {
        self.store.kind()
    }

    /// Where the buckets of the rules that guard a secret live.
    pub fn strict_store_kind(&self) -> &'static str {
        self.strict_store.kind()
    }

    /// Counts one HTTP request; `Err(429 RATE_LIMITED)` when its bucket is full.
    /// `route` is `(path, route pattern)` without the base path when the router found a route:
    /// rules are chosen by the path, buckets keyed by the pattern (so `/callback/:id` is one
    /// bucket per client, whatever the id). Anything else shares the default rule and one
    /// bucket per client.
    pub fn check(&self, req: &Request, route: Option<(&str, &str)>, now_ms: i64) -> Result<(), ApiError> {
        if !self.enabled {
            return Ok(());
        }
        let (rule, bucket) = match route {
            Some((path, pattern)) => (self.rules.for_path(path), pattern),
            None => (self.rules.default_rule(), UNMATCHED),
        };
        let Some(rule) = rule else {
            return Ok(());
        };
        // No peer address only happens off the socket; such requests share a bucket, as Better
        // Auth's `no-trusted-ip`.
        let ip = client_ip::client_key_with(req, &self.proxies, &self.ip_headers)
            .unwrap_or_else(|| "no-trusted-ip".to_string());
        let key = format!("{ip}|{bucket}");
        let guarded = route.is_some_and(|(path, _)| self.rules.is_guarded(path));
        let store = if guarded { &self.strict_store } else { &self.store };
        decide(store.consume(&key, rule, now_ms), guarded)
    }

    /// Counts one password attempt against the account's bucket, before the password is
    /// checked: 429 when it is full, 503 when the bucket cannot be written (a database that
    /// refuses writes answers 503 whether the password is right or wrong). `path` picks the
    /// rule: its own when a special rule guards it, the sign-in rule otherwise. `account`
    /// names the bucket (`sign-in|<ip>|<user>` or `user|<id>`).
    pub fn check_password_attempt(&self, path: &str, account: &str, now_ms: i64) -> Result<(), ApiError> {
        if !self.enabled {
            return Ok(());
        }
        let rule_path = if self.rules.is_guarded(path) {
            path
        } else {
            "/sign-in/email"
        };
        let Some(rule) = self.rules.for_path(rule_path) else {
            return Ok(());
        };
        decide(self.shared.consume(&format!("password|{account}"), rule, now_ms), true)
    }

    /// Whether one more mail of this class may go to `recipient` now. A store failure says
    /// no (logged): mail is what the limit protects.
    pub fn admit_mail(&self, class: MailClass, recipient: &str, now_ms: i64) -> bool {
        let (true, Some(rule)) = (self.enabled, self.mail_rule) else {
            return true;
        };
        let class = match class {
            MailClass::Security => "security",
            MailClass::Other => "other",
        };
        let key = format!("mail:{class}|{}", recipient.to_lowercase());
        match self.shared.consume(&key, rule, now_ms) {
            Ok(Decision::Allowed) => true,
            Ok(Decision::Blocked { .. }) => false,
            Err(e) => {
                tracing::error!("rate limiter store failed, mail not sent: {e}");
                false
            }
        }
    }
}

/// The answer for a bucket's decision. A store failure refuses a guarded request (503: a
/// failing database must not turn the strict limits off) and lets any other through.
fn decide(decision: StorageResult<Decision>, guarded: bool) -> Result<(), ApiError> {
    match decision {
        Ok(Decision::Allowed) => Ok(()),
        Ok(Decision::Blocked { retry_after }) => Err(ApiError::new(429, codes::RATE_LIMITED)
            .with_header("x-retry-after", retry_after.to_string())
            .with_header("retry-after", retry_after.to_string())),
        Err(e) if guarded => {
            tracing::error!("rate limiter store failed, request refused: {e}");
            Err(ApiError::new(503, codes::DATABASE_UNAVAILABLE))
        }
        Err(e) => {
            // Fail open: an unreachable limiter store must not lock every user out of
            // everything else.
            tracing::warn!("rate limiter store failed, request allowed: {e}");
            Ok(())
        }
    }
}

impl RateLimiter {
    /// Milliseconds since the epoch, as buckets count time.
    pub fn millis(now: time::OffsetDateTime) -> i64 {
        i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store that fails refuses the guarded paths (a failing database must not lift the
    /// strict limits) and lets every other request through.
    #[test]
    fn a_failing_store_fails_closed_only_where_guarded() {
        let failed = || Err(crate::storage::StorageError::Unavailable(anyhow::anyhow!("down")));
        let refused = decide(failed(), true).unwrap_err();
        assert_eq!((refused.status, refused.code.as_ref()), (503, "DATABASE_UNAVAILABLE"));
        assert!(decide(failed(), false).is_ok());
        assert!(decide(Ok(Decision::Allowed), true).is_ok());
        let blocked = decide(Ok(Decision::Blocked { retry_after: 7 }), false).unwrap_err();
        assert_eq!((blocked.status, blocked.code.as_ref()), (429, "RATE_LIMITED"));
        assert!(blocked.headers.iter().any(|(k, v)| k == "retry-after" && v == "7"));
    }

    #[test]
    fn algorithm_slides_from_the_last_allowed_request() {
        let rule = Rule {
            window_secs: 10,
            max: 3,
        };
        let mut b = None;
        assert_eq!(apply(&mut b, rule, 0), Decision::Allowed);
        assert_eq!(apply(&mut b, rule, 1_000), Decision::Allowed);
        assert_eq!(apply(&mut b, rule, 2_000), Decision::Allowed);
        // lastRequest = 2000: blocked until 12000
        assert_eq!(apply(&mut b, rule, 2_500), Decision::Blocked { retry_after: 10 });
        assert_eq!(apply(&mut b, rule, 11_001), Decision::Blocked { retry_after: 1 });
        assert_eq!(b, Some((3, 2_000)), "a blocked request changes nothing");
        assert_eq!(apply(&mut b, rule, 12_000), Decision::Allowed);
        assert_eq!(b, Some((1, 12_000)));
    }

    #[test]
    fn retry_after_rounds_up_and_is_at_least_one() {
        let rule = Rule {
            window_secs: 60,
            max: 1,
        };
        let mut b = None;
        apply(&mut b, rule, 0);
        assert_eq!(apply(&mut b, rule, 1), Decision::Blocked { retry_after: 60 });
        assert_eq!(apply(&mut b, rule, 59_999), Decision::Blocked { retry_after: 1 });
    }
}
