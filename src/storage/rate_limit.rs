//! Rate-limit buckets, a storage area: the store the rate limiter (`ratelimit/`) counts
//! requests in, kept in this process's memory or in a SQL backend's `"rateLimit"` table.

use super::StorageResult;

/// At most `max` requests per `window_secs`, per client and path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub window_secs: u64,
    pub max: u32,
}

/// What one request does to its bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// Refused; the client may retry after this many seconds (at least 1).
    Blocked {
        retry_after: u64,
    },
}

/// Where buckets are kept. Each bucket is `{count, lastRequest}` (ms), and `consume` applies
/// Better Auth's algorithm atomically:
///
/// - if `now - lastRequest >= window`: `count = 1, lastRequest = now` → allowed;
/// - else if `count >= max`: blocked, `retry_after = ceil((lastRequest + window - now) / 1000)`;
/// - else `count += 1, lastRequest = now` → allowed.
///
/// `ratelimit::memory::MemoryRateLimitStore` keeps buckets in this process; the SQL backends
/// (`sql/rate_limit.rs`) do the same in one upsert on the `"rateLimit"` table,
/// shared by every process. `tests/rate_limit.rs` checks both give the same decisions.
pub trait RateLimitStore: Send + Sync {
    fn consume(&self, key: &str, rule: Rule, now_ms: i64) -> StorageResult<Decision>;
    /// A short name for logs (`memory`, `postgres`).
    fn kind(&self) -> &'static str;
}
