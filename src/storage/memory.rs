//! In-memory storage: one `Mutex` over all tables, so every method is trivially atomic, with
//! the same uniqueness rules the SQL schema enforces. Used by tests and `DATABASE_URL=memory`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use time::OffsetDateTime;

use super::admin::UserQuery;
use super::{
    AccountStore, AdminStore, Jwk, JwksStore, ResetOutcome, SessionChange, SessionStore, Storage, StorageResult,
    UserStore, UsernameStore, VerificationStore, VerifiedAddress,
};
use crate::storage::models::{Account, Session, User, UserUpdate, Verification};
use crate::storage::one_time_code::{with_one_more_try, CodeGuess, CodeReset, Guess, OnRight, OneTimeCodeStore};
use crate::storage::two_factor::{RowChange, TwoFactor, TwoFactorStore, TwoFactorSwitch};
use crate::storage::StorageError;

#[derive(Default)]
struct Tables {
    users: HashMap<String, User>,
    /// email → user id
    emails: HashMap<String, String>,
    /// username → user id (username plugin)
    usernames: HashMap<String, String>,
    /// token → session
    sessions: HashMap<String, Session>,
    accounts: HashMap<String, Account>,
    verifications: Vec<Verification>,
    /// In insertion order.
    jwks: Vec<Jwk>,
    /// The two-factor plugin's rows, in insertion order.
    two_factor: Vec<TwoFactor>,
}

impl Tables {
    /// The user with this id and their credential account.
    fn with_credential(&self, user_id: Option<&String>) -> Option<(User, Option<Account>)> {
        let user = self.users.get(user_id?)?;
        let account = self
            .accounts
            .values()
            .find(|a| a.user_id == user.id && a.is_credential())
            .cloned();
        Some((user.clone(), account))
    }

    fn account_key_taken(&self, account: &Account) -> bool {
        self.accounts
            .values()
            .any(|a| a.id != account.id && a.issuer == account.issuer && a.account_id == account.account_id)
    }

    fn set_password(&mut self, user_id: &str, hash: &str, now: OffsetDateTime) {
        match self
            .accounts
            .values_mut()
            .find(|a| a.user_id == user_id && a.is_credential())
        {
            Some(a) => {
                a.password = Some(hash.to_string());
                a.updated_at = now;
            }
            None => {
                let a = Account::credential(user_id, hash.to_string(), now);
                self.accounts.insert(a.id.clone(), a);
            }
        }
    }

    /// Proof of the address ([`UserStore::verify_address`]): `None` without the user; a
    /// verified address is left as is. Sessions go when provider accounts did, or always with
    /// `revoke_all`.
    fn claim_address(&mut self, user_id: &str, now: OffsetDateTime, revoke_all: bool) -> Option<VerifiedAddress> {
        let user = self.users.get_mut(user_id)?;
        if user.email_verified {
            return Some(VerifiedAddress {
                user: user.clone(),
                removed_accounts: 0,
            });
        }
        user.email_verified = true;
        user.updated_at = now;
        let user = user.clone();
        let before = self.accounts.len();
        self.accounts.retain(|_, a| a.user_id != user_id || a.is_credential());
        let removed_accounts = (before - self.accounts.len()) as u64;
        if removed_accounts > 0 || revoke_all {
            self.sessions.retain(|_, s| s.user_id != user_id);
        }
        Some(VerifiedAddress { user, removed_accounts })
    }

