//! `"user"` rows: SQL and row mapping for [`UserStore`]. Sign-in's lookup of the user with
//! their credential account is one statement (a LEFT JOIN); deleting a user is one
//! transaction that also removes their sessions, accounts and the verification rows naming them.

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior};
use time::OffsetDateTime;

use super::accounts::{self, account_at};
use super::values::{date, iso};
use super::SqliteStorage;
use crate::auth::models::{Account, User, UserUpdate};
use crate::storage::{StorageResult, UserStore};

/// Column count of [`user_at`]'s layout.
pub(super) const USER_COLUMNS: usize = 9;

/// The user whose columns start at `at`: id, name, email, emailVerified, image, createdAt,
/// updatedAt, username, displayUsername (the username plugin's columns always exist: plugin
/// migrations always run).
pub(super) fn user_at(row: &Row, at: usize) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(at)?,
        name: row.get(at + 1)?,
        email: row.get(at + 2)?,
        email_verified: row.get(at + 3)?,
        image: row.get(at + 4)?,
        created_at: date(row, at + 5)?,
        updated_at: date(row, at + 6)?,
        username: row.get(at + 7)?,
        display_username: row.get(at + 8)?,
    })
}

const INSERT_USER: &str = r#"insert into "user" ("id", "name", "email", "emailVerified", "image", "createdAt", "updatedAt",
    "username", "displayUsername")
    values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"#;

const BY_ID: &str = r#"select "id", "name", "email", "emailVerified", "image", "createdAt", "updatedAt",
    "username", "displayUsername" from "user" where "id" = ?1"#;

const BY_EMAIL: &str = r#"select "id", "name", "email", "emailVerified", "image", "createdAt", "updatedAt",
    "username", "displayUsername" from "user" where "email" = ?1"#;

/// The user with their credential account, selected by `{key}` (email or username). The
/// parameter is cast for the reason given at `sessions::WITH_USER` (no re-prepare per call).
macro_rules! with_credential {
    ($key:literal) => {
        concat!(
            r##"select u."id", u."name", u."email", u."emailVerified", u."image", u."createdAt", u."updatedAt",
    u."username", u."displayUsername",
    a."id", a."issuer", a."accountId", a."providerId", a."userId", a."accessToken", a."refreshToken", a."idToken",
    a."accessTokenExpiresAt", a."refreshTokenExpiresAt", a."scope", a."password", a."createdAt", a."updatedAt"
    from "user" u
    left join "account" a on a."userId" = u."id" and a."providerId" = 'credential'
        and a."issuer" = 'local:credential' and a."accountId" = u."id"
    where u.""##,
            $key,
            r##"" = cast(?1 as text)"##
        )
    };
}
pub(super) use with_credential;

const WITH_CREDENTIAL: &str = with_credential!("email");

// ?3 says whether to set the image at all (?4 may be null: clearing it).
const UPDATE: &str = r#"update "user" set
    "name" = coalesce(?2, "name"),
    "image" = case when ?3 then ?4 else "image" end,
    "email" = coalesce(?5, "email"),
    "emailVerified" = coalesce(?6, "emailVerified"),
    "updatedAt" = ?7,
    "username" = coalesce(?8, "username"),
    "displayUsername" = coalesce(?9, "displayUsername")
    where "id" = ?1
    returning "id", "name", "email", "emailVerified", "image", "createdAt", "updatedAt", "username", "displayUsername""#;

// Explicit deletes rather than relying on the cascades, which a hand-made schema might lack;
// children first, so that foreign keys without a cascade do not refuse the user's delete.
const DELETE_SESSIONS: &str = r#"delete from "session" where "userId" = ?1"#;
const DELETE_ACCOUNTS: &str = r#"delete from "account" where "userId" = ?1"#;
const DELETE_VERIFICATIONS: &str = r#"delete from "verification" where "value" = ?1"#;
const DELETE_USER: &str = r#"delete from "user" where "id" = ?1"#;

impl UserStore for SqliteStorage {
    fn create_user_with_account(&self, user: &User, account: &Account) -> StorageResult<()> {
        self.write(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.prepare_cached(INSERT_USER)?.execute((
                &user.id,
                &user.name,
                &user.email,
                user.email_verified,
                &user.image,
                iso(user.created_at),
                iso(user.updated_at),
                &user.username,
                &user.display_username,
            ))?;
            accounts::insert(&tx, account)?;
            tx.commit()
        })
    }

    fn find_user_by_id(&self, id: &str) -> StorageResult<Option<User>> {
        self.read(|c| c.prepare_cached(BY_ID)?.query_row([id], |r| user_at(r, 0)).optional())
    }

    fn find_user_by_email(&self, email: &str) -> StorageResult<Option<User>> {
        self.read(|c| {
            c.prepare_cached(BY_EMAIL)?
                .query_row([email], |r| user_at(r, 0))
                .optional()
        })
    }

    fn find_user_with_credential(&self, email: &str) -> StorageResult<Option<(User, Option<Account>)>> {
        self.read(|c| find_with_credential(c, WITH_CREDENTIAL, email))
    }

    fn update_user(&self, id: &str, update: &UserUpdate, now: OffsetDateTime) -> StorageResult<Option<User>> {
        let set_image = update.image.is_some();
        let image = update.image.clone().flatten();
        self.write(|c| {
            c.prepare_cached(UPDATE)?
                .query_row(
                    (
                        id,
                        &update.name,
                        set_image,
                        &image,
                        &update.email,
                        update.email_verified,
                        iso(now),
                        &update.username,
                        &update.display_username,
                    ),
                    |r| user_at(r, 0),
                )
                .optional()
        })
    }

    fn delete_user(&self, id: &str) -> StorageResult<bool> {
        self.write(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for sql in [DELETE_SESSIONS, DELETE_ACCOUNTS, DELETE_VERIFICATIONS] {
                tx.prepare_cached(sql)?.execute([id])?;
            }
            let deleted = tx.prepare_cached(DELETE_USER)?.execute([id])? > 0;
            if deleted {
                tx.commit()?;
            }
            // Dropping the transaction otherwise rolls back: no user, nothing deleted.
            Ok(deleted)
        })
    }
}

/// Runs a [`with_credential!`] query and maps the user and their optional account.
pub(super) fn find_with_credential(
    c: &Connection,
    sql: &'static str,
    key: &str,
) -> rusqlite::Result<Option<(User, Option<Account>)>> {
    c.prepare_cached(sql)?
        .query_row([key], |row| {
            let user = user_at(row, 0)?;
            let account_id: Option<String> = row.get(USER_COLUMNS)?;
            let account = match account_id {
                Some(_) => Some(account_at(row, USER_COLUMNS)?),
                None => None,
            };
            Ok((user, account))
        })
        .optional()
}
