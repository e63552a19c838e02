//! `"user"` rows: SQL and row mapping for [`UserStore`]. Sign-in's lookup of the user with
//! their credential account is one query (a LEFT JOIN), and deleting a user is one statement
//! that also removes their sessions, accounts and the verification rows naming them.

use postgres::Row;
use time::OffsetDateTime;

use super::accounts::{self, account_at, INSERT_ACCOUNT};
use super::PgStorage;
use crate::auth::models::{Account, User, UserUpdate};
use crate::storage::{StorageResult, UserStore};

/// Column order every user query selects, mapped by [`user_at`].
pub(super) const USER_COLUMNS: usize = 9;

/// The user whose columns start at `at`: id, name, email, emailVerified, image, createdAt,
/// updatedAt, username, displayUsername (the username plugin's columns always exist: plugin
/// migrations always run).
pub(super) fn user_at(row: &Row, at: usize) -> Result<User, postgres::Error> {
    Ok(User {
        id: row.try_get(at)?,
        name: row.try_get(at + 1)?,
        email: row.try_get(at + 2)?,
        email_verified: row.try_get(at + 3)?,
        image: row.try_get(at + 4)?,
        created_at: row.try_get(at + 5)?,
        updated_at: row.try_get(at + 6)?,
        username: row.try_get(at + 7)?,
        display_username: row.try_get(at + 8)?,
    })
}

pub(super) const INSERT_USER: &str = r#"insert into "user" ("id", "name", "email", "emailVerified", "image", "createdAt", "updatedAt",
    "username", "displayUsername")
    values ($1, $2, $3, $4, $5, $6, $7, $8, $9)"#;

const BY_ID: &str = r#"select "id", "name", "email", "emailVerified", "image", "createdAt", "updatedAt",
    "username", "displayUsername" from "user" where "id" = $1"#;

const BY_EMAIL: &str = r#"select "id", "name", "email", "emailVerified", "image", "createdAt", "updatedAt",
    "username", "displayUsername" from "user" where "email" = $1"#;

/// The user with their credential account, selected by `{key}` (email or username).
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
            r##"" = $1"##
        )
    };
}
pub(super) use with_credential;

const WITH_CREDENTIAL: &str = with_credential!("email");

// $3 says whether to set the image at all ($4 may be null: clearing it).
const UPDATE: &str = r#"update "user" set
    "name" = coalesce($2, "name"),
    "image" = case when $3 then $4 else "image" end,
    "email" = coalesce($5, "email"),
    "emailVerified" = coalesce($6, "emailVerified"),
    "updatedAt" = $7,
    "username" = coalesce($8, "username"),
    "displayUsername" = coalesce($9, "displayUsername")
    where "id" = $1
    returning "id", "name", "email", "emailVerified", "image", "createdAt", "updatedAt", "username", "displayUsername""#;

// One statement, so atomic; explicit deletes rather than relying on the cascades, which a
// hand-made schema might lack.
const DELETE: &str = r#"with u as (delete from "user" where "id" = $1 returning "id"),
    s as (delete from "session" where "userId" = $1 and exists (select 1 from u)),
    a as (delete from "account" where "userId" = $1 and exists (select 1 from u)),
    v as (delete from "verification" where "value" = $1 and exists (select 1 from u))
    select count(*) from u"#;

impl UserStore for PgStorage {
    fn create_user_with_account(&self, user: &User, account: &Account) -> StorageResult<()> {
        self.run(|c| {
            let (insert_user, insert_account) = (c.stmt(INSERT_USER)?, c.stmt(INSERT_ACCOUNT)?);
            let mut tx = c.client.transaction()?;
            tx.execute(
                &insert_user,
                &[
                    &user.id,
                    &user.name,
                    &user.email,
                    &user.email_verified,
                    &user.image,
                    &user.created_at,
                    &user.updated_at,
                    &user.username,
                    &user.display_username,
                ],
            )?;
            accounts::insert(&mut tx, &insert_account, account)?;
            tx.commit()
        })
    }

    fn find_user_by_id(&self, id: &str) -> StorageResult<Option<User>> {
        self.run(|c| {
            let st = c.stmt(BY_ID)?;
            c.client.query_opt(&st, &[&id])?.map(|r| user_at(&r, 0)).transpose()
        })
    }

    fn find_user_by_email(&self, email: &str) -> StorageResult<Option<User>> {
        self.run(|c| {
            let st = c.stmt(BY_EMAIL)?;
            c.client.query_opt(&st, &[&email])?.map(|r| user_at(&r, 0)).transpose()
        })
    }

    fn find_user_with_credential(&self, email: &str) -> StorageResult<Option<(User, Option<Account>)>> {
        self.run(|c| find_with_credential(c, WITH_CREDENTIAL, email))
    }

    fn update_user(&self, id: &str, update: &UserUpdate, now: OffsetDateTime) -> StorageResult<Option<User>> {
        self.run(|c| {
            let st = c.stmt(UPDATE)?;
            let set_image = update.image.is_some();
            let image = update.image.clone().flatten();
            c.client
                .query_opt(
                    &st,
                    &[
                        &id,
                        &update.name,
                        &set_image,
                        &image,
                        &update.email,
                        &update.email_verified,
                        &now,
                        &update.username,
                        &update.display_username,
                    ],
                )?
                .map(|r| user_at(&r, 0))
                .transpose()
        })
    }

    fn delete_user(&self, id: &str) -> StorageResult<bool> {
        self.run(|c| {
            let st = c.stmt(DELETE)?;
            let n: i64 = c.client.query_one(&st, &[&id])?.try_get(0)?;
            Ok(n > 0)
        })
    }
}

/// Runs a [`with_credential!`] query and maps the user and their optional account.
pub(super) fn find_with_credential(
    c: &mut super::pool::PgConn,
    sql: &'static str,
    key: &str,
) -> Result<Option<(User, Option<Account>)>, postgres::Error> {
    let st = c.stmt(sql)?;
    let Some(row) = c.client.query_opt(&st, &[&key])? else {
        return Ok(None);
    };
    let user = user_at(&row, 0)?;
    let account_id: Option<String> = row.try_get(USER_COLUMNS)?;
    let account = match account_id {
        Some(_) => Some(account_at(&row, USER_COLUMNS)?),
        None => None,
    };
    Ok(Some((user, account)))
}
