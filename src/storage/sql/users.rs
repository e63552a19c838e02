//! `"user"` rows: the columns, the row mapper, the statements and [`UserStore`] (with the
//! username plugin's [`UsernameStore`]) for both databases. Sign-in's lookup of the user with
//! their credential account is one statement (a LEFT JOIN); deleting a user is one
//! transaction that also removes their sessions, accounts and the verification rows naming
//! them.

use time::OffsetDateTime;

use super::{accounts, columns, insert, select, Backend, Cols, Dialect, SqlResult, Value};
use crate::storage::models::{Account, AdminFields, User, UserUpdate};
use crate::storage::{StorageResult, UserStore, UsernameStore, VerifiedAddress};

/// Every column Sesame reads and writes, in the order of [`read`] and [`values`]. The username,
/// two-factor, admin and anonymous plugins' columns are here too: plugin migrations always run.
pub(super) const COLUMNS: [&str; 15] = [
    "id",
    "name",
    "email",
    "emailVerified",
    "image",
    "createdAt",
    "updatedAt",
    "username",
    "displayUsername",
    "twoFactorEnabled",
    "role",
    "banned",
    "banReason",
    "banExpires",
    "isAnonymous",
];

pub(super) fn read(c: &mut Cols<'_>) -> SqlResult<User> {
    Ok(User {
        id: c.text()?,
        name: c.text()?,
        email: c.text()?,
        email_verified: c.boolean()?,
        image: c.opt_text()?,
        created_at: c.date()?,
        updated_at: c.date()?,
        username: c.opt_text()?,
        display_username: c.opt_text()?,
        two_factor_enabled: c.opt_boolean()?,
        admin: AdminFields {
            role: c.opt_text()?,
            banned: opt_bool(c)?,
            ban_reason: c.opt_text()?,
            ban_expires: c.opt_date()?,
        },
        is_anonymous: opt_bool(c)?.unwrap_or(false),
    })
}

/// A nullable boolean column (Better Auth's `banned` is `defaultValue: false` but nullable,
/// and NULL in rows that predate the admin plugin).
fn opt_bool(c: &mut Cols<'_>) -> SqlResult<Option<bool>> {
    if c.next_is_null()? {
        c.skip(1);
        Ok(None)
    } else {
        c.boolean().map(Some)
    }
}

pub(super) fn values(u: &User) -> [Value<'_>; COLUMNS.len()] {
    [
        (&u.id).into(),
        (&u.name).into(),
        (&u.email).into(),
        u.email_verified.into(),
        (&u.image).into(),
        u.created_at.into(),
        u.updated_at.into(),
        (&u.username).into(),
        (&u.display_username).into(),
        u.two_factor_enabled.into(),
        (&u.admin.role).into(),
        u.admin.banned.into(),
        (&u.admin.ban_reason).into(),
        u.admin.ban_expires.into(),
        u.is_anonymous.into(),
    ]
}

/// The columns update-user may change, in the order of [`update_values`]: each is set only
/// when its flag is true, so a field can also be cleared (set to NULL).
const UPDATABLE: [&str; 10] = [
    "name",
    "image",
    "email",
    "emailVerified",
    "username",
    "displayUsername",
    "role",
    "banned",
    "banReason",
    "banExpires",
];