    fn update_user(&mut self, id: &str, update: &UserUpdate, now: OffsetDateTime) -> StorageResult<Option<User>> {
        let t = self;
        let Some((old_email, old_username)) = t.users.get(id).map(|u| (u.email.clone(), u.username.clone())) else {
            return Ok(None);
        };
        if update
            .email
            .as_ref()
            .is_some_and(|e| *e != old_email && t.emails.contains_key(e))
        {
            return Err(StorageError::Conflict("user.email"));
        }
        if update
            .username
            .as_ref()
            .is_some_and(|u| t.usernames.get(u).is_some_and(|owner| owner != id))
        {
            return Err(StorageError::Conflict("user.username"));
        }
        if let Some(new_email) = &update.email {
            t.emails.remove(&old_email);
            t.emails.insert(new_email.clone(), id.to_string());
        }
        if let Some(new_username) = &update.username {
            if let Some(old) = &old_username {
                t.usernames.remove(old);
            }
            t.usernames.insert(new_username.clone(), id.to_string());
        }
        let Some(user) = t.users.get_mut(id) else {
            return Ok(None);
        };
        update.apply(user, now);
        let user = user.clone();
        if update.email.is_some() {
            t.end_reset_tokens(id);
        }
        Ok(Some(user))
    }

    /// Inserts a user (and their first account), with the uniqueness rules.
    fn insert_user(&mut self, user: &User, account: Option<&Account>) -> StorageResult<()> {
        if self.emails.contains_key(&user.email) || self.users.contains_key(&user.id) {
            return Err(StorageError::Conflict("user.email"));
        }
        if user.username.as_ref().is_some_and(|u| self.usernames.contains_key(u)) {
            return Err(StorageError::Conflict("user.username"));
        }
        if account.is_some_and(|a| self.account_key_taken(a)) {
            return Err(StorageError::Conflict("account"));
        }
        if let Some(u) = &user.username {
            self.usernames.insert(u.clone(), user.id.clone());
        }
        self.emails.insert(user.email.clone(), user.id.clone());
        self.users.insert(user.id.clone(), user.clone());
        if let Some(a) = account {
            self.accounts.insert(a.id.clone(), a.clone());
        }
        Ok(())
    }

    /// Deletes the user's password-reset tokens.
    fn end_reset_tokens(&mut self, user_id: &str) {
        self.verifications
            .retain(|v| !(v.value == user_id && v.identifier.starts_with(super::RESET_PASSWORD_PREFIX)));
    }

    /// One guess at the newest code of the identifier ([`OneTimeCodeStore::guess_code`]).
    fn guess_code(&mut self, guess: &Guess<'_>, on_right: OnRight) -> CodeGuess {
        let newest = self
            .verifications
            .iter()
            .enumerate()
            .filter(|(_, v)| v.identifier == guess.identifier)
            .max_by_key(|(_, v)| v.created_at)
            .map(|(i, _)| i);
        let outcome = guess.judge(newest.map(|i| &self.verifications[i]));
        let consume = match outcome {
            CodeGuess::Expired | CodeGuess::Exhausted => true,
            CodeGuess::Right => on_right == OnRight::Consume,
            CodeGuess::Missing | CodeGuess::Wrong => false,
        };
        if let (CodeGuess::Wrong, Some(i)) = (&outcome, newest) {
            let row = &mut self.verifications[i];
            row.value = with_one_more_try(&row.value);
            row.updated_at = guess.now;
        } else if consume {
            self.verifications.retain(|v| v.identifier != guess.identifier);
        }
        outcome
    }

    /// Removes every row of the identifier, returning the newest.
    fn take_verification(&mut self, identifier: &str) -> Option<Verification> {
        let (taken, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.verifications)
            .into_iter()
            .partition(|v| v.identifier == identifier);
        self.verifications = kept;
        taken.into_iter().max_by_key(|v| v.created_at)
    }
}

#[derive(Default)]
pub struct MemoryStorage {
    tables: Mutex<Tables>,
}

