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
//! (see the trait). The pipeline's step that calls the limiter is `App::rate_limit`.

pub mod memory;
pub mod rules;

use std::sync::Arc;

use crate::error::{codes, ApiError};
use crate::http::client_ip::{self, IpNet};
use crate::http::Request;
pub use crate::storage::rate_limit::{Decision, RateLimitStore};
pub use rules::{CustomRule, Rule, Rules};

/// Where buckets live (`SESAME_RATE_LIMIT_STORAGE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
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
    store: Arc<dyn RateLimitStore>,
}

/// Bucket key for paths the router does not know.
const UNMATCHED: &str = "(unmatched)";

impl RateLimiter {
    pub fn new(enabled: bool, rules: Rules, proxies: Vec<IpNet>, store: Arc<dyn RateLimitStore>) -> RateLimiter {
        RateLimiter {
            enabled,
            rules,
            proxies,
            store,
        }
    }

    /// On/off, rules and proxies from the configuration; buckets in memory, or in the storage
    /// backend with `SESAME_RATE_LIMIT_STORAGE=database` (memory when the backend has no table).
    pub fn from_config(config: &crate::config::Config, storage: &Arc<dyn crate::storage::Storage>) -> RateLimiter {
        let memory = || -> Arc<dyn RateLimitStore> { Arc::new(memory::MemoryRateLimitStore::default()) };
        let store = match config.rate_limit_storage {
            StoreKind::Memory => memory(),
            StoreKind::Database => storage.clone().rate_limit_store().unwrap_or_else(|| {
                crate::log::warn(&format!(
                    "SESAME_RATE_LIMIT_STORAGE=database but {} storage has no table for it: buckets stay in memory",
                    storage.kind()
                ));
                memory()
            }),
        };
        RateLimiter::new(
            config.rate_limit,
            Rules::new(config.rate_limit_rules.clone()),
            config.trusted_proxies.clone(),
            store,
        )
    }

    /// Replaces the bucket store (a database-backed one, for several processes).
    pub fn set_store(&mut self, store: Arc<dyn RateLimitStore>) {
        self.store = store;
    }

    pub fn store_kind(&self) -> &'static str {
        self.store.kind()
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
        let ip = client_ip::client_key(req, &self.proxies).unwrap_or_else(|| "no-trusted-ip".to_string());
        let key = format!("{ip}|{bucket}");
        match self.store.consume(&key, rule, now_ms) {
            Ok(Decision::Allowed) => Ok(()),
            Ok(Decision::Blocked { retry_after }) => Err(ApiError::new(429, codes::RATE_LIMITED)
                .with_header("x-retry-after", retry_after.to_string())
                .with_header("retry-after", retry_after.to_string())),
            Err(e) => {
                // Fail open: an unreachable limiter store must not lock every user out.
                crate::log::warn(&format!("rate limiter store failed, request allowed: {e}"));
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
