//! `verification` rows: SQL and row mapping for [`VerificationStore`]. Consuming is one
//! `DELETE … RETURNING` of every row of the identifier, so of concurrent consumers exactly one
//! gets the newest row; password reset consumes and sets the password in one transaction.

use postgres::Row;
use time::OffsetDateTime;

use super::accounts::{set_password_in, PasswordStatements};
use super::PgStorage;
use crate::auth::models::Verification;
use crate::storage::{ResetOutcome, SessionChange, StorageResult, VerificationStore};

fn verification(row: &Row) -> Result<Verification, postgres::Error> {
    Ok(Verification {
        id: row.try_get(0)?,
        identifier: row.try_get(1)?,
        value: row.try_get(2)?,
        expires_at: row.try_get(3)?,
        created_at: row.try_get(4)?,
        updated_at: row.try_get(5)?,
    })
}

pub(super) const INSERT: &str = r#"insert into "verification" ("id", "identifier", "value", "expiresAt", "createdAt", "updatedAt")
    values ($1, $2, $3, $4, $5, $6)"#;

const NEWEST: &str = r#"select "id", "identifier", "value", "expiresAt", "createdAt", "updatedAt"
    from "verification" where "identifier" = $1 order by "createdAt" desc, "id" desc limit 1"#;

const CONSUME: &str = r#"with taken as (delete from "verification" where "identifier" = $1
        returning "id", "identifier", "value", "expiresAt", "createdAt", "updatedAt")
    select * from taken order by "createdAt" desc, "id" desc limit 1"#;

const USER_EXISTS: &str = r#"select exists (select 1 from "user" where "id" = $1)"#;

impl VerificationStore for PgStorage {
    fn create_verification(&self, v: &Verification) -> StorageResult<()> {
        self.run(|c| {
            let st = c.stmt(INSERT)?;
            c.client
                .execute(
                    &st,
                    &[
                        &v.id,
                        &v.identifier,
                        &v.value,
                        &v.expires_at,
                        &v.created_at,
                        &v.updated_at,
                    ],
                )
                .map(|_| ())
        })
    }

    fn find_verification(&self, identifier: &str) -> StorageResult<Option<Verification>> {
        self.run(|c| {
            let st = c.stmt(NEWEST)?;
            c.client
                .query_opt(&st, &[&identifier])?
                .map(|r| verification(&r))
                .transpose()
        })
    }

    fn consume_verification(&self, identifier: &str) -> StorageResult<Option<Verification>> {
        self.run(|c| {
            let st = c.stmt(CONSUME)?;
            c.client
                .query_opt(&st, &[&identifier])?
                .map(|r| verification(&r))
                .transpose()
        })
    }

    fn reset_password(
        &self,
        identifier: &str,
        now: OffsetDateTime,
        hash: &str,
        revoke_sessions: bool,
    ) -> StorageResult<ResetOutcome> {
        self.run(|c| {
            let (consume, user_exists) = (c.stmt(CONSUME)?, c.stmt(USER_EXISTS)?);
            let password = PasswordStatements::prepare(c)?;
            let mut tx = c.client.transaction()?;
            // The token's rows are deleted whatever the outcome, so the transaction commits
            // on every path.
            let outcome = match tx.query_opt(&consume, &[&identifier])? {
                None => ResetOutcome::InvalidToken,
                Some(row) => {
                    let row = verification(&row)?;
                    if row.expires_at <= now {
                        ResetOutcome::InvalidToken
                    } else if !tx.query_one(&user_exists, &[&row.value])?.try_get::<_, bool>(0)? {
                        ResetOutcome::UserNotFound
                    } else {
                        let change = if revoke_sessions {
                            SessionChange::RevokeAll
                        } else {
                            SessionChange::Keep
                        };
                        set_password_in(&mut tx, &password, &row.value, hash, now, &change)?;
                        ResetOutcome::Done(row.value)
                    }
                }
            };
            tx.commit()?;
            Ok(outcome)
        })
    }
}
