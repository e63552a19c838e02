//! Proof of an address, for both databases: [`UserStore::verify_address`],
//! [`UserStore::revoke_unproven_account_access`] and the part of
//! `reset_password` that acts on it ([`claim_in`], inside the caller's transaction). The user
//! row is locked first (PostgreSQL `FOR UPDATE`; SQLite's write transaction holds the database),
//! so a sign-in adding an account to the user at the same moment is ordered before or after.

use time::OffsetDateTime;

use super::{columns, users, Backend, Conn, Dialect, SqlResult, Statements};
#[cfg(doc)]
use crate::storage::UserStore;
use crate::storage::{StorageResult, VerifiedAddress};

pub struct ClaimSql {
    pub lock_verified: String,
    pub delete_provider_accounts: String,
    pub delete_all_accounts: String,
    pub mark_verified: String,
}

impl ClaimSql {
    pub(super) fn new(d: Dialect) -> ClaimSql {
        let lock = match d {
            Dialect::Postgres => " for update",
            Dialect::Sqlite => "",
        };
        ClaimSql {
            lock_verified: d.render(&format!(r#"select "emailVerified" from "user" where "id" = $1{lock}"#)),
            // Every account but the credential one (`Account::is_credential`).
            delete_provider_accounts: d.render(
                r#"delete from "account" where "userId" = $1
    and not ("providerId" = 'credential' and "issuer" = 'local:credential' and "accountId" = "userId")"#,
            ),
            delete_all_accounts: d.render(r#"delete from "account" where "userId" = $1"#),
            mark_verified: d.render(&format!(
                r#"update "user" set "emailVerified" = $2, "updatedAt" = $3 where "id" = $1 returning {}"#,
                columns("", &users::COLUMNS)
            )),
        }
    }
}

/// See [`UserStore::verify_address`]; `revoke_all` revokes the sessions even when no provider
/// account was deleted (a password reset).
pub(super) fn claim_in(
    c: &mut dyn Conn,
    sql: &'static Statements,
    user_id: &str,
    now: OffsetDateTime,
    revoke_all: bool,
) -> SqlResult<Option<VerifiedAddress>> {
    let Some(verified) = c.first(&sql.claim.lock_verified, &[user_id.into()], |c| c.boolean())? else {
        return Ok(None);
    };
    if verified {
        let user = c.first(&sql.users.by_id, &[user_id.into()], users::read)?;
        return Ok(user.map(|user| VerifiedAddress {
            user,
            removed_accounts: 0,
        }));
    }
    let removed_accounts = c.execute(&sql.claim.delete_provider_accounts, &[user_id.into()])?;
    let user = c.first(
        &sql.claim.mark_verified,
        &[user_id.into(), true.into(), now.into()],
        users::read,
    )?;
    if removed_accounts > 0 || revoke_all {
        c.execute(&sql.sessions.delete_all_of_user, &[user_id.into()])?;
    }
    Ok(user.map(|user| VerifiedAddress { user, removed_accounts }))
}

/// [`UserStore::verify_address`] for a SQL backend.
pub(super) fn verify_address<B: Backend>(
    b: &B,
    user_id: &str,
    now: OffsetDateTime,
) -> StorageResult<Option<VerifiedAddress>> {
    let sql = b.sql();
    b.transaction(|c| claim_in(c, sql, user_id, now, false))
}

/// [`UserStore::revoke_unproven_account_access`] for a SQL backend: the user row locked
/// first, as for [`verify_address`].
pub(super) fn revoke_unproven_account_access<B: Backend>(
    b: &B,
    user_id: &str,
    now: OffsetDateTime,
) -> StorageResult<Option<crate::storage::models::User>> {
    let sql = b.sql();
    b.transaction(|c| {
        let Some(verified) = c.first(&sql.claim.lock_verified, &[user_id.into()], |c| c.boolean())? else {
            return Ok(None);
        };
        if verified {
            return c.first(&sql.users.by_id, &[user_id.into()], users::read);
        }
        c.execute(&sql.claim.delete_all_accounts, &[user_id.into()])?;
        c.execute(&sql.sessions.delete_all_of_user, &[user_id.into()])?;
        c.first(
            &sql.claim.mark_verified,
            &[user_id.into(), true.into(), now.into()],
            users::read,
        )
    })
}