fn update_values(u: &UserUpdate) -> [(bool, Value<'_>); UPDATABLE.len()] {
    [
        (u.name.is_some(), (&u.name).into()),
        (
            u.image.is_some(),
            Value::OptText(u.image.as_ref().and_then(|i| i.as_deref())),
        ),
        (u.email.is_some(), (&u.email).into()),
        (u.email_verified.is_some(), u.email_verified.into()),
        (u.username.is_some(), (&u.username).into()),
        (u.display_username.is_some(), (&u.display_username).into()),
        (
            u.role.is_some(),
            Value::OptText(u.role.as_ref().and_then(|r| r.as_deref())),
        ),
        (u.banned.is_some(), Value::OptBool(u.banned.flatten())),
        (
            u.ban_reason.is_some(),
            Value::OptText(u.ban_reason.as_ref().and_then(|r| r.as_deref())),
        ),
        (u.ban_expires.is_some(), Value::OptDate(u.ban_expires.flatten())),
    ]
}

/// The parameters of [`UserSql::update`].
pub(super) fn update_params<'a>(id: &'a str, update: &'a UserUpdate, now: OffsetDateTime) -> Vec<Value<'a>> {
    let mut params = vec![Value::Text(id)];
    for (set, value) in update_values(update) {
        params.extend([Value::Bool(set), value]);
    }
    params.push(now.into());
    params
}

pub struct UserSql {
    pub insert: String,
    pub by_id: String,
    pub by_email: String,
    pub with_credential_by_email: String,
    pub with_credential_by_username: String,
    pub update: String,
    pub delete_accounts: String,
    pub delete_verifications: String,
    pub delete_two_factor: String,
    pub delete: String,
    pub exists: String,
    pub any: String,
    pub all: String,
}

impl UserSql {
    pub(super) fn new(d: Dialect) -> UserSql {
        // $1 is the user's id; then a (set?, value) pair per updatable column; then updatedAt.
        let sets: Vec<String> = UPDATABLE
            .iter()
            .enumerate()
            .map(|(i, col)| {
                format!(
                    r#""{col}" = case when ${} then ${} else "{col}" end"#,
                    2 + 2 * i,
                    3 + 2 * i
                )
            })
            .collect();
        let update = format!(
            r#"update "user" set {}, "updatedAt" = ${} where "id" = $1 returning {}"#,
            sets.join(", "),
            2 + 2 * UPDATABLE.len(),
            columns("", &COLUMNS)
        );
        UserSql {
            insert: insert(d, "user", &COLUMNS),
            by_id: select(d, &COLUMNS, "user", r#"where "id" = $1"#),
            by_email: select(d, &COLUMNS, "user", r#"where "email" = $1"#),
            with_credential_by_email: with_credential(d, "email"),
            with_credential_by_username: with_credential(d, "username"),
            update: d.render(&update),
            // Explicit deletes rather than the cascades, which a hand-made schema might lack;
            // children first (sessions: `SessionSql::delete_all_of_user`), so that foreign
            // keys without a cascade do not refuse the user's.
            delete_accounts: d.render(r#"delete from "account" where "userId" = $1"#),
            delete_verifications: d.render(
                r#"delete from "verification" where "value" = $1 and exists (select 1 from "user" where "id" = $1)"#,
            ),
            delete_two_factor: d.render(r#"delete from "twoFactor" where "userId" = $1"#),
            delete: d.render(r#"delete from "user" where "id" = $1"#),
            exists: d.render(r#"select exists (select 1 from "user" where "id" = $1)"#),
            any: d.render(r#"select exists (select 1 from "user")"#),
            all: select(d, &COLUMNS, "user", r#"order by "createdAt", "id""#),
        }
    }
}

/// The user with their credential account, selected by `key` (email or username).
fn with_credential(d: Dialect, key: &str) -> String {
    d.render(&format!(
        r#"select {}, {}
    from "user" u
    left join "account" a on a."userId" = u."id" and a."providerId" = 'credential'
        and a."issuer" = 'local:credential' and a."accountId" = u."id"
    where u."{key}" = {}"#,
        columns("u", &COLUMNS),
        columns("a", &accounts::COLUMNS),
        d.key(1)
    ))
}

/// Maps a [`with_credential`] row: the user, and the account unless the join found none.
fn user_with_credential(c: &mut Cols<'_>) -> SqlResult<(User, Option<Account>)> {
    let user = read(c)?;
    let account = if c.next_is_null()? {
        c.skip(accounts::COLUMNS.len());
        None
    } else {
        Some(accounts::read(c)?)
    };
    Ok((user, account))
}

impl<B: Backend> UserStore for B {
    fn create_user_with_account(&self, user: &User, account: &Account) -> StorageResult<()> {
        let sql = &self.sql().users;
        let account_sql = &self.sql().accounts;
        self.transaction(|c| {
            c.execute(&sql.insert, &values(user))?;
            c.execute(&account_sql.insert, &accounts::values(account))?;
            Ok(())
        })
    }

    fn find_user_by_id(&self, id: &str) -> StorageResult<Option<User>> {
        self.read(|c| c.first(&self.sql().users.by_id, &[id.into()], read))
    }

    fn find_user_by_email(&self, email: &str) -> StorageResult<Option<User>> {
        self.read(|c| c.first(&self.sql().users.by_email, &[email.into()], read))
    }

    fn find_user_with_credential(&self, email: &str) -> StorageResult<Option<(User, Option<Account>)>> {
        self.read(|c| {
            c.first(
                &self.sql().users.with_credential_by_email,
                &[email.into()],
                user_with_credential,
            )
        })
    }

    fn update_user(&self, id: &str, update: &UserUpdate, now: OffsetDateTime) -> StorageResult<Option<User>> {
        let params = update_params(id, update, now);
        let sql = self.sql();
        let updated = if update.email.is_none() {
            self.write(|c| c.first(&sql.users.update, &params, read))
        } else {
            // A new address ends the reset tokens mailed to the old one, in one transaction.
            self.transaction(|c| {
                let user = c.first(&sql.users.update, &params, read)?;
                if user.is_some() {
                    super::verifications::end_reset_tokens(c, sql, id)?;
                }
                Ok(user)
            })
        };
        super::forget_user(self, id);
        updated
    }

    fn delete_user(&self, id: &str) -> StorageResult<bool> {
        let sql = self.sql();
        let deleted = self.transaction(|c| {
            for statement in [
                &sql.sessions.delete_all_of_user,
                &sql.users.delete_accounts,
                &sql.users.delete_verifications,
                &sql.users.delete_two_factor,
            ] {
                c.execute(statement, &[id.into()])?;
            }
            Ok(c.execute(&sql.users.delete, &[id.into()])? > 0)
        });
        super::forget_user(self, id);
        deleted
    }

    fn verify_address(&self, user_id: &str, now: OffsetDateTime) -> StorageResult<Option<VerifiedAddress>> {
        let verified = super::claim::verify_address(self, user_id, now);
        super::forget_user(self, user_id);
        verified
    }

    fn revoke_unproven_account_access(&self, user_id: &str, now: OffsetDateTime) -> StorageResult<Option<User>> {
        super::claim::revoke_unproven_account_access(self, user_id, now)
    }
}

impl<B: Backend> UsernameStore for B {
    fn find_user_with_credential_by_username(&self, username: &str) -> StorageResult<Option<(User, Option<Account>)>> {
        self.read(|c| {
            c.first(
                &self.sql().users.with_credential_by_username,
                &[username.into()],
                user_with_credential,
            )
        })
    }
}
