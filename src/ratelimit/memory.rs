//! Rate-limit buckets in memory, for a single process. Bounded: buckets whose window has passed
//! are pruned (a full sweep at most once per `PRUNE_EVERY` inserts, and whenever the map is
//! full), and at `max_keys` the least recently used tenth is dropped. Dropping a live bucket can
//! only let a client through early, never lock one out; filling the map takes `max_keys`
//! distinct client addresses, since each client has at most one bucket per route.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{apply, Decision, RateLimitStore, Rule};
use crate::storage::{StorageError, StorageResult};

/// Better Auth's cap for its memory store.
pub const DEFAULT_MAX_KEYS: usize = crate::storage::rate_limit::DEFAULT_MAX_ROWS;
const PRUNE_EVERY: usize = 4096;

struct Bucket {
    count: u32,
    last_ms: i64,
    window_ms: i64,
}

struct Inner {
    buckets: HashMap<String, Bucket>,
    inserts_since_prune: usize,
}

pub struct MemoryRateLimitStore {
    inner: Mutex<Inner>,
    max_keys: usize,
}

impl MemoryRateLimitStore {
    pub fn new(max_keys: usize) -> MemoryRateLimitStore {
        MemoryRateLimitStore {
            inner: Mutex::new(Inner {
                buckets: HashMap::new(),
                inserts_since_prune: 0,
            }),
            max_keys: max_keys.max(1),
        }
    }

    /// Buckets currently held.
    pub fn len(&self) -> usize {
        self.inner.lock().map(|i| i.buckets.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for MemoryRateLimitStore {
    fn default() -> Self {
        MemoryRateLimitStore::new(DEFAULT_MAX_KEYS)
    }
}

impl Inner {
    fn prune_expired(&mut self, now_ms: i64) {
        self.buckets
            .retain(|_, b| now_ms.saturating_sub(b.last_ms) < b.window_ms);
        self.inserts_since_prune = 0;
    }

    /// Drops the least recently used tenth (at least one bucket).
    fn evict_oldest(&mut self) {
        let mut ages: Vec<i64> = self.buckets.values().map(|b| b.last_ms).collect();
        let n = (ages.len() / 10).max(1);
        if ages.is_empty() {
            return;
        }
        let idx = n.min(ages.len()) - 1;
        let (_, cutoff, _) = ages.select_nth_unstable(idx);
        let cutoff = *cutoff;
        let mut dropped = 0;
        self.buckets.retain(|_, b| {
            if dropped < n && b.last_ms <= cutoff {
                dropped += 1;
                false
            } else {
                true
            }
        });
    }
}

impl RateLimitStore for MemoryRateLimitStore {
    fn consume(&self, key: &str, rule: Rule, now_ms: i64) -> StorageResult<Decision> {
        let mut inner = self
            .inner
            .lock()
            .map_err(|_| StorageError::Other(anyhow::anyhow!("rate limit table lock poisoned")))?;
        let window_ms = i64::try_from(rule.window_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        if !inner.buckets.contains_key(key) {
            inner.inserts_since_prune += 1;
            if inner.inserts_since_prune >= PRUNE_EVERY || inner.buckets.len() >= self.max_keys {
                inner.prune_expired(now_ms);
            }
            if inner.buckets.len() >= self.max_keys {
                inner.evict_oldest();
            }
        }
        let existing = inner.buckets.get(key).map(|b| (b.count, b.last_ms));
        let mut state = existing;
        let decision = apply(&mut state, rule, now_ms);
        if let Some((count, last_ms)) = state {
            inner.buckets.insert(
                key.to_string(),
                Bucket {
                    count,
                    last_ms,
                    window_ms,
                },
            );
        }
        Ok(decision)
    }

    fn kind(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: Rule = Rule {
        window_secs: 10,
        max: 3,
    };

    #[test]
    fn counts_per_key() {
        let s = MemoryRateLimitStore::default();
        for _ in 0..3 {
            assert_eq!(s.consume("a", RULE, 0).unwrap(), Decision::Allowed);
        }
        assert_eq!(s.consume("a", RULE, 0).unwrap(), Decision::Blocked { retry_after: 10 });
        assert_eq!(s.consume("b", RULE, 0).unwrap(), Decision::Allowed);
    }

    #[test]
    fn the_map_stays_bounded() {
        let s = MemoryRateLimitStore::new(1000);
        for i in 0..50_000 {
            s.consume(&format!("k{i}"), RULE, i).unwrap();
            assert!(s.len() <= 1000);
        }
        // expired buckets go first: once the map is full, a sweep drops them all
        let s = MemoryRateLimitStore::new(10);
        for i in 0..10 {
            s.consume(&format!("k{i}"), RULE, 0).unwrap();
        }
        s.consume("late", RULE, 20_000).unwrap();
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn eviction_keeps_recent_buckets() {
        let s = MemoryRateLimitStore::new(100);
        for _ in 0..3 {
            s.consume("hot", RULE, 5_000).unwrap();
        }
        for i in 0..99 {
            s.consume(&format!("old{i}"), RULE, i).unwrap();
        }
        s.consume("new", RULE, 6_000).unwrap();
        assert_eq!(
            s.consume("hot", RULE, 6_000).unwrap(),
            Decision::Blocked { retry_after: 9 }
        );
    }
}
