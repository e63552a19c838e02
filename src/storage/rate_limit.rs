//! Rate-limit buckets, a storage area: the store the rate limiter (`ratelimit/`) counts
//! requests in, kept in this process's memory or in a SQL backend's `"rateLimit"` table.
//!
//! The SQL table's upkeep ([`RateLimitUpkeep`]) is here too. It must stay small however many
//! client addresses there are (it also holds the password-attempt and per-recipient mail
//! buckets).
//!
//! Every row carries `"expiresAt"` (milliseconds): its last counted request plus its window,
//! after which the bucket decides nothing and can go. A request sweeps those rows when the
//! last sweep is [`SWEEP_EVERY_MS`] old, or sooner, once a tenth of the cap in new rows has
//! arrived; when more than nine tenths of [`RateLimitUpkeep::max_rows`] (default: the memory
//! store's cap, [`DEFAULT_MAX_ROWS`]) are still left, the least recently used
//! rows go down to nine tenths. So the table never holds more than the cap (per process: each
//! process on a shared table counts its own inserts). As in the memory store, dropping a live
//! bucket can only let a client through early, never lock one out. Rows Better Auth wrote (no
//! `"expiresAt"`) are swept a day after their last request.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use super::StorageResult;

/// The most buckets a store keeps by default (Better Auth's cap for its memory store); the
/// SQL table's cap too.
pub const DEFAULT_MAX_ROWS: usize = 100_000;

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

/// Longest pause between two sweeps.
pub const SWEEP_EVERY_MS: i64 = 10_000;
/// Rows without `"expiresAt"` (written by Better Auth) are kept this long after their last
/// request; windows longer than this are cut to it.
pub const RETENTION_MS: i64 = 24 * 3600 * 1000;

/// When to sweep and how far to trim.
pub struct RateLimitUpkeep {
    last_sweep_ms: AtomicI64,
    inserts_since_sweep: AtomicUsize,
    max_rows: AtomicUsize,
}

impl Default for RateLimitUpkeep {
    fn default() -> Self {
        RateLimitUpkeep {
            last_sweep_ms: AtomicI64::new(i64::MIN),
            inserts_since_sweep: AtomicUsize::new(0),
            max_rows: AtomicUsize::new(DEFAULT_MAX_ROWS),
        }
    }
}

impl RateLimitUpkeep {
    /// The cap on the table's rows.
    pub fn max_rows(&self) -> usize {
        self.max_rows.load(Ordering::Relaxed)
    }

    /// Changes the cap (tests use a small one).
    pub fn set_max_rows(&self, n: usize) {
        self.max_rows.store(n.max(10), Ordering::Relaxed);
    }

    /// Records one request (`inserted`: it added a row) and says whether this caller sweeps
    /// now; of concurrent callers at most one is told to.
    pub fn sweep_due(&self, now_ms: i64, inserted: bool) -> bool {
        let inserts = if inserted {
            self.inserts_since_sweep.fetch_add(1, Ordering::Relaxed) + 1
        } else {
            self.inserts_since_sweep.load(Ordering::Relaxed)
        };
        let last = self.last_sweep_ms.load(Ordering::Relaxed);
        let due = now_ms.saturating_sub(last) >= SWEEP_EVERY_MS || inserts >= (self.max_rows() / 10).max(1);
        if !due {
            return false;
        }
        let claimed = self
            .last_sweep_ms
            .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok();
        if claimed {
            self.inserts_since_sweep.store(0, Ordering::Relaxed);
        }
        claimed
    }

    /// After the expired rows are gone: how many of the oldest rows to delete when the table
    /// holds `rows`, so that a tenth of the cap is free for the new rows before the next sweep.
    pub fn excess(&self, rows: usize) -> usize {
        let max = self.max_rows();
        rows.saturating_sub(max - max / 10)
    }
}

/// `ceil((lastRequest + window - now) / 1000)` seconds, at least one.
pub fn retry_after(last_ms: i64, window_ms: i64, now_ms: i64) -> u64 {
    let wait_ms = last_ms.saturating_add(window_ms).saturating_sub(now_ms);
    u64::try_from((wait_ms + 999) / 1000).unwrap_or(1).max(1)
}

/// A rule's window in milliseconds, cut to [`RETENTION_MS`].
pub fn window_ms(rule: Rule) -> i64 {
    i64::try_from(rule.window_secs.saturating_mul(1000))
        .unwrap_or(i64::MAX)
        .min(RETENTION_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_on_time_or_after_a_tenth_of_the_cap_in_new_rows() {
        let u = RateLimitUpkeep::default();
        u.set_max_rows(100);
        assert!(u.sweep_due(0, true), "the first request sweeps");
        for i in 1..10 {
            assert!(!u.sweep_due(i, true));
        }
        assert!(u.sweep_due(10, true), "the tenth new row sweeps");
        assert!(!u.sweep_due(20, false));
        assert!(u.sweep_due(10 + SWEEP_EVERY_MS, false), "ten seconds later");
        assert_eq!(u.excess(90), 0);
        assert_eq!(u.excess(100), 10);
        assert_eq!(u.excess(101), 11);
    }
}
