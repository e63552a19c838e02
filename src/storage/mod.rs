//! Storage: small intention-named traits, one per area, summed into [`Storage`].
//!
//! Semantics every backend keeps (and `tests/storage_contract.rs` checks on each):
//! - lookups return `Option`; "not found" is never an error;
//! - emails are stored lower-cased (callers normalise) and are unique: a clash is
//!   `StorageError::Conflict("user.email")`; usernames (username plugin) likewise
//!   (`Conflict("user.username")`); `(issuer, accountId)` is unique
//!   (`Conflict("account")`); session tokens are unique;
//! - every method is atomic: a failure half-way leaves nothing behind;
//! - `Unavailable` means the backend could not be reached (503), `Other` anything else (500).
//!
//! The SQL backends share one implementation of these traits (`sql/`): PostgreSQL and SQLite
//! provide connections, transactions and error mapping, not their own SQL.
//!
//! Method names follow Better Auth's internal adapter (`createSession`, `findSession`,
//! `deleteUserSessions`, `consumeVerificationValue`, …) in snake case.

pub mod admin;
pub mod jwks;
pub mod mail_queue;
pub mod memory;
pub mod models;
pub mod one_time_code;
mod username;

pub use admin::AdminStore;
pub use username::UsernameStore;
pub mod postgres;
pub mod rate_limit;
pub mod session_cache;
pub mod snapshot;
pub mod sql;
pub mod sqlite;
pub mod two_factor;

use time::OffsetDateTime;

use crate::storage::models::{Account, Session, User, UserUpdate, Verification};
pub use jwks::{Jwk, JwksStore};
pub use one_time_code::OneTimeCodeStore;
pub use two_factor::TwoFactorStore;

#[derive(Debug)]
pub enum StorageError {
    /// A uniqueness rule refused the write; names the rule (`user.email`, `account`, …).
    Conflict(&'static str),
    /// The backend is unreachable or exhausted; worth retrying later.
    Unavailable(anyhow::Error),
    Other(anyhow::Error),
}

impl std::fmt::Display for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageError::Conflict(what) => write!(f, "uniqueness conflict on {what}"),
            StorageError::Unavailable(e) => write!(f, "storage unavailable: {e:#}"),
            StorageError::Other(e) => write!(f, "storage error: {e:#}"),
        }
    }
}

impl std::error::Error for StorageError {}

pub type StorageResult<T> = Result<T, StorageError>;

/// Identifier prefix of password-reset tokens: `reset-password:<token>`, valued with the user
/// id. A password change (`set_password` with `end_reset_tokens`), a password reset and an
/// email change end every such row of the user, in the same transaction.
pub const RESET_PASSWORD_PREFIX: &str = "reset-password:";

/// The numbers a pooled backend keeps for the metrics: callers waiting for a connection, and
/// errors by kind (conflicts are answers, not errors, and are not counted).
#[derive(Debug, Default)]
pub struct Counters {
    waiting: std::sync::atomic::AtomicU64,
    unavailable: std::sync::atomic::AtomicU64,
    other: std::sync::atomic::AtomicU64,
}

/// Counts one waiter while it lives.
pub struct Waiting<'a>(&'a Counters);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Counters {
    /// Marks a caller as waiting for a connection until the guard drops.
    pub fn waiting(&self) -> Waiting<'_> {
        self.waiting.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Waiting(self)
    }

    /// Counts `err` and hands it back.
    pub fn count(&self, err: StorageError) -> StorageError {
        let counter = match &err {
            StorageError::Conflict(_) => return err,
            StorageError::Unavailable(_) => &self.unavailable,
            StorageError::Other(_) => &self.other,
        };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        err
    }

    /// These numbers with the pool's own.
    pub fn stats(&self, pool: Option<r2d2::State>, max: u32) -> crate::metrics::StorageStats {
        use std::sync::atomic::Ordering::Relaxed;
        crate::metrics::StorageStats {
            pool: pool.map(|state| crate::metrics::PoolStats {
                max: u64::from(max),
                open: u64::from(state.connections),
                idle: u64::from(state.idle_connections),
                waiting: self.waiting.load(Relaxed),
            }),
            errors_unavailable: self.unavailable.load(Relaxed),
            errors_other: self.other.load(Relaxed),
            session_cache: None,
        }
    }
}

