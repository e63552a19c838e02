//! The `twoFactor` table of the two-factor plugin (Better Auth's `twoFactor` model): one row per
//! user with an authenticator set up, holding the TOTP secret and the backup codes, both
//! encrypted with the server secret in Better Auth's `symmetricEncrypt` format
//! (`plugins::two_factor::vault`), and the account-wide count of failed second factors.
//! The user's `twoFactorEnabled` column is switched only together with this table and the
//! session that Better Auth re-issues on every switch ([`TwoFactorSwitch`]).

use time::OffsetDateTime;

use super::models::{Session, User};
use super::StorageResult;

/// One row of `twoFactor`, with Better Auth's columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwoFactor {
    pub id: String,
    /// The TOTP secret, encrypted.
    pub secret: String,
    /// The JSON array of unused backup codes, encrypted.
    pub backup_codes: String,
    pub user_id: String,
    /// `false` while a TOTP set-up waits for its first code; `None` (a row written before the
    /// column existed) counts as verified, as Better Auth tests `verified !== false`.
    pub verified: Option<bool>,
    /// Consecutive failed second factors at sign-in, across challenges (`None`: never set).
    pub failed_verification_count: Option<i64>,
    /// Sign-in second factors are refused until then.
    pub locked_until: Option<OffsetDateTime>,
}

impl TwoFactor {
    /// Whether the TOTP set-up was confirmed with a first code.
    pub fn is_verified(&self) -> bool {
        self.verified != Some(false)
    }
}

/// What happens to the user's `twoFactor` row when `twoFactorEnabled` is switched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowChange {
    Keep,
    /// The TOTP set-up with this id is confirmed (`verified = true`).
    MarkVerified(String),
    /// Every row of the user goes (disabling two-factor forgets the authenticator).
    DeleteAll,
}

/// One atomic switch of `user.twoFactorEnabled`: the user's flag, their `twoFactor` row, and
/// the session Better Auth re-issues (a new session replaces the one the request came with,
/// so the cookie carries the new user data).
#[derive(Debug, Clone)]
pub struct TwoFactorSwitch<'a> {
    pub user_id: &'a str,
    pub enabled: bool,
    pub now: OffsetDateTime,
    pub row: RowChange,
    /// The token of the session to end and the session that replaces it.
    pub rotate: Option<(&'a str, &'a Session)>,
}

pub trait TwoFactorStore {
    /// The user's row (the oldest, should a hand-made database hold several).
    fn find_two_factor(&self, user_id: &str) -> StorageResult<Option<TwoFactor>>;
    /// Writes a TOTP set-up: replaces every column of the row with `row.id` if it exists,
    /// inserts it otherwise.
    fn save_two_factor(&self, row: &TwoFactor) -> StorageResult<()>;
    /// Replaces the backup codes only if they are still `expected`: true when replaced. Of
    /// concurrent callers spending codes of the same set, one wins, so a code is used once.
    fn replace_backup_codes(&self, id: &str, expected: &str, new: &str) -> StorageResult<bool>;
    /// Counts one failed second factor (an atomic increment) and, once the count reaches
    /// `max`, locks the row until `lock_until`.
    fn record_two_factor_failure(&self, id: &str, max: i64, lock_until: OffsetDateTime) -> StorageResult<()>;
    /// Clears the failure count and the lock after a successful second factor.
    fn reset_two_factor_failures(&self, id: &str) -> StorageResult<()>;
    /// Clears a lock that has ended by `now` (and its count); a lock still running stays.
    fn clear_expired_two_factor_lock(&self, id: &str, now: OffsetDateTime) -> StorageResult<()>;
    /// Applies a [`TwoFactorSwitch`] in one transaction; `None` when the user does not exist
    /// (nothing changed).
    fn switch_two_factor(&self, switch: &TwoFactorSwitch<'_>) -> StorageResult<Option<User>>;
}
