//! `account` rows: the columns, the row mapper, the statements and [`AccountStore`] for both
//! databases, and the credential-password write shared with password reset
//! ([`set_password_in`]).

use time::OffsetDateTime;

use super::{insert, select, sessions, Backend, Cols, Conn, Dialect, SqlResult, Statements, Value};
use crate::storage::models::Account;
use crate::storage::{AccountStore, SessionChange, StorageResult};

/// Every column, in the order of [`read`] and [`values`].
pub(super) const COLUMNS: [&str; 14] = [
    "id",
    "issuer",
    "accountId",
    "providerId",
    "userId",
    "accessToken",
    "refreshToken",
    "idToken",
    "accessTokenExpiresAt",
    "refreshTokenExpiresAt",
    "scope",
    "password",
    "createdAt",
    "updatedAt",
];

pub(super) fn read(c: &mut Cols<'_>) -> SqlResult<Account> {
    Ok(Account {
        id: c.text()?,
        issuer: c.text()?,
        account_id: c.text()?,
        provider_id: c.text()?,
        user_id: c.text()?,
        access_token: c.opt_text()?,
        refresh_token: c.opt_text()?,
        id_token: c.opt_text()?,
        access_token_expires_at: c.opt_date()?,
        refresh_token_expires_at: c.opt_date()?,
        scope: c.opt_text()?,
        password: c.opt_text()?,
        created_at: c.date()?,
        updated_at: c.date()?,
    })
}

pub(super) fn values(a: &Account) -> [Value<'_>; COLUMNS.len()] {
    [
        (&a.id).into(),
        (&a.issuer).into(),
        (&a.account_id).into(),
        (&a.provider_id).into(),
        (&a.user_id).into(),
        (&a.access_token).into(),
        (&a.refresh_token).into(),
        (&a.id_token).into(),
        a.access_token_expires_at.into(),
        a.refresh_token_expires_at.into(),
        (&a.scope).into(),
        (&a.password).into(),
        a.created_at.into(),
        a.updated_at.into(),
    ]
}

pub struct AccountSql {
    pub insert: String,
    pub credential: String,
    pub list_of_user: String,
    pub by_issuer: String,
    pub update_tokens: String,
    pub delete: String,
    pub upsert_password: String,
    pub all: String,
}

impl AccountSql {
    pub(super) fn new(d: Dialect) -> AccountSql {
        AccountSql {
            insert: insert(d, "account", &COLUMNS),
            credential: select(
                d,
                &COLUMNS,
                "account",
                r#"where "userId" = $1 and "providerId" = 'credential' and "issuer" = 'local:credential' and "accountId" = $1"#,
            ),
            list_of_user: select(d, &COLUMNS, "account", r#"where "userId" = $1 order by "createdAt", "id""#),
            by_issuer: select(d, &COLUMNS, "account", r#"where "issuer" = $1 and "accountId" = $2"#),
            update_tokens: d.render(
                r#"update "account" set "accessToken" = $2, "refreshToken" = $3, "idToken" = $4,
    "accessTokenExpiresAt" = $5, "refreshTokenExpiresAt" = $6, "scope" = $7, "updatedAt" = $8
    where "id" = $1"#,
            ),
            delete: d.render(r#"delete from "account" where "id" = $2 and "userId" = $1"#),
            // The credential account is the row keyed (local:credential, userId), so the
            // unique index turns "update or insert" into one statement. A missing user is a
            // foreign-key violation.
            upsert_password: d.render(
                r#"insert into "account" ("id", "issuer", "accountId", "providerId", "userId",
    "password", "createdAt", "updatedAt")
    values ($1, 'local:credential', $2, 'credential', $2, $3, $4, $4)
    on conflict ("issuer", "accountId") do update set "password" = excluded."password", "updatedAt" = excluded."updatedAt""#,
            ),
            all: select(d, &COLUMNS, "account", r#"order by "createdAt", "id""#),
        }
    }
}

/// Sets the credential password (creating the credential account if the user has none),
/// applies the session change and, with `end_resets`, deletes the user's password-reset
/// tokens, inside the caller's transaction.
pub(super) fn set_password_in(
    c: &mut dyn Conn,
    sql: &'static Statements,
    user_id: &str,
    hash: &str,
    now: OffsetDateTime,
    change: &SessionChange,
    end_resets: bool,
) -> SqlResult<()> {
    let id = crate::crypto::new_id();
    c.execute(
        &sql.accounts.upsert_password,
        &[id.as_str().into(), user_id.into(), hash.into(), now.into()],
    )?;
    match change {
        SessionChange::Keep => {}
        SessionChange::RevokeAll => {
            c.execute(&sql.sessions.delete_all_of_user, &[user_id.into()])?;
        }
        SessionChange::RevokeAllAndCreate(new) => {
            c.execute(&sql.sessions.delete_all_of_user, &[user_id.into()])?;
            c.execute(&sql.sessions.insert, &sessions::values(new))?;
        }
    }
    if end_resets {
        super::verifications::end_reset_tokens(c, sql, user_id)?;
    }
    Ok(())
}

impl<B: Backend> AccountStore for B {
    fn find_credential_account(&self, user_id: &str) -> StorageResult<Option<Account>> {
        self.read(|c| c.first(&self.sql().accounts.credential, &[user_id.into()], read))
    }

    fn list_user_accounts(&self, user_id: &str) -> StorageResult<Vec<Account>> {
        self.read(|c| c.all(&self.sql().accounts.list_of_user, &[user_id.into()], read))
    }

    fn find_account_by_issuer(&self, issuer: &str, account_id: &str) -> StorageResult<Option<Account>> {
        self.read(|c| {
            c.first(
                &self.sql().accounts.by_issuer,
                &[issuer.into(), account_id.into()],
                read,
            )
        })
    }

    fn create_account(&self, account: &Account) -> StorageResult<()> {
        self.write(|c| c.execute(&self.sql().accounts.insert, &values(account)).map(|_| ()))
    }

    fn update_account(&self, a: &Account) -> StorageResult<bool> {
        let params = [
            (&a.id).into(),
            (&a.access_token).into(),
            (&a.refresh_token).into(),
            (&a.id_token).into(),
            a.access_token_expires_at.into(),
            a.refresh_token_expires_at.into(),
            (&a.scope).into(),
            a.updated_at.into(),
        ];
        self.write(|c| Ok(c.execute(&self.sql().accounts.update_tokens, &params)? > 0))
    }

    fn delete_account(&self, user_id: &str, id: &str) -> StorageResult<bool> {
        self.write(|c| Ok(c.execute(&self.sql().accounts.delete, &[user_id.into(), id.into()])? > 0))
    }

    fn set_password(
        &self,
        user_id: &str,
        hash: &str,
        now: OffsetDateTime,
        sessions: &SessionChange,
        end_reset_tokens: bool,
    ) -> StorageResult<()> {
        let done = self.transaction(|c| set_password_in(c, self.sql(), user_id, hash, now, sessions, end_reset_tokens));
        super::forget_user(self, user_id);
        done
    }
}
