//! The two-factor plugin's `twoFactor` rows: the columns, the row mapper, the statements and
//! [`TwoFactorStore`] for both databases. Counting a failure is one `update … set n = n + 1`,
//! so concurrent failures are all counted; spending a backup code is a compare-and-set on the
//! stored (encrypted) codes.

use time::OffsetDateTime;

use super::{columns, insert, select, sessions, users, Backend, Cols, Dialect, SqlResult, Value};
use crate::storage::models::User;
use crate::storage::two_factor::{RowChange, TwoFactor, TwoFactorStore, TwoFactorSwitch};
use crate::storage::StorageResult;

/// Every column, in the order of [`read`] and [`values`].
pub(super) const COLUMNS: [&str; 7] = [
    "id",
    "secret",
    "backupCodes",
    "userId",
    "verified",
    "failedVerificationCount",
    "lockedUntil",
];

pub(super) fn read(c: &mut Cols<'_>) -> SqlResult<TwoFactor> {
    Ok(TwoFactor {
        id: c.text()?,
        secret: c.text()?,
        backup_codes: c.text()?,
        user_id: c.text()?,
        verified: c.opt_boolean()?,
        failed_verification_count: c.opt_int()?,
        locked_until: c.opt_date()?,
    })
}

pub(super) fn values(r: &TwoFactor) -> [Value<'_>; COLUMNS.len()] {
    [
        (&r.id).into(),
        (&r.secret).into(),
        (&r.backup_codes).into(),
        (&r.user_id).into(),
        r.verified.into(),
        r.failed_verification_count.unwrap_or(0).into(),
        r.locked_until.into(),
    ]
}

pub struct TwoFactorSql {
    pub insert: String,
    pub all: String,
    pub by_user: String,
    pub update: String,
    pub replace_codes: String,
    pub count_failure: String,
    pub lock: String,
    pub reset: String,
    pub clear_expired: String,
    pub set_user_flag: String,
    pub mark_verified: String,
    pub delete_of_user: String,
}

impl TwoFactorSql {
    pub(super) fn new(d: Dialect) -> TwoFactorSql {
        TwoFactorSql {
            insert: insert(d, "twoFactor", &COLUMNS),
            all: select(d, &COLUMNS, "twoFactor", r#"order by "id""#),
            by_user: select(d, &COLUMNS, "twoFactor", r#"where "userId" = $1 order by "id" limit 1"#),
            update: d.render(
                r#"update "twoFactor" set "secret" = $2, "backupCodes" = $3, "userId" = $4, "verified" = $5,
    "failedVerificationCount" = $6, "lockedUntil" = $7 where "id" = $1"#,
            ),
            replace_codes: d.render(r#"update "twoFactor" set "backupCodes" = $3 where "id" = $1 and "backupCodes" = $2"#),
            count_failure: d.render(
                r#"update "twoFactor" set "failedVerificationCount" = coalesce("failedVerificationCount", 0) + 1 where "id" = $1"#,
            ),
            lock: d.render(
                r#"update "twoFactor" set "lockedUntil" = $3 where "id" = $1 and "failedVerificationCount" >= $2"#,
            ),
            reset: d.render(
                r#"update "twoFactor" set "failedVerificationCount" = 0, "lockedUntil" = null where "id" = $1"#,
            ),
            clear_expired: d.render(
                r#"update "twoFactor" set "failedVerificationCount" = 0, "lockedUntil" = null where "id" = $1 and "lockedUntil" <= $2"#,
            ),
            set_user_flag: d.render(&format!(
                r#"update "user" set "twoFactorEnabled" = $2, "updatedAt" = $3 where "id" = $1 returning {}"#,
                columns("", &users::COLUMNS)
            )),
            mark_verified: d.render(r#"update "twoFactor" set "verified" = $2 where "id" = $1"#),
            delete_of_user: d.render(r#"delete from "twoFactor" where "userId" = $1"#),
        }
    }
}

impl<B: Backend> TwoFactorStore for B {
    fn find_two_factor(&self, user_id: &str) -> StorageResult<Option<TwoFactor>> {
        self.read(|c| c.first(&self.sql().two_factor.by_user, &[user_id.into()], read))
    }

    fn save_two_factor(&self, row: &TwoFactor) -> StorageResult<()> {
        let sql = &self.sql().two_factor;
        self.transaction(|c| {
            if c.execute(&sql.update, &values(row))? == 0 {
                c.execute(&sql.insert, &values(row))?;
            }
            Ok(())
        })
    }

    fn replace_backup_codes(&self, id: &str, expected: &str, new: &str) -> StorageResult<bool> {
        let sql = &self.sql().two_factor;
        self.write(|c| Ok(c.execute(&sql.replace_codes, &[id.into(), expected.into(), new.into()])? > 0))
    }

    fn record_two_factor_failure(&self, id: &str, max: i64, lock_until: OffsetDateTime) -> StorageResult<()> {
        let sql = &self.sql().two_factor;
        self.transaction(|c| {
            c.execute(&sql.count_failure, &[id.into()])?;
            c.execute(&sql.lock, &[id.into(), max.into(), lock_until.into()])?;
            Ok(())
        })
    }

    fn reset_two_factor_failures(&self, id: &str) -> StorageResult<()> {
        self.write(|c| c.execute(&self.sql().two_factor.reset, &[id.into()]).map(|_| ()))
    }

    fn clear_expired_two_factor_lock(&self, id: &str, now: OffsetDateTime) -> StorageResult<()> {
        self.write(|c| {
            c.execute(&self.sql().two_factor.clear_expired, &[id.into(), now.into()])
                .map(|_| ())
        })
    }

    fn switch_two_factor(&self, s: &TwoFactorSwitch<'_>) -> StorageResult<Option<User>> {
        let sql = self.sql();
        let switched = self.transaction(|c| {
            let flag = [s.user_id.into(), s.enabled.into(), s.now.into()];
            let Some(user) = c.first(&sql.two_factor.set_user_flag, &flag, users::read)? else {
                return Ok(None);
            };
            match &s.row {
                RowChange::Keep => {}
                RowChange::MarkVerified(id) => {
                    c.execute(&sql.two_factor.mark_verified, &[id.into(), true.into()])?;
                }
                RowChange::DeleteAll => {
                    c.execute(&sql.two_factor.delete_of_user, &[s.user_id.into()])?;
                }
            }
            if let Some((old_token, session)) = s.rotate {
                c.execute(&sql.sessions.insert, &sessions::values(session))?;
                c.execute(&sql.sessions.delete, &[old_token.into()])?;
            }
            Ok(Some(user))
        });
        super::forget_user(self, s.user_id);
        switched
    }
}
