//! [`OneTimeCodeStore`] for both databases. A guess locks the newest row of its identifier
//! first (PostgreSQL `FOR UPDATE`: a concurrent guess waits, then reads the row this one wrote;
//! SQLite's write transaction holds the whole database), so every try is counted.

use super::accounts::set_password_in;
use super::claim::claim_in;
use super::verifications::{self, COLUMNS};
use super::{columns, Backend, Conn, Dialect, SqlResult, Statements};
use crate::storage::models::Verification;
use crate::storage::one_time_code::{with_one_more_try, CodeGuess, CodeReset, Guess, OnRight, OneTimeCodeStore};
use crate::storage::{SessionChange, StorageResult};

pub struct CodeSql {
    /// The newest row of an identifier, locked.
    pub newest_locked: String,
    pub delete_identifier: String,
    /// $1 the row's id, $2 its new value, $3 `updatedAt`.
    pub set_value: String,
}

impl CodeSql {
    pub(super) fn new(d: Dialect) -> CodeSql {
        let lock = match d {
            Dialect::Postgres => " for update",
            Dialect::Sqlite => "",
        };
        CodeSql {
            newest_locked: d.render(&format!(
                r#"select {} from "verification" where "identifier" = $1 order by "createdAt" desc, "id" desc limit 1{lock}"#,
                columns("", &COLUMNS)
            )),
            delete_identifier: d.render(r#"delete from "verification" where "identifier" = $1"#),
            set_value: d.render(r#"update "verification" set "value" = $2, "updatedAt" = $3 where "id" = $1"#),
        }
    }
}

/// One guess inside the caller's transaction.
fn guess_in(c: &mut dyn Conn, sql: &'static Statements, guess: &Guess<'_>, on_right: OnRight) -> SqlResult<CodeGuess> {
    let code = &sql.codes;
    let row: Option<Verification> = c.first(&code.newest_locked, &[guess.identifier.into()], verifications::read)?;
    let outcome = guess.judge(row.as_ref());
    match (&outcome, row) {
        (CodeGuess::Wrong, Some(row)) => {
            let value = with_one_more_try(&row.value);
            c.execute(
                &code.set_value,
                &[row.id.as_str().into(), value.as_str().into(), guess.now.into()],
            )?;
        }
        _ if consumes(&outcome, on_right) => {
            c.execute(&code.delete_identifier, &[guess.identifier.into()])?;
        }
        _ => {}
    }
    Ok(outcome)
}

/// Whether the outcome deletes the identifier's rows.
fn consumes(outcome: &CodeGuess, on_right: OnRight) -> bool {
    match outcome {
        CodeGuess::Expired | CodeGuess::Exhausted => true,
        CodeGuess::Right => on_right == OnRight::Consume,
        CodeGuess::Missing | CodeGuess::Wrong => false,
    }
}

impl<B: Backend> OneTimeCodeStore for B {
    fn replace_code(&self, row: &Verification) -> StorageResult<()> {
        let sql = self.sql();
        self.transaction(|c| {
            c.execute(&sql.codes.delete_identifier, &[(&row.identifier).into()])?;
            c.execute(&sql.verifications.insert, &verifications::values(row))?;
            Ok(())
        })
    }

    fn guess_code(&self, guess: &Guess<'_>, on_right: OnRight) -> StorageResult<CodeGuess> {
        let sql = self.sql();
        self.transaction(|c| guess_in(c, sql, guess, on_right))
    }

    fn reset_password_with_code(
        &self,
        guess: &Guess<'_>,
        user_id: &str,
        hash: &str,
        revoke_sessions: bool,
    ) -> StorageResult<CodeReset> {
        let sql = self.sql();
        // Commits on every path: a wrong guess is counted, a used code stays used.
        self.transaction(|c| {
            let outcome = guess_in(c, sql, guess, OnRight::Consume)?;
            if outcome != CodeGuess::Right {
                return Ok(CodeReset::Refused(outcome));
            }
            let exists = c
                .first(&sql.users.exists, &[user_id.into()], |c| c.boolean())?
                .unwrap_or(false);
            if !exists {
                return Ok(CodeReset::UserNotFound);
            }
            let change = match revoke_sessions {
                true => SessionChange::RevokeAll,
                false => SessionChange::Keep,
            };
            set_password_in(c, sql, user_id, hash, guess.now, &change, true)?;
            claim_in(c, sql, user_id, guess.now, true)?;
            Ok(CodeReset::Done)
        })
    }
}
