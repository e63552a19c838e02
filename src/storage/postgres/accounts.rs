//! `account` rows: SQL and row mapping for [`AccountStore`], and the credential-password
//! write shared with password reset ([`set_password_in`]).

use postgres::{GenericClient, Row, Statement, Transaction};
use time::OffsetDateTime;

use super::pool::PgConn;
use super::sessions::{self, DELETE_USER_SESSIONS, INSERT_SESSION};
use super::PgStorage;
use crate::auth::models::Account;
use crate::storage::{AccountStore, SessionChange, StorageResult};

/// The account whose columns start at `at`: id, issuer, accountId, providerId, userId,
/// accessToken, refreshToken, idToken, accessTokenExpiresAt, refreshTokenExpiresAt, scope,
/// password, createdAt, updatedAt.
pub(super) fn account_at(row: &Row, at: usize) -> Result<Account, postgres::Error> {
    Ok(Account {
        id: row.try_get(at)?,
        issuer: row.try_get(at + 1)?,
        account_id: row.try_get(at + 2)?,
        provider_id: row.try_get(at + 3)?,
        user_id: row.try_get(at + 4)?,
        access_token: row.try_get(at + 5)?,
        refresh_token: row.try_get(at + 6)?,
        id_token: row.try_get(at + 7)?,
        access_token_expires_at: row.try_get(at + 8)?,
        refresh_token_expires_at: row.try_get(at + 9)?,
        scope: row.try_get(at + 10)?,
        password: row.try_get(at + 11)?,
        created_at: row.try_get(at + 12)?,
        updated_at: row.try_get(at + 13)?,
    })
}

pub(super) const INSERT_ACCOUNT: &str = r#"insert into "account" ("id", "issuer", "accountId", "providerId", "userId",
    "accessToken", "refreshToken", "idToken", "accessTokenExpiresAt", "refreshTokenExpiresAt", "scope", "password",
    "createdAt", "updatedAt")
    values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"#;

const CREDENTIAL: &str = r#"select "id", "issuer", "accountId", "providerId", "userId", "accessToken", "refreshToken",
    "idToken", "accessTokenExpiresAt", "refreshTokenExpiresAt", "scope", "password", "createdAt", "updatedAt"
    from "account"
    where "userId" = $1 and "providerId" = 'credential' and "issuer" = 'local:credential' and "accountId" = $1"#;

const LIST: &str = r#"select "id", "issuer", "accountId", "providerId", "userId", "accessToken", "refreshToken",
    "idToken", "accessTokenExpiresAt", "refreshTokenExpiresAt", "scope", "password", "createdAt", "updatedAt"
    from "account" where "userId" = $1 order by "createdAt", "id""#;

const BY_ISSUER: &str = r#"select "id", "issuer", "accountId", "providerId", "userId", "accessToken", "refreshToken",
    "idToken", "accessTokenExpiresAt", "refreshTokenExpiresAt", "scope", "password", "createdAt", "updatedAt"
    from "account" where "issuer" = $1 and "accountId" = $2"#;

const UPDATE_TOKENS: &str = r#"update "account" set "accessToken" = $2, "refreshToken" = $3, "idToken" = $4,
    "accessTokenExpiresAt" = $5, "refreshTokenExpiresAt" = $6, "scope" = $7, "updatedAt" = $8
    where "id" = $1"#;

const DELETE: &str = r#"delete from "account" where "id" = $2 and "userId" = $1"#;

/// Sets the credential password, creating the credential account if the user has none: the
/// credential account is the row keyed (local:credential, userId), so the unique index turns
/// "update or insert" into one statement. A missing user is a foreign-key violation.
pub(super) const UPSERT_PASSWORD: &str = r#"insert into "account" ("id", "issuer", "accountId", "providerId", "userId",
    "password", "createdAt", "updatedAt")
    values ($1, 'local:credential', $2, 'credential', $2, $3, $4, $4)
    on conflict ("issuer", "accountId") do update set "password" = excluded."password", "updatedAt" = excluded."updatedAt""#;

