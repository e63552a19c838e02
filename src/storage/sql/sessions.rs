//! `session` rows: the columns, the row mapper, the statements and [`SessionStore`] for both
//! databases. get-session's lookup is one statement on the unique token index joined to the
//! user by primary key.

use time::OffsetDateTime;

use super::{columns, forget_session, forget_user, insert, select, users, Backend, Cols, Dialect, SqlResult, Value};
use crate::storage::models::{Session, User};
use crate::storage::{SessionStore, StorageResult};

/// Every column, in the order of [`read`] and [`values`]. `dontRememberMe` is Sesame's: a
/// `rememberMe: false` session's short lifetime belongs to its row.
pub(super) const COLUMNS: [&str; 10] = [
    "id",
    "token",
    "userId",
    "expiresAt",
    "createdAt",
    "updatedAt",
    "ipAddress",
    "userAgent",
    "dontRememberMe",
    "impersonatedBy",
];

pub(super) fn read(c: &mut Cols<'_>) -> SqlResult<Session> {
    Ok(Session {
        id: c.text()?,
        token: c.text()?,
        user_id: c.text()?,
        expires_at: c.date()?,
        created_at: c.date()?,
        updated_at: c.date()?,
        ip_address: c.opt_text()?,
        user_agent: c.opt_text()?,
        dont_remember_me: c.boolean()?,
        impersonated_by: c.opt_text()?,
    })
}

pub(super) fn values(s: &Session) -> [Value<'_>; COLUMNS.len()] {
    [
        (&s.id).into(),
        (&s.token).into(),
        (&s.user_id).into(),
        s.expires_at.into(),
        s.created_at.into(),
        s.updated_at.into(),
        (&s.ip_address).into(),
        (&s.user_agent).into(),
        s.dont_remember_me.into(),
        (&s.impersonated_by).into(),
    ]
}

pub struct SessionSql {
    pub insert: String,
    pub with_user: String,
    pub refresh: String,
    pub list_of_user: String,
    pub delete: String,
    pub delete_of_user: String,
    pub delete_all_of_user: String,
    pub delete_others: String,
    pub all: String,
}

impl SessionSql {
    pub(super) fn new(d: Dialect) -> SessionSql {
        let cols = columns("", &COLUMNS);
        SessionSql {
            insert: insert(d, "session", &COLUMNS),
            with_user: d.render(&format!(
                r#"select {}, {}
    from "session" s join "user" u on u."id" = s."userId"
    where s."token" = {}"#,
                columns("s", &COLUMNS),
                columns("u", &users::COLUMNS),
                d.key(1)
            )),
            refresh: d.render(&format!(
                r#"update "session" set "expiresAt" = $2, "updatedAt" = $3 where "token" = $1 returning {cols}"#
            )),
            list_of_user: select(
                d,
                &COLUMNS,
                "session",
                r#"where "userId" = $1 order by "createdAt", "id""#,
            ),
            delete: d.render(r#"delete from "session" where "token" = $1"#),
            delete_of_user: d.render(r#"delete from "session" where "token" = $2 and "userId" = $1"#),
            delete_all_of_user: d.render(r#"delete from "session" where "userId" = $1"#),
            delete_others: d.render(r#"delete from "session" where "userId" = $1 and "token" <> $2"#),
            all: select(d, &COLUMNS, "session", r#"order by "createdAt", "id""#),
        }
    }
}

impl<B: Backend> SessionStore for B {
    fn create_session(&self, session: &Session) -> StorageResult<()> {
        self.write(|c| c.execute(&self.sql().sessions.insert, &values(session)).map(|_| ()))
    }

    fn find_session_with_user(&self, token: &str) -> StorageResult<Option<(Session, User)>> {
        let ticket = match self.session_cache().map(|cache| cache.get(token)) {
            Some(Ok(hit)) => return Ok(Some(hit)),
            Some(Err(ticket)) => ticket,
            None => None,
        };
        let found = self.read(|c| {
            c.first(&self.sql().sessions.with_user, &[token.into()], |c| {
                Ok((read(c)?, users::read(c)?))
            })
        })?;
        if let (Some(cache), Some(ticket), Some((session, user))) = (self.session_cache(), ticket, &found) {
            cache.fill(ticket, session, user);
        }
        Ok(found)
    }

    fn refresh_session(
        &self,
        token: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StorageResult<Option<Session>> {
        let refreshed = self.write(|c| {
            c.first(
                &self.sql().sessions.refresh,
                &[token.into(), expires_at.into(), now.into()],
                read,
            )
        });
        forget_session(self, token);
        refreshed
    }

    fn list_user_sessions(&self, user_id: &str) -> StorageResult<Vec<Session>> {
        self.read(|c| c.all(&self.sql().sessions.list_of_user, &[user_id.into()], read))
    }

    fn delete_session(&self, token: &str) -> StorageResult<()> {
        let done = self.write(|c| c.execute(&self.sql().sessions.delete, &[token.into()]).map(|_| ()));
        forget_session(self, token);
        done
    }

    fn delete_user_session(&self, user_id: &str, token: &str) -> StorageResult<bool> {
        let done =
            self.write(|c| Ok(c.execute(&self.sql().sessions.delete_of_user, &[user_id.into(), token.into()])? > 0));
        forget_session(self, token);
        done
    }

    fn delete_user_sessions(&self, user_id: &str) -> StorageResult<()> {
        let done = self.write(|c| {
            c.execute(&self.sql().sessions.delete_all_of_user, &[user_id.into()])
                .map(|_| ())
        });
        forget_user(self, user_id);
        done
    }

    fn delete_other_sessions(&self, user_id: &str, keep_token: &str) -> StorageResult<()> {
        let done = self.write(|c| {
            c.execute(&self.sql().sessions.delete_others, &[user_id.into(), keep_token.into()])
                .map(|_| ())
        });
        forget_user(self, user_id);
        done
    }
}
