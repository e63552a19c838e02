//! `account` rows: SQL and row mapping for [`AccountStore`], and the credential-password
//! write shared with password reset ([`set_password_in`]).

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior};
use time::OffsetDateTime;

use super::sessions::{self, DELETE_USER_SESSIONS};
use super::values::{date, date_opt, iso, iso_opt};
use super::SqliteStorage;
use crate::auth::models::Account;
use crate::storage::{AccountStore, SessionChange, StorageResult};

/// The account whose columns start at `at`: id, issuer, accountId, providerId, userId,
/// accessToken, refreshToken, idToken, accessTokenExpiresAt, refreshTokenExpiresAt, scope,
/// password, createdAt, updatedAt.
pub(super) fn account_at(row: &Row, at: usize) -> rusqlite::Result<Account> {
    Ok(Account {
        id: row.get(at)?,
        issuer: row.get(at + 1)?,
        account_id: row.get(at + 2)?,
        provider_id: row.get(at + 3)?,
        user_id: row.get(at + 4)?,
        access_token: row.get(at + 5)?,
        refresh_token: row.get(at + 6)?,
        id_token: row.get(at + 7)?,
        access_token_expires_at: date_opt(row, at + 8)?,
        refresh_token_expires_at: date_opt(row, at + 9)?,
        scope: row.get(at + 10)?,
        password: row.get(at + 11)?,
        created_at: date(row, at + 12)?,
        updated_at: date(row, at + 13)?,
    })
}

const INSERT_ACCOUNT: &str = r#"insert into "account" ("id", "issuer", "accountId", "providerId", "userId",
    "accessToken", "refreshToken", "idToken", "accessTokenExpiresAt", "refreshTokenExpiresAt", "scope", "password",
    "createdAt", "updatedAt")
    values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"#;

const CREDENTIAL: &str = r#"select "id", "issuer", "accountId", "providerId", "userId", "accessToken", "refreshToken",
    "idToken", "accessTokenExpiresAt", "refreshTokenExpiresAt", "scope", "password", "createdAt", "updatedAt"
    from "account"
    where "userId" = ?1 and "providerId" = 'credential' and "issuer" = 'local:credential' and "accountId" = ?1"#;

const LIST: &str = r#"select "id", "issuer", "accountId", "providerId", "userId", "accessToken", "refreshToken",
    "idToken", "accessTokenExpiresAt", "refreshTokenExpiresAt", "scope", "password", "createdAt", "updatedAt"
    from "account" where "userId" = ?1 order by "createdAt", "id""#;

const BY_ISSUER: &str = r#"select "id", "issuer", "accountId", "providerId", "userId", "accessToken", "refreshToken",
    "idToken", "accessTokenExpiresAt", "refreshTokenExpiresAt", "scope", "password", "createdAt", "updatedAt"
    from "account" where "issuer" = ?1 and "accountId" = ?2"#;

const UPDATE_TOKENS: &str = r#"update "account" set "accessToken" = ?2, "refreshToken" = ?3, "idToken" = ?4,
    "accessTokenExpiresAt" = ?5, "refreshTokenExpiresAt" = ?6, "scope" = ?7, "updatedAt" = ?8
    where "id" = ?1"#;

const DELETE: &str = r#"delete from "account" where "id" = ?2 and "userId" = ?1"#;

/// Sets the credential password, creating the credential account if the user has none: the
/// credential account is the row keyed (local:credential, userId), so the unique index turns
/// "update or insert" into one statement. A missing user is a foreign-key violation.
const UPSERT_PASSWORD: &str = r#"insert into "account" ("id", "issuer", "accountId", "providerId", "userId",
    "password", "createdAt", "updatedAt")
    values (?1, 'local:credential', ?2, 'credential', ?2, ?3, ?4, ?4)
    on conflict ("issuer", "accountId") do update set "password" = excluded."password", "updatedAt" = excluded."updatedAt""#;

/// Inserts an account.
pub(super) fn insert(c: &Connection, a: &Account) -> rusqlite::Result<usize> {
    c.prepare_cached(INSERT_ACCOUNT)?.execute((
        &a.id,
        &a.issuer,
        &a.account_id,
        &a.provider_id,
        &a.user_id,
        &a.access_token,
        &a.refresh_token,
        &a.id_token,
        iso_opt(a.access_token_expires_at),
        iso_opt(a.refresh_token_expires_at),
        &a.scope,
        &a.password,
        iso(a.created_at),
        iso(a.updated_at),
    ))
}

/// Sets the password and applies the session change inside the caller's transaction.
pub(super) fn set_password_in(
    c: &Connection,
    user_id: &str,
    hash: &str,
    now: OffsetDateTime,
    sessions: &SessionChange,
) -> rusqlite::Result<()> {
    let id = crate::crypto::new_id();
    c.prepare_cached(UPSERT_PASSWORD)?
        .execute((&id, user_id, hash, iso(now)))?;
    match sessions {
        SessionChange::Keep => {}
        SessionChange::RevokeAll => {
            c.prepare_cached(DELETE_USER_SESSIONS)?.execute([user_id])?;
        }
        SessionChange::RevokeAllAndCreate(new) => {
            c.prepare_cached(DELETE_USER_SESSIONS)?.execute([user_id])?;
            sessions::insert(c, new)?;
        }
    }
    Ok(())
}

impl AccountStore for SqliteStorage {
    fn find_credential_account(&self, user_id: &str) -> StorageResult<Option<Account>> {
        self.read(|c| {
            c.prepare_cached(CREDENTIAL)?
                .query_row([user_id], |r| account_at(r, 0))
                .optional()
        })
    }

    fn list_user_accounts(&self, user_id: &str) -> StorageResult<Vec<Account>> {
        self.read(|c| {
            let mut st = c.prepare_cached(LIST)?;
            let rows = st.query_map([user_id], |r| account_at(r, 0))?.collect();
            rows
        })
    }

    fn find_account_by_issuer(&self, issuer: &str, account_id: &str) -> StorageResult<Option<Account>> {
        self.read(|c| {
            c.prepare_cached(BY_ISSUER)?
                .query_row([issuer, account_id], |r| account_at(r, 0))
                .optional()
        })
    }

    fn create_account(&self, account: &Account) -> StorageResult<()> {
        self.write(|c| insert(c, account).map(|_| ()))
    }

    fn update_account(&self, a: &Account) -> StorageResult<bool> {
        self.write(|c| {
            let n = c.prepare_cached(UPDATE_TOKENS)?.execute((
                &a.id,
                &a.access_token,
                &a.refresh_token,
                &a.id_token,
                iso_opt(a.access_token_expires_at),
                iso_opt(a.refresh_token_expires_at),
                &a.scope,
                iso(a.updated_at),
            ))?;
            Ok(n > 0)
        })
    }

    fn delete_account(&self, user_id: &str, id: &str) -> StorageResult<bool> {
        self.write(|c| Ok(c.prepare_cached(DELETE)?.execute([user_id, id])? > 0))
    }

    fn set_password(
        &self,
        user_id: &str,
        hash: &str,
        now: OffsetDateTime,
        sessions: &SessionChange,
    ) -> StorageResult<()> {
        self.write(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            set_password_in(&tx, user_id, hash, now, sessions)?;
            tx.commit()
        })
    }
}
