//! Rate-limit buckets in the `"rateLimit"` table (`SESAME_RATE_LIMIT_STORAGE=database`): they
//! survive a restart and are shared by every process on the file. One statement per check, the
//! same upsert as on PostgreSQL (`storage/postgres/rate_limit.rs` explains the `max + 1`), run
//! on the writer connection, so concurrent checks are counted exactly. Rows older than
//! [`RETENTION_MS`] are swept at most once a minute per process.

use std::sync::atomic::{AtomicI64, Ordering};

use super::SqliteStorage;
use crate::ratelimit::{Decision, RateLimitStore, Rule};
use crate::storage::StorageResult;

/// How long an idle bucket is kept; windows longer than this are cut to it.
const RETENTION_MS: i64 = 24 * 3600 * 1000;
const SWEEP_EVERY_MS: i64 = 60_000;

static LAST_SWEEP: AtomicI64 = AtomicI64::new(0);

// ?1 id (new rows), ?2 key, ?3 now (ms), ?4 window (ms), ?5 max
const CONSUME: &str = r#"insert into "rateLimit" ("id", "key", "count", "lastRequest") values (?1, ?2, 1, ?3)
on conflict ("key") do update set
  "count" = case
    when ?3 - "rateLimit"."lastRequest" >= ?4 then 1
    when "rateLimit"."count" >= ?5 then ?5 + 1
    else "rateLimit"."count" + 1 end,
  "lastRequest" = case
    when ?3 - "rateLimit"."lastRequest" >= ?4 or "rateLimit"."count" < ?5 then ?3
    else "rateLimit"."lastRequest" end
returning "count", "lastRequest""#;

const SWEEP: &str = r#"delete from "rateLimit" where "lastRequest" < ?1"#;

impl RateLimitStore for SqliteStorage {
    fn consume(&self, key: &str, rule: Rule, now_ms: i64) -> StorageResult<Decision> {
        let window_ms = i64::try_from(rule.window_secs.saturating_mul(1000))
            .unwrap_or(i64::MAX)
            .min(RETENTION_MS);
        let max = i64::from(rule.max.min(u32::MAX - 1));
        let id = crate::crypto::new_id();
        let (count, last): (i64, i64) = self.write(|c| {
            c.prepare_cached(CONSUME)?
                .query_row((&id, key, now_ms, window_ms, max), |r| Ok((r.get(0)?, r.get(1)?)))
        })?;
        let last_sweep = LAST_SWEEP.load(Ordering::Relaxed);
        if now_ms - last_sweep >= SWEEP_EVERY_MS
            && LAST_SWEEP
                .compare_exchange(last_sweep, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let cutoff = now_ms - RETENTION_MS;
            // A failed sweep only leaves old rows for the next one.
            let _ = self.write(|c| c.prepare_cached(SWEEP)?.execute([cutoff]));
        }
        if count <= max {
            return Ok(Decision::Allowed);
        }
        let wait_ms = last.saturating_add(window_ms).saturating_sub(now_ms);
        let retry_after = u64::try_from((wait_ms + 999) / 1000).unwrap_or(1).max(1);
        Ok(Decision::Blocked { retry_after })
    }

    fn kind(&self) -> &'static str {
        "sqlite"
    }
}
