//! Rate-limit buckets in the `"rateLimit"` table (`SESAME_RATE_LIMIT_STORAGE=database`, and the
//! password-attempt and per-recipient mail buckets), shared by every process on the database
//! and surviving a restart. One statement per check: an upsert that applies Better Auth's
//! algorithm (see [`RateLimitStore`]) under the row lock, so concurrent requests from several
//! processes are counted exactly; it is stepped to its end, so a write that fails (disk full,
//! a read-only database) is an error, never a silent "first request". The table's size is kept
//! down as `storage/rate_limit.rs` says.
//!
//! A refused request moves `count` to `max + 1` (and leaves `lastRequest`), which decides
//! nothing differently (`count >= max` blocks either way, the window still slides from the
//! last allowed request) but lets the returned row tell the two outcomes apart: allowed exactly
//! when the new `count` is at most `max`.

use super::{Backend, Dialect};
use crate::storage::rate_limit::{retry_after, window_ms, Decision, RateLimitStore, Rule, RETENTION_MS};
use crate::storage::{StorageError, StorageResult};

pub struct RateLimitSql {
    pub consume: String,
    pub sweep_expired: String,
    pub sweep_undated: String,
    pub count: String,
    pub trim: String,
}

impl RateLimitSql {
    pub(super) fn new(d: Dialect) -> RateLimitSql {
        RateLimitSql {
            // $1 id (new rows), $2 key, $3 now (ms), $4 window (ms), $5 max. `"id" = $1` tells
            // an insert from an update.
            consume: d.render(
                r#"insert into "rateLimit" ("id", "key", "count", "lastRequest", "expiresAt")
values ($1, $2, 1, $3, cast($3 as bigint) + cast($4 as bigint))
on conflict ("key") do update set
  "count" = case
    when $3 - "rateLimit"."lastRequest" >= $4 then 1
    when "rateLimit"."count" >= $5 then $5 + 1
    else "rateLimit"."count" + 1 end,
  "expiresAt" = case
    when $3 - "rateLimit"."lastRequest" >= $4 or "rateLimit"."count" < $5
      then cast($3 as bigint) + cast($4 as bigint)
    else "rateLimit"."lastRequest" + $4 end,
  "lastRequest" = case
    when $3 - "rateLimit"."lastRequest" >= $4 or "rateLimit"."count" < $5 then $3
    else "rateLimit"."lastRequest" end
returning "count", "lastRequest", "id" = $1"#,
            ),
            sweep_expired: d.render(r#"delete from "rateLimit" where "expiresAt" <= $1"#),
            sweep_undated: d.render(r#"delete from "rateLimit" where "expiresAt" is null and "lastRequest" < $1"#),
            count: d.render(r#"select count(*) from "rateLimit""#),
            trim: d.render(
                r#"delete from "rateLimit" where "id" in (select "id" from "rateLimit" order by "lastRequest" limit $1)"#,
            ),
        }
    }
}

/// Deletes expired rows, then the oldest while the table is over nine tenths of its cap.
fn sweep<B: Backend>(b: &B, now_ms: i64) -> StorageResult<()> {
    let sql = &b.sql().rate_limit;
    let upkeep = b.rate_limit_upkeep();
    b.write(|c| {
        c.execute(&sql.sweep_expired, &[now_ms.into()])?;
        c.execute(&sql.sweep_undated, &[(now_ms - RETENTION_MS).into()])?;
        let rows = c.first(&sql.count, &[], |c| c.int())?.unwrap_or(0);
        let excess = upkeep.excess(usize::try_from(rows).unwrap_or(0));
        if excess > 0 {
            c.execute(&sql.trim, &[i64::try_from(excess).unwrap_or(i64::MAX).into()])?;
        }
        Ok(())
    })
}

impl<B: Backend> RateLimitStore for B {
    fn consume(&self, key: &str, rule: Rule, now_ms: i64) -> StorageResult<Decision> {
        let sql = &self.sql().rate_limit;
        let window_ms = window_ms(rule);
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
        let row = self.write(|c| c.first(&sql.consume, &params, |c| Ok((c.int()?, c.int()?, c.boolean()?))))?;
        let Some((count, last, inserted)) = row else {
            return Err(StorageError::Other(anyhow::anyhow!(
                "the rate-limit upsert returned no row"
            )));
        };
        if self.rate_limit_upkeep().sweep_due(now_ms, inserted) {
            if let Err(e) = sweep(self, now_ms) {
                // The request was counted; the next sweep tries again.
                tracing::warn!("sweeping the rate-limit table failed: {e}");
            }
        }
        if count <= max {
            return Ok(Decision::Allowed);
        }
        Ok(Decision::Blocked {
            retry_after: retry_after(last, window_ms, now_ms),
        })
    }

    fn kind(&self) -> &'static str {
        self.name()
    }
}