impl MemoryStorage {
    pub fn new() -> MemoryStorage {
        MemoryStorage::default()
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        // A panic while holding the lock cannot leave a table half-written: every method
        // checks before it mutates. So a poisoned lock is safe to keep using.
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl UserStore for MemoryStorage {
    fn create_user_with_account(&self, user: &User, account: &Account) -> StorageResult<()> {
        self.lock().insert_user(user, Some(account))
    }

    fn find_user_by_id(&self, id: &str) -> StorageResult<Option<User>> {
        Ok(self.lock().users.get(id).cloned())
    }

    fn find_user_by_email(&self, email: &str) -> StorageResult<Option<User>> {
        let t = self.lock();
        Ok(t.emails.get(email).and_then(|id| t.users.get(id)).cloned())
    }

    fn find_user_with_credential(&self, email: &str) -> StorageResult<Option<(User, Option<Account>)>> {
        let t = self.lock();
        Ok(t.with_credential(t.emails.get(email)))
    }

    fn update_user(&self, id: &str, update: &UserUpdate, now: OffsetDateTime) -> StorageResult<Option<User>> {
        self.lock().update_user(id, update, now)
    }

    fn delete_user(&self, id: &str) -> StorageResult<bool> {
        let mut t = self.lock();
        let Some(user) = t.users.remove(id) else {
            return Ok(false);
        };
        t.emails.remove(&user.email);
        if let Some(u) = &user.username {
            t.usernames.remove(u);
        }
        t.sessions.retain(|_, s| s.user_id != id);
        t.accounts.retain(|_, a| a.user_id != id);
        t.verifications.retain(|v| v.value != id);
        t.two_factor.retain(|r| r.user_id != id);
        Ok(true)
    }

    fn verify_address(&self, user_id: &str, now: OffsetDateTime) -> StorageResult<Option<VerifiedAddress>> {
        Ok(self.lock().claim_address(user_id, now, false))
    }

    fn revoke_unproven_account_access(&self, user_id: &str, now: OffsetDateTime) -> StorageResult<Option<User>> {
        let mut t = self.lock();
        let Some(user) = t.users.get_mut(user_id) else {
            return Ok(None);
        };
        if user.email_verified {
            return Ok(Some(user.clone()));
        }
        user.email_verified = true;
        user.updated_at = now;
        let user = user.clone();
        t.accounts.retain(|_, a| a.user_id != user_id);
        t.sessions.retain(|_, s| s.user_id != user_id);
        Ok(Some(user))
    }
}

impl SessionStore for MemoryStorage {
    fn create_session(&self, session: &Session) -> StorageResult<()> {
        let mut t = self.lock();
        if t.sessions.contains_key(&session.token) {
            return Err(StorageError::Conflict("session.token"));
        }
        if !t.users.contains_key(&session.user_id) {
            return Err(StorageError::Other(anyhow::anyhow!("session for a missing user")));
        }
        t.sessions.insert(session.token.clone(), session.clone());
        Ok(())
    }

    fn find_session_with_user(&self, token: &str) -> StorageResult<Option<(Session, User)>> {
        let t = self.lock();
        let Some(session) = t.sessions.get(token) else {
            return Ok(None);
        };
        Ok(t.users.get(&session.user_id).map(|u| (session.clone(), u.clone())))
    }

    fn refresh_session(
        &self,
        token: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StorageResult<Option<Session>> {
        let mut t = self.lock();
        Ok(t.sessions.get_mut(token).map(|s| {
            s.expires_at = expires_at;
            s.updated_at = now;
            s.clone()
        }))
    }

    fn list_user_sessions(&self, user_id: &str) -> StorageResult<Vec<Session>> {
        let t = self.lock();
        let mut v: Vec<Session> = t.sessions.values().filter(|s| s.user_id == user_id).cloned().collect();
        v.sort_by_key(|s| s.created_at);
        Ok(v)
    }

    fn delete_session(&self, token: &str) -> StorageResult<()> {
        self.lock().sessions.remove(token);
        Ok(())
    }

    fn delete_user_session(&self, user_id: &str, token: &str) -> StorageResult<bool> {
        let mut t = self.lock();
        if t.sessions.get(token).is_some_and(|s| s.user_id == user_id) {
            t.sessions.remove(token);
            return Ok(true);
        }
        Ok(false)
    }

    fn delete_user_sessions(&self, user_id: &str) -> StorageResult<()> {
        self.lock().sessions.retain(|_, s| s.user_id != user_id);
        Ok(())
    }

    fn delete_other_sessions(&self, user_id: &str, keep_token: &str) -> StorageResult<()> {
        self.lock()
            .sessions
            .retain(|tok, s| s.user_id != user_id || tok == keep_token);
        Ok(())
    }
}

impl AccountStore for MemoryStorage {
    fn find_credential_account(&self, user_id: &str) -> StorageResult<Option<Account>> {
        Ok(self
            .lock()
            .accounts
            .values()
            .find(|a| a.user_id == user_id && a.is_credential())
            .cloned())
    }

    fn list_user_accounts(&self, user_id: &str) -> StorageResult<Vec<Account>> {
        let t = self.lock();
        let mut v: Vec<Account> = t.accounts.values().filter(|a| a.user_id == user_id).cloned().collect();
        v.sort_by_key(|a| a.created_at);
        Ok(v)
    }

    fn find_account_by_issuer(&self, issuer: &str, account_id: &str) -> StorageResult<Option<Account>> {
        Ok(self
            .lock()
            .accounts
            .values()
            .find(|a| a.issuer == issuer && a.account_id == account_id)
            .cloned())
    }

    fn create_account(&self, account: &Account) -> StorageResult<()> {
        let mut t = self.lock();
        if t.account_key_taken(account) || t.accounts.contains_key(&account.id) {
            return Err(StorageError::Conflict("account"));
        }
        if !t.users.contains_key(&account.user_id) {
            return Err(StorageError::Other(anyhow::anyhow!("account for a missing user")));
        }
        t.accounts.insert(account.id.clone(), account.clone());
        Ok(())
    }

    fn update_account(&self, account: &Account) -> StorageResult<bool> {
        let mut t = self.lock();
        let Some(a) = t.accounts.get_mut(&account.id) else {
            return Ok(false);
        };
        a.access_token.clone_from(&account.access_token);
        a.refresh_token.clone_from(&account.refresh_token);
        a.id_token.clone_from(&account.id_token);
        a.access_token_expires_at = account.access_token_expires_at;
        a.refresh_token_expires_at = account.refresh_token_expires_at;
        a.scope.clone_from(&account.scope);
        a.updated_at = account.updated_at;
        Ok(true)
    }

    fn delete_account(&self, user_id: &str, id: &str) -> StorageResult<bool> {
        let mut t = self.lock();
        if t.accounts.get(id).is_some_and(|a| a.user_id == user_id) {
            t.accounts.remove(id);
            return Ok(true);
        }
        Ok(false)
    }

    fn set_password(
        &self,
        user_id: &str,
        hash: &str,
        now: OffsetDateTime,
        sessions: &SessionChange,
        end_reset_tokens: bool,
    ) -> StorageResult<()> {
        let mut t = self.lock();
        if !t.users.contains_key(user_id) {
            return Err(StorageError::Other(anyhow::anyhow!("password for a missing user")));
        }
        if let SessionChange::RevokeAllAndCreate(s) = sessions {
            if t.sessions.contains_key(&s.token) {
                return Err(StorageError::Conflict("session.token"));
            }
        }
        t.set_password(user_id, hash, now);
        match sessions {
            SessionChange::Keep => {}
            SessionChange::RevokeAll => t.sessions.retain(|_, s| s.user_id != user_id),
            SessionChange::RevokeAllAndCreate(new) => {
                t.sessions.retain(|_, s| s.user_id != user_id);
                t.sessions.insert(new.token.clone(), new.clone());
            }
        }
        if end_reset_tokens {
            t.end_reset_tokens(user_id);
        }
        Ok(())
    }
}

impl VerificationStore for MemoryStorage {
    fn create_verification(&self, verification: &Verification) -> StorageResult<()> {
        self.lock().verifications.push(verification.clone());
        Ok(())
    }

    fn claim_verification(&self, verification: &Verification) -> StorageResult<bool> {
        let mut t = self.lock();
        if t.verifications.iter().any(|v| v.id == verification.id) {
            return Ok(false);
        }
        t.verifications.push(verification.clone());
        Ok(true)
    }

    fn find_verification(&self, identifier: &str) -> StorageResult<Option<Verification>> {
        let t = self.lock();
        Ok(t.verifications
            .iter()
            .filter(|v| v.identifier == identifier)
            .max_by_key(|v| v.created_at)
            .cloned())
    }

    fn consume_verification(&self, identifier: &str) -> StorageResult<Option<Verification>> {
        Ok(self.lock().take_verification(identifier))
    }

    fn reset_password(
        &self,
        identifier: &str,
        now: OffsetDateTime,
        hash: &str,
        revoke_sessions: bool,
    ) -> StorageResult<ResetOutcome> {
        let mut t = self.lock();
        let Some(row) = t.take_verification(identifier) else {
            return Ok(ResetOutcome::InvalidToken);
        };
        if row.expires_at <= now {
            return Ok(ResetOutcome::InvalidToken);
        }
        let user_id = row.value;
        if !t.users.contains_key(&user_id) {
            return Ok(ResetOutcome::UserNotFound);
        }
        t.set_password(&user_id, hash, now);
        if revoke_sessions {
            t.sessions.retain(|_, s| s.user_id != user_id);
        }
        t.claim_address(&user_id, now, true);
        t.end_reset_tokens(&user_id);
        Ok(ResetOutcome::Done(user_id))
    }
}

impl OneTimeCodeStore for MemoryStorage {
    fn replace_code(&self, row: &Verification) -> StorageResult<()> {
        let mut t = self.lock();
        t.verifications.retain(|v| v.identifier != row.identifier);
        t.verifications.push(row.clone());
        Ok(())
    }

    fn guess_code(&self, guess: &Guess<'_>, on_right: OnRight) -> StorageResult<CodeGuess> {
        Ok(self.lock().guess_code(guess, on_right))
    }

    fn reset_password_with_code(
        &self,
        guess: &Guess<'_>,
        user_id: &str,
        hash: &str,
        revoke_sessions: bool,
    ) -> StorageResult<CodeReset> {
        let mut t = self.lock();
        let outcome = t.guess_code(guess, OnRight::Consume);
        if outcome != CodeGuess::Right {
            return Ok(CodeReset::Refused(outcome));
        }
        if !t.users.contains_key(user_id) {
            return Ok(CodeReset::UserNotFound);
        }
        t.set_password(user_id, hash, guess.now);
        if revoke_sessions {
            t.sessions.retain(|_, s| s.user_id != user_id);
        }
        t.end_reset_tokens(user_id);
        t.claim_address(user_id, guess.now, true);
        Ok(CodeReset::Done)
    }
}

impl JwksStore for MemoryStorage {
    fn create_jwk(&self, jwk: &Jwk) -> StorageResult<()> {
        let mut t = self.lock();
        if t.jwks.iter().any(|k| k.id == jwk.id) {
            return Err(StorageError::Conflict("jwks.id"));
        }
        t.jwks.push(jwk.clone());
        Ok(())
    }

    fn latest_jwk(&self, alg: &str, now: OffsetDateTime) -> StorageResult<Option<Jwk>> {
        let t = self.lock();
        Ok(t.jwks
            .iter()
            .filter(|k| k.alg.as_deref().is_none_or(|a| a == alg))
            .filter(|k| k.expires_at.is_none_or(|e| e > now))
            .max_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)))
            .cloned())
    }