/// What a password change does to the user's sessions, in the same transaction.
#[derive(Debug, Clone)]
pub enum SessionChange {
    Keep,
    RevokeAll,
    /// Delete every session of the user, then insert this one.
    RevokeAllAndCreate(Session),
}

/// The outcome of consuming a password-reset token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResetOutcome {
    /// No row, or it expired (the rows are deleted either way).
    InvalidToken,
    UserNotFound,
    /// The password was set; the user's id.
    Done(String),
}

/// The outcome of [`UserStore::verify_address`].
#[derive(Debug, Clone)]
pub struct VerifiedAddress {
    /// The user after the change.
    pub user: User,
    /// Provider accounts deleted because they were linked while the address was unverified.
    pub removed_accounts: u64,
}

pub trait UserStore {
    /// Inserts a user and its first account together. `Conflict("user.email")` if the email
    /// is taken, `Conflict("account")` if the account's `(issuer, accountId)` is.
    fn create_user_with_account(&self, user: &User, account: &Account) -> StorageResult<()>;
    fn find_user_by_id(&self, id: &str) -> StorageResult<Option<User>>;
    /// `email` must already be lower-cased.
    fn find_user_by_email(&self, email: &str) -> StorageResult<Option<User>>;
    /// The user and their credential account in one lookup (sign-in's hot path).
    fn find_user_with_credential(&self, email: &str) -> StorageResult<Option<(User, Option<Account>)>>;
    /// Applies the update and bumps `updatedAt`; `None` if there is no such user. When the
    /// update sets an email, the user's password-reset tokens ([`RESET_PASSWORD_PREFIX`]) are
    /// deleted in the same transaction: they were mailed to the old address.
    fn update_user(&self, id: &str, update: &UserUpdate, now: OffsetDateTime) -> StorageResult<Option<User>>;
    /// Deletes the user with their sessions, accounts and the verification rows whose value is
    /// the user's id. Returns whether the user existed.
    fn delete_user(&self, id: &str) -> StorageResult<bool>;
    /// Someone who is not signed in as the user proved control of the user's address (an
    /// emailed verification link). If the address was unverified, in one transaction: it
    /// becomes verified, every provider account of the user (all but the credential account)
    /// is deleted — linked while nobody had proved the address, it may be an attacker's
    /// (pre-account hijacking) — and, when any was, every session of the user. A verified
    /// address is left as is. `None`: no such user.
    fn verify_address(&self, user_id: &str, now: OffsetDateTime) -> StorageResult<Option<VerifiedAddress>>;
    /// Better Auth's `revokeUnprovenAccountAccess`, for a sign-in that proves the address
    /// itself (a magic link, an emailed one-time code): if the user's address is unverified,
    /// in one transaction every account of the user is deleted (the credential one too: a
    /// password set before anyone proved the address may be an attacker's), every session is
    /// revoked and the address becomes verified. A verified user is left as is. Returns the
    /// user after the change; `None`: no such user.
    fn revoke_unproven_account_access(&self, user_id: &str, now: OffsetDateTime) -> StorageResult<Option<User>>;
}

