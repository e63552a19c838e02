//! Rate-limit buckets in the `"rateLimit"` table (`SESAME_RATE_LIMIT_STORAGE=database`), shared
//! by every process on the database and surviving a restart. One statement per check: an
//! upsert that applies Better Auth's algorithm (see [`RateLimitStore`]) under the row lock, so
//! concurrent requests from several processes are counted exactly.
//!
//! A refused request moves `count` to `max + 1` (and leaves `lastRequest`), which decides
//! nothing differently (`count >= max` blocks either way, the window still slides from the
//! last allowed request) but lets the returned row tell the two outcomes apart: allowed exactly
//! when the new `count` is at most `max`. Rows older than [`RETENTION_MS`] are swept at most
//! once a minute per process.

use std::sync::atomic::{AtomicI64, Ordering};

use super::{Backend, Dialect};
use crate::storage::rate_limit::{Decision, RateLimitStore, Rule};
use crate::storage::{StorageError, StorageResult};

/// How long an idle bucket is kept; windows longer than this are cut to it.
const RETENTION_MS: i64 = 24 * 3600 * 1000;
const SWEEP_EVERY_MS: i64 = 60_000;

static LAST_SWEEP: AtomicI64 = AtomicI64::new(0);

pub struct RateLimitSql {
    pub consume: String,
    pub sweep: String,
}

impl RateLimitSql {
    pub(super) fn new(d: Dialect) -> RateLimitSql {
        RateLimitSql {
            // $1 id (new rows), $2 key, $3 now (ms), $4 window (ms), $5 max
            consume: d.render(
                r#"insert into "rateLimit" ("id", "key", "count", "lastRequest") values ($1, $2, 1, $3)
on conflict ("key") do update set
  "count" = case
    when $3 - "rateLimit"."lastRequest" >= $4 then 1
    when "rateLimit"."count" >= $5 then $5 + 1
    else "rateLimit"."count" + 1 end,
  "lastRequest" = case
    when $3 - "rateLimit"."lastRequest" >= $4 or "rateLimit"."count" < $5 then $3
    else "rateLimit"."lastRequest" end
returning "count", "lastRequest""#,
            ),
            sweep: d.render(r#"delete from "rateLimit" where "lastRequest" < $1"#),
        }
    }
}

impl<B: Backend> RateLimitStore for B {
    fn consume(&self, key: &str, rule: Rule, now_ms: i64) -> StorageResult<Decision> {
        let sql = &self.sql().rate_limit;
        let window_ms = i64::try_from(rule.window_secs.saturating_mul(1000))
            .unwrap_or(i64::MAX)
            .min(RETENTION_MS);
        // `count` is a 32-bit column; `max + 1` must fit.
        let max = i64::from(rule.max.min(i32::MAX as u32 - 1));
        let id = crate::crypto::new_id();
        let params = [
            id.as_str().into(),
            key.into(),
            now_ms.into(),
            window_ms.into(),
            max.into(),
        ];
        let row = self.write(|c| c.first(&sql.consume, &params, |c| Ok((c.int()?, c.int()?))))?;
        let Some((count, last)) = row else {
            return Err(StorageError::Other(anyhow::anyhow!(
                "the rate-limit upsert returned no row"
            )));
        };
        let last_sweep = LAST_SWEEP.load(Ordering::Relaxed);
        if now_ms - last_sweep >= SWEEP_EVERY_MS
            && LAST_SWEEP
                .compare_exchange(last_sweep, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let cutoff = now_ms - RETENTION_MS;
            // A failed sweep only leaves old rows for the next one.
            let _ = self.write(|c| c.execute(&sql.sweep, &[cutoff.into()]));
        }
        if count <= max {
            return Ok(Decision::Allowed);
        }
        let wait_ms = last.saturating_add(window_ms).saturating_sub(now_ms);
        let retry_after = u64::try_from((wait_ms + 999) / 1000).unwrap_or(1).max(1);
        Ok(Decision::Blocked { retry_after })
    }

    fn kind(&self) -> &'static str {
        self.name()
    }
}
