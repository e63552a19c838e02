//! `verification` rows: SQL and row mapping for [`VerificationStore`]. Consuming is one
//! `DELETE … RETURNING` of every row of the identifier (so of concurrent consumers exactly one
//! gets the rows, and the newest of them wins); password reset consumes and sets the password
//! in one transaction.

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior};
use time::OffsetDateTime;

use super::accounts::set_password_in;
use super::values::{date, iso};
use super::SqliteStorage;
use crate::auth::models::Verification;
use crate::storage::{ResetOutcome, SessionChange, StorageResult, VerificationStore};

pub(super) fn verification(row: &Row) -> rusqlite::Result<Verification> {
    Ok(Verification {
        id: row.get(0)?,
        identifier: row.get(1)?,
        value: row.get(2)?,
        expires_at: date(row, 3)?,
        created_at: date(row, 4)?,
        updated_at: date(row, 5)?,
    })
}

const INSERT: &str = r#"insert into "verification" ("id", "identifier", "value", "expiresAt", "createdAt", "updatedAt")
    values (?1, ?2, ?3, ?4, ?5, ?6)"#;

const NEWEST: &str = r#"select "id", "identifier", "value", "expiresAt", "createdAt", "updatedAt"
    from "verification" where "identifier" = ?1 order by "createdAt" desc, "id" desc limit 1"#;

// SQLite's RETURNING cannot order or limit: the newest is picked from the deleted rows.
const CONSUME: &str = r#"delete from "verification" where "identifier" = ?1
    returning "id", "identifier", "value", "expiresAt", "createdAt", "updatedAt""#;

const USER_EXISTS: &str = r#"select exists (select 1 from "user" where "id" = ?1)"#;

/// Deletes every row of the identifier and returns the newest.
fn consume(c: &Connection, identifier: &str) -> rusqlite::Result<Option<Verification>> {
    let mut st = c.prepare_cached(CONSUME)?;
    let rows = st
        .query_map([identifier], verification)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .into_iter()
        .max_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id))))
}

impl VerificationStore for SqliteStorage {
    fn create_verification(&self, v: &Verification) -> StorageResult<()> {
        self.write(|c| {
            c.prepare_cached(INSERT)?
                .execute((
                    &v.id,
                    &v.identifier,
                    &v.value,
                    iso(v.expires_at),
                    iso(v.created_at),
                    iso(v.updated_at),
                ))
                .map(|_| ())
        })
    }

    fn find_verification(&self, identifier: &str) -> StorageResult<Option<Verification>> {
        self.read(|c| {
            c.prepare_cached(NEWEST)?
                .query_row([identifier], verification)
                .optional()
        })
    }

    fn consume_verification(&self, identifier: &str) -> StorageResult<Option<Verification>> {
        self.write(|c| consume(c, identifier))
    }

    fn reset_password(
        &self,
        identifier: &str,
        now: OffsetDateTime,
        hash: &str,
        revoke_sessions: bool,
    ) -> StorageResult<ResetOutcome> {
        self.write(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // The token's rows are deleted whatever the outcome, so the transaction commits
            // on every path.
            let outcome = match consume(&tx, identifier)? {
                None => ResetOutcome::InvalidToken,
                Some(row) if row.expires_at <= now => ResetOutcome::InvalidToken,
                Some(row) => {
                    let exists: bool = tx.prepare_cached(USER_EXISTS)?.query_row([&row.value], |r| r.get(0))?;
                    if !exists {
                        ResetOutcome::UserNotFound
                    } else {
                        let change = if revoke_sessions {
                            SessionChange::RevokeAll
                        } else {
                            SessionChange::Keep
                        };
                        set_password_in(&tx, &row.value, hash, now, &change)?;
                        ResetOutcome::Done(row.value)
                    }
                }
            };
            tx.commit()?;
            Ok(outcome)
        })
    }
}
