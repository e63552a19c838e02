//! One-time codes a person types in (the email-otp plugin's), kept as `verification` rows the
//! way Better Auth keeps them: identifier `<type>-otp-<email>`, value `<stored code>:<failed
//! tries>`, and the code's expiry. Every guess is one atomic step on the newest row of the
//! identifier ([`OneTimeCodeStore::guess_code`]): of two guesses at the same moment, each
//! sees the other's failed try, so none is free.
//!
//! The same area holds the password reset by code
//! ([`OneTimeCodeStore::reset_password_with_code`]). A sign-in by code proves the address with
//! [`super::UserStore::revoke_unproven_account_access`].

use time::OffsetDateTime;

use super::models::Verification;
use super::StorageResult;

/// A code row's value: the stored code and the failed tries so far. Better Auth writes
/// `<code>:<n>`; a value without `:` has had no failed try, and a count that is not a number
/// counts as used up (`None`), so a damaged row locks instead of granting tries.
pub fn split_code_value(value: &str) -> (&str, Option<u32>) {
    match value.rsplit_once(':') {
        None => (value, Some(0)),
        Some((code, "")) => (code, Some(0)),
        Some((code, tries)) => (code, tries.parse().ok()),
    }
}

/// What happens to a code that was guessed right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnRight {
    /// It is used up (deleted): a sign-in, a verification.
    Consume,
    /// It stays as it was, for the step that uses it (Better Auth's `check-verification-otp`
    /// and the check before a reset hashes the new password).
    Keep,
}

/// The outcome of one guess.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeGuess {
    /// No code for the identifier.
    Missing,
    /// The newest code had expired; every row of the identifier is deleted.
    Expired,
    /// The code had used up its tries before this guess, which was not compared; every row of
    /// the identifier is deleted.
    Exhausted,
    /// A wrong guess, now counted on the row (its expiry unchanged).
    Wrong,
    Right,
}

/// One guess at a code: the identifier, the time, the tries a code allows, and how to tell
/// whether the stored code matches (a constant-time comparison, the caller's).
pub struct Guess<'a> {
    pub identifier: &'a str,
    pub now: OffsetDateTime,
    pub allowed_tries: u32,
    pub matches: &'a (dyn Fn(&str) -> bool + Sync),
}

impl Guess<'_> {
    /// The decision for the newest row, before anything is written.
    pub fn judge(&self, row: Option<&Verification>) -> CodeGuess {
        let Some(row) = row else {
            return CodeGuess::Missing;
        };
        // Better Auth: `expiresAt < now` is expired.
        if row.expires_at < self.now {
            return CodeGuess::Expired;
        }
        let (code, tries) = split_code_value(&row.value);
        match tries {
            Some(n) if n < self.allowed_tries => {}
            _ => return CodeGuess::Exhausted,
        }
        if (self.matches)(code) {
            CodeGuess::Right
        } else {
            CodeGuess::Wrong
        }
    }
}

/// The value of a row after one more failed try.
pub fn with_one_more_try(value: &str) -> String {
    let (code, tries) = split_code_value(value);
    format!("{code}:{}", tries.unwrap_or(0).saturating_add(1))
}

/// The outcome of [`OneTimeCodeStore::reset_password_with_code`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeReset {
    /// The guess was not right (nothing but the guess's own effect was written).
    Refused(CodeGuess),
    /// The code was right and used up, but the user no longer exists.
    UserNotFound,
    Done,
}

pub trait OneTimeCodeStore {
    /// Stores a new code for its identifier, replacing every earlier row of it, in one
    /// transaction: only the newest code sent is good.
    fn replace_code(&self, row: &Verification) -> StorageResult<()>;

    /// One guess at the newest code of `guess.identifier`, atomically (the row is locked, or
    /// the database's single writer holds it): an expired or used-up code is deleted, a wrong
    /// guess is counted on the row, a right one is deleted or kept as `on_right` says.
    fn guess_code(&self, guess: &Guess<'_>, on_right: OnRight) -> StorageResult<CodeGuess>;

    /// A password reset by code, in one transaction: the guess (a right code is used up),
    /// then the user's new password, their sessions revoked when `revoke_sessions`, their
    /// password-reset links ended, and the address proven as a reset link proves it
    /// ([`super::VerificationStore::reset_password`]).
    fn reset_password_with_code(
        &self,
        guess: &Guess<'_>,
        user_id: &str,
        hash: &str,
        revoke_sessions: bool,
    ) -> StorageResult<CodeReset>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_values_as_better_auth_writes_them() {
        assert_eq!(split_code_value("123456:0"), ("123456", Some(0)));
        assert_eq!(split_code_value("123456:2"), ("123456", Some(2)));
        assert_eq!(split_code_value("123456"), ("123456", Some(0)));
        assert_eq!(split_code_value("123456:"), ("123456", Some(0)));
        assert_eq!(split_code_value("a:b:3"), ("a:b", Some(3)));
        assert_eq!(split_code_value("123456:x"), ("123456", None));
        assert_eq!(with_one_more_try("123456:2"), "123456:3");
        assert_eq!(with_one_more_try("123456"), "123456:1");
    }
}