/// Inserts an account with a prepared [`INSERT_ACCOUNT`].
pub(super) fn insert(client: &mut impl GenericClient, st: &Statement, a: &Account) -> Result<u64, postgres::Error> {
    client.execute(
        st,
        &[
            &a.id,
            &a.issuer,
            &a.account_id,
            &a.provider_id,
            &a.user_id,
            &a.access_token,
            &a.refresh_token,
            &a.id_token,
            &a.access_token_expires_at,
            &a.refresh_token_expires_at,
            &a.scope,
            &a.password,
            &a.created_at,
            &a.updated_at,
        ],
    )
}

/// The statements [`set_password_in`] uses, prepared before the transaction starts.
pub(super) struct PasswordStatements {
    upsert: Statement,
    delete_sessions: Statement,
    insert_session: Statement,
}

impl PasswordStatements {
    pub(super) fn prepare(c: &mut PgConn) -> Result<PasswordStatements, postgres::Error> {
        Ok(PasswordStatements {
            upsert: c.stmt(UPSERT_PASSWORD)?,
            delete_sessions: c.stmt(DELETE_USER_SESSIONS)?,
            insert_session: c.stmt(INSERT_SESSION)?,
        })
    }
}

/// Sets the password and applies the session change inside the caller's transaction.
pub(super) fn set_password_in(
    tx: &mut Transaction<'_>,
    st: &PasswordStatements,
    user_id: &str,
    hash: &str,
    now: OffsetDateTime,
    sessions: &SessionChange,
) -> Result<(), postgres::Error> {
    let id = crate::crypto::new_id();
    tx.execute(&st.upsert, &[&id, &user_id, &hash, &now])?;
    match sessions {
        SessionChange::Keep => {}
        SessionChange::RevokeAll => {
            tx.execute(&st.delete_sessions, &[&user_id])?;
        }
        SessionChange::RevokeAllAndCreate(new) => {
            tx.execute(&st.delete_sessions, &[&user_id])?;
            sessions::insert(tx, &st.insert_session, new)?;
        }
    }
    Ok(())
}

impl AccountStore for PgStorage {
    fn find_credential_account(&self, user_id: &str) -> StorageResult<Option<Account>> {
        self.run(|c| {
            let st = c.stmt(CREDENTIAL)?;
            c.client
                .query_opt(&st, &[&user_id])?
                .map(|r| account_at(&r, 0))
                .transpose()
        })
    }

    fn list_user_accounts(&self, user_id: &str) -> StorageResult<Vec<Account>> {
        self.run(|c| {
            let st = c.stmt(LIST)?;
            c.client
                .query(&st, &[&user_id])?
                .iter()
                .map(|r| account_at(r, 0))
                .collect()
        })
    }

    fn find_account_by_issuer(&self, issuer: &str, account_id: &str) -> StorageResult<Option<Account>> {
        self.run(|c| {
            let st = c.stmt(BY_ISSUER)?;
            c.client
                .query_opt(&st, &[&issuer, &account_id])?
                .map(|r| account_at(&r, 0))
                .transpose()
        })
    }

    fn create_account(&self, account: &Account) -> StorageResult<()> {
        self.run(|c| {
            let st = c.stmt(INSERT_ACCOUNT)?;
            insert(&mut c.client, &st, account).map(|_| ())
        })
    }

    fn update_account(&self, a: &Account) -> StorageResult<bool> {
        self.run(|c| {
            let st = c.stmt(UPDATE_TOKENS)?;
            let n = c.client.execute(
                &st,
                &[
                    &a.id,
                    &a.access_token,
                    &a.refresh_token,
                    &a.id_token,
                    &a.access_token_expires_at,
                    &a.refresh_token_expires_at,
                    &a.scope,
                    &a.updated_at,
                ],
            )?;
            Ok(n > 0)
        })
    }

    fn delete_account(&self, user_id: &str, id: &str) -> StorageResult<bool> {
        self.run(|c| {
            let st = c.stmt(DELETE)?;
            Ok(c.client.execute(&st, &[&user_id, &id])? > 0)
        })
    }

    fn set_password(
        &self,
        user_id: &str,
        hash: &str,
        now: OffsetDateTime,
        sessions: &SessionChange,
    ) -> StorageResult<()> {
        self.run(|c| {
            let st = PasswordStatements::prepare(c)?;
            let mut tx = c.client.transaction()?;
            set_password_in(&mut tx, &st, user_id, hash, now, sessions)?;
            tx.commit()
        })
    }
}