    fn list_jwks(&self) -> StorageResult<Vec<Jwk>> {
        let mut v = self.lock().jwks.clone();
        v.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        Ok(v)
    }
}

impl UsernameStore for MemoryStorage {
    fn find_user_with_credential_by_username(&self, username: &str) -> StorageResult<Option<(User, Option<Account>)>> {
        let t = self.lock();
        Ok(t.with_credential(t.usernames.get(username)))
    }
}

impl AdminStore for MemoryStorage {
    fn list_users(&self, query: &UserQuery) -> StorageResult<(Vec<User>, u64)> {
        let t = self.lock();
        let mut users: Vec<User> = t.users.values().filter(|u| query.matches(u)).cloned().collect();
        users.sort_by(|a, b| query.compare(a, b));
        let total = users.len() as u64;
        Ok((query.page(users), total))
    }

    fn create_user(&self, user: &User) -> StorageResult<()> {
        self.lock().insert_user(user, None)
    }

    fn update_user_ending_sessions(
        &self,
        id: &str,
        update: &UserUpdate,
        now: OffsetDateTime,
    ) -> StorageResult<Option<User>> {
        let mut t = self.lock();
        let user = t.update_user(id, update, now)?;
        if user.is_some() {
            t.sessions.retain(|_, s| s.user_id != id);
        }
        Ok(user)
    }
}

