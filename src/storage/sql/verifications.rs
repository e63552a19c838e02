//! `verification` rows: the columns, the row mapper, the statements and
//! [`VerificationStore`] for both databases. Consuming is one `DELETE … RETURNING` of every row
//! of the identifier, so of concurrent consumers exactly one gets the rows (and the newest of
//! them wins); password reset consumes and sets the password in one transaction, which also
//! proves the address (`claim.rs`).

use time::OffsetDateTime;

use super::accounts::set_password_in;
use super::{columns, insert, select, Backend, Cols, Conn, Dialect, SqlResult, Statements, Value};
use crate::storage::models::Verification;
use crate::storage::{ResetOutcome, SessionChange, StorageResult, VerificationStore, RESET_PASSWORD_PREFIX};

/// Every column, in the order of [`read`] and [`values`].
pub(super) const COLUMNS: [&str; 6] = ["id", "identifier", "value", "expiresAt", "createdAt", "updatedAt"];

pub(super) fn read(c: &mut Cols<'_>) -> SqlResult<Verification> {
    Ok(Verification {
        id: c.text()?,
        identifier: c.text()?,
        value: c.text()?,
        expires_at: c.date()?,
        created_at: c.date()?,
        updated_at: c.date()?,
    })
}

pub(super) fn values(v: &Verification) -> [Value<'_>; COLUMNS.len()] {
    [
        (&v.id).into(),
        (&v.identifier).into(),
        (&v.value).into(),
        v.expires_at.into(),
        v.created_at.into(),
        v.updated_at.into(),
    ]
}

pub struct VerificationSql {
    pub insert: String,
    /// Inserts unless the `id` is taken (single-use marks).
    pub claim: String,
    /// Deletes a user's password-reset tokens: $1 the user id, $2 `reset-password:%`.
    pub end_reset_tokens: String,
    pub newest: String,
    pub consume: String,
    pub all: String,
}

impl VerificationSql {
    pub(super) fn new(d: Dialect) -> VerificationSql {
        VerificationSql {
            insert: insert(d, "verification", &COLUMNS),
            claim: format!(
                r#"{} on conflict ("id") do nothing"#,
                insert(d, "verification", &COLUMNS)
            ),
            end_reset_tokens: d.render(r#"delete from "verification" where "value" = $1 and "identifier" like $2"#),
            newest: select(
                d,
                &COLUMNS,
                "verification",
                r#"where "identifier" = $1 order by "createdAt" desc, "id" desc limit 1"#,
            ),
            // SQLite's RETURNING cannot order or limit: the newest is picked from the rows.
            consume: d.render(&format!(
                r#"delete from "verification" where "identifier" = $1 returning {}"#,
                columns("", &COLUMNS)
            )),
            all: select(d, &COLUMNS, "verification", r#"order by "createdAt", "id""#),
        }
    }
}

/// Deletes the user's password-reset tokens ([`RESET_PASSWORD_PREFIX`]) inside the caller's
/// transaction.
pub(super) fn end_reset_tokens(c: &mut dyn Conn, sql: &'static Statements, user_id: &str) -> SqlResult<()> {
    let pattern = format!("{RESET_PASSWORD_PREFIX}%");
    c.execute(
        &sql.verifications.end_reset_tokens,
        &[user_id.into(), pattern.as_str().into()],
    )?;
    Ok(())
}

/// Deletes every row of the identifier and returns the newest.
fn consume(c: &mut dyn Conn, sql: &'static VerificationSql, identifier: &str) -> SqlResult<Option<Verification>> {
    let rows = c.all(&sql.consume, &[identifier.into()], read)?;
    Ok(rows
        .into_iter()
        .max_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id))))
}

impl<B: Backend> VerificationStore for B {
    fn create_verification(&self, v: &Verification) -> StorageResult<()> {
        self.write(|c| c.execute(&self.sql().verifications.insert, &values(v)).map(|_| ()))
    }

    fn claim_verification(&self, v: &Verification) -> StorageResult<bool> {
        self.write(|c| Ok(c.execute(&self.sql().verifications.claim, &values(v))? == 1))
    }

    fn find_verification(&self, identifier: &str) -> StorageResult<Option<Verification>> {
        self.read(|c| c.first(&self.sql().verifications.newest, &[identifier.into()], read))
    }

    fn consume_verification(&self, identifier: &str) -> StorageResult<Option<Verification>> {
        self.write(|c| consume(c, &self.sql().verifications, identifier))
    }

    fn reset_password(
        &self,
        identifier: &str,
        now: OffsetDateTime,
        hash: &str,
        revoke_sessions: bool,
    ) -> StorageResult<ResetOutcome> {
        let sql = self.sql();
        // The token's rows are deleted whatever the outcome, so the transaction commits on
        // every path.
        let outcome = self.transaction(|c| {
            let outcome = match consume(c, &sql.verifications, identifier)? {
                None => ResetOutcome::InvalidToken,
                Some(row) if row.expires_at <= now => ResetOutcome::InvalidToken,
                Some(row) => {
                    let exists = c
                        .first(&sql.users.exists, &[(&row.value).into()], |c| c.boolean())?
                        .unwrap_or(false);
                    if !exists {
                        ResetOutcome::UserNotFound
                    } else {
                        let change = if revoke_sessions {
                            SessionChange::RevokeAll
                        } else {
                            SessionChange::Keep
                        };
                        // Using one reset link ends the user's others.
                        set_password_in(c, sql, &row.value, hash, now, &change, true)?;
                        super::claim::claim_in(c, sql, &row.value, now, true)?;
                        ResetOutcome::Done(row.value)
                    }
                }
            };
            Ok(outcome)
        });
        if let Ok(ResetOutcome::Done(user_id)) = &outcome {
            super::forget_user(self, user_id);
        }
        outcome
    }
}