pub trait SessionStore {
    fn create_session(&self, session: &Session) -> StorageResult<()>;
    /// The session with its user, in one lookup (get-session's hot path). Expired sessions
    /// are returned too; the caller decides.
    fn find_session_with_user(&self, token: &str) -> StorageResult<Option<(Session, User)>>;
    /// Slides a session's expiry; `None` if the row is gone.
    fn refresh_session(
        &self,
        token: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StorageResult<Option<Session>>;
    fn list_user_sessions(&self, user_id: &str) -> StorageResult<Vec<Session>>;
    fn delete_session(&self, token: &str) -> StorageResult<()>;
    /// Deletes the session only if it belongs to the user. Returns whether one was deleted.
    fn delete_user_session(&self, user_id: &str, token: &str) -> StorageResult<bool>;
    fn delete_user_sessions(&self, user_id: &str) -> StorageResult<()>;
    /// Deletes every session of the user except `keep_token`.
    fn delete_other_sessions(&self, user_id: &str, keep_token: &str) -> StorageResult<()>;
}

pub trait AccountStore {
    /// The account with `providerId = credential`, `issuer = local:credential`,
    /// `accountId = userId`.
    fn find_credential_account(&self, user_id: &str) -> StorageResult<Option<Account>>;
    fn list_user_accounts(&self, user_id: &str) -> StorageResult<Vec<Account>>;
    fn find_account_by_issuer(&self, issuer: &str, account_id: &str) -> StorageResult<Option<Account>>;
    /// `Conflict("account")` if `(issuer, accountId)` is taken.
    fn create_account(&self, account: &Account) -> StorageResult<()>;
    /// Replaces the token, scope and expiry columns of the row with this id.
    fn update_account(&self, account: &Account) -> StorageResult<bool>;
    /// Deletes the account with this local id if it belongs to the user.
    fn delete_account(&self, user_id: &str, id: &str) -> StorageResult<bool>;
    /// Sets the credential password (creating the credential account if missing), applies
    /// the session change and, with `end_reset_tokens`, deletes the user's password-reset
    /// tokens ([`RESET_PASSWORD_PREFIX`]), atomically.
    fn set_password(
        &self,
        user_id: &str,
        hash: &str,
        now: OffsetDateTime,
        sessions: &SessionChange,
        end_reset_tokens: bool,
    ) -> StorageResult<()>;
}

pub trait VerificationStore {
    fn create_verification(&self, verification: &Verification) -> StorageResult<()>;
    /// The newest row for the identifier (expired or not); expired rows of that identifier
    /// other than the newest are cleaned up.
    fn find_verification(&self, identifier: &str) -> StorageResult<Option<Verification>>;
    /// Atomically deletes every row of the identifier and returns the newest: of concurrent
    /// callers, only one gets it.
    fn consume_verification(&self, identifier: &str) -> StorageResult<Option<Verification>>;
    /// Inserts the row unless one with the same `id` exists (expired or not): true when it was
    /// inserted. Of concurrent callers with one id, exactly one gets true (single-use marks).
    fn claim_verification(&self, verification: &Verification) -> StorageResult<bool>;
    /// Consumes a `reset-password:<token>` row and, if it is valid and its user exists, sets
    /// the password (and revokes sessions) and deletes the user's other reset tokens, in one
    /// transaction. A reset proves control of the address: if it was unverified, the same
    /// transaction also marks it verified, deletes the user's provider accounts (as
    /// [`UserStore::verify_address`]) and revokes every session.
    fn reset_password(
        &self,
        identifier: &str,
        now: OffsetDateTime,
        hash: &str,
        revoke_sessions: bool,
    ) -> StorageResult<ResetOutcome>;
}

/// Everything a backend provides.
pub trait Storage:
    UserStore
    + SessionStore
    + AccountStore
    + VerificationStore
    + UsernameStore
    + AdminStore
    + JwksStore
    + TwoFactorStore
    + OneTimeCodeStore
    + Send
    + Sync
{
    /// A short name for logs (`memory`, `postgres`, `sqlite`).
    fn kind(&self) -> &'static str;

    /// For `/ready`: asks the database something, and answers which of `migrations` it has
    /// not applied. `Unavailable` when the database does not answer.
    fn health_check(&self, _migrations: &[sql::Migration]) -> StorageResult<Vec<&'static str>> {
        Ok(Vec::new())
    }

    /// For the metrics: the connection pool and the errors met so far.
    fn stats(&self) -> crate::metrics::StorageStats {
        crate::metrics::StorageStats::default()
    }

    /// Rate-limit buckets kept in this backend, shared by every process using it
    /// (`SESAME_RATE_LIMIT_STORAGE=database`); `None` when it has no such table.
    fn rate_limit_store(self: std::sync::Arc<Self>) -> Option<std::sync::Arc<dyn rate_limit::RateLimitStore>> {
        None
    }

    /// The durable mail queue kept in this backend, shared by every process using it; `None`
    /// (memory storage): the outbox queues in the process.
    fn mail_queue(self: std::sync::Arc<Self>) -> Option<std::sync::Arc<dyn mail_queue::MailQueueStore>> {
        None
    }
}