impl Storage for MemoryStorage {
    fn kind(&self) -> &'static str {
        "memory"
    }
}

impl TwoFactorStore for MemoryStorage {
    fn find_two_factor(&self, user_id: &str) -> StorageResult<Option<TwoFactor>> {
        Ok(self.lock().two_factor.iter().find(|r| r.user_id == user_id).cloned())
    }

    fn save_two_factor(&self, row: &TwoFactor) -> StorageResult<()> {
        let mut t = self.lock();
        match t.two_factor.iter_mut().find(|r| r.id == row.id) {
            Some(r) => *r = row.clone(),
            None => t.two_factor.push(row.clone()),
        }
        Ok(())
    }

    fn replace_backup_codes(&self, id: &str, expected: &str, new: &str) -> StorageResult<bool> {
        let mut t = self.lock();
        match t
            .two_factor
            .iter_mut()
            .find(|r| r.id == id && r.backup_codes == expected)
        {
            Some(r) => {
                r.backup_codes = new.to_string();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn record_two_factor_failure(&self, id: &str, max: i64, lock_until: OffsetDateTime) -> StorageResult<()> {
        let mut t = self.lock();
        if let Some(r) = t.two_factor.iter_mut().find(|r| r.id == id) {
            let count = r.failed_verification_count.unwrap_or(0) + 1;
            r.failed_verification_count = Some(count);
            if count >= max {
                r.locked_until = Some(lock_until);
            }
        }
        Ok(())
    }

    fn reset_two_factor_failures(&self, id: &str) -> StorageResult<()> {
        let mut t = self.lock();
        if let Some(r) = t.two_factor.iter_mut().find(|r| r.id == id) {
            r.failed_verification_count = Some(0);
            r.locked_until = None;
        }
        Ok(())
    }

    fn clear_expired_two_factor_lock(&self, id: &str, now: OffsetDateTime) -> StorageResult<()> {
        let mut t = self.lock();
        if let Some(r) = t
            .two_factor
            .iter_mut()
            .find(|r| r.id == id && r.locked_until.is_some_and(|l| l <= now))
        {
            r.failed_verification_count = Some(0);
            r.locked_until = None;
        }
        Ok(())
    }

    fn switch_two_factor(&self, s: &TwoFactorSwitch<'_>) -> StorageResult<Option<User>> {
        let mut t = self.lock();
        if let Some((_, session)) = s.rotate {
            if t.sessions.contains_key(&session.token) {
                return Err(StorageError::Conflict("session.token"));
            }
        }
        let Some(user) = t.users.get_mut(s.user_id) else {
            return Ok(None);
        };
        user.two_factor_enabled = Some(s.enabled);
        user.updated_at = s.now;
        let user = user.clone();
        match &s.row {
            RowChange::Keep => {}
            RowChange::MarkVerified(id) => {
                if let Some(r) = t.two_factor.iter_mut().find(|r| &r.id == id) {
                    r.verified = Some(true);
                }
            }
            RowChange::DeleteAll => t.two_factor.retain(|r| r.user_id != s.user_id),
        }
        if let Some((old_token, session)) = s.rotate {
            t.sessions.insert(session.token.clone(), session.clone());
            t.sessions.remove(old_token);
        }
        Ok(Some(user))
    }
}
