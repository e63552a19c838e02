//! `session` rows: SQL and row mapping for [`SessionStore`]. get-session's lookup is one
//! query on the unique token index joined to the user.

use postgres::{GenericClient, Row, Statement};
use time::OffsetDateTime;

use super::users::user_at;
use super::PgStorage;
use crate::auth::models::{Session, User};
use crate::storage::{SessionStore, StorageResult};

/// Column count of [`session_at`]'s layout.
const SESSION_COLUMNS: usize = 8;

/// The session whose columns start at `at`: id, token, userId, expiresAt, createdAt,
/// updatedAt, ipAddress, userAgent.
fn session_at(row: &Row, at: usize) -> Result<Session, postgres::Error> {
    Ok(Session {
        id: row.try_get(at)?,
        token: row.try_get(at + 1)?,
        user_id: row.try_get(at + 2)?,
        expires_at: row.try_get(at + 3)?,
        created_at: row.try_get(at + 4)?,
        updated_at: row.try_get(at + 5)?,
        ip_address: row.try_get(at + 6)?,
        user_agent: row.try_get(at + 7)?,
    })
}

pub(super) const INSERT_SESSION: &str = r#"insert into "session"
    ("id", "token", "userId", "expiresAt", "createdAt", "updatedAt", "ipAddress", "userAgent")
    values ($1, $2, $3, $4, $5, $6, $7, $8)"#;

/// Deletes every session of a user.
pub(super) const DELETE_USER_SESSIONS: &str = r#"delete from "session" where "userId" = $1"#;

const WITH_USER: &str = r#"select s."id", s."token", s."userId", s."expiresAt", s."createdAt", s."updatedAt",
    s."ipAddress", s."userAgent",
    u."id", u."name", u."email", u."emailVerified", u."image", u."createdAt", u."updatedAt",
    u."username", u."displayUsername"
    from "session" s join "user" u on u."id" = s."userId"
    where s."token" = $1"#;

const REFRESH: &str = r#"update "session" set "expiresAt" = $2, "updatedAt" = $3 where "token" = $1
    returning "id", "token", "userId", "expiresAt", "createdAt", "updatedAt", "ipAddress", "userAgent""#;

const LIST: &str = r#"select "id", "token", "userId", "expiresAt", "createdAt", "updatedAt", "ipAddress", "userAgent"
    from "session" where "userId" = $1 order by "createdAt", "id""#;

const DELETE: &str = r#"delete from "session" where "token" = $1"#;
const DELETE_OF_USER: &str = r#"delete from "session" where "token" = $2 and "userId" = $1"#;
const DELETE_OTHERS: &str = r#"delete from "session" where "userId" = $1 and "token" <> $2"#;

/// Inserts a session with a prepared [`INSERT_SESSION`].
pub(super) fn insert(client: &mut impl GenericClient, st: &Statement, s: &Session) -> Result<u64, postgres::Error> {
    client.execute(
        st,
        &[
            &s.id,
            &s.token,
            &s.user_id,
            &s.expires_at,
            &s.created_at,
            &s.updated_at,
            &s.ip_address,
            &s.user_agent,
        ],
    )
}

impl SessionStore for PgStorage {
    fn create_session(&self, session: &Session) -> StorageResult<()> {
        self.run(|c| {
            let st = c.stmt(INSERT_SESSION)?;
            insert(&mut c.client, &st, session).map(|_| ())
        })
    }

    fn find_session_with_user(&self, token: &str) -> StorageResult<Option<(Session, User)>> {
        self.run(|c| {
            let st = c.stmt(WITH_USER)?;
            c.client
                .query_opt(&st, &[&token])?
                .map(|r| Ok((session_at(&r, 0)?, user_at(&r, SESSION_COLUMNS)?)))
                .transpose()
        })
    }

    fn refresh_session(
        &self,
        token: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StorageResult<Option<Session>> {
        self.run(|c| {
            let st = c.stmt(REFRESH)?;
            c.client
                .query_opt(&st, &[&token, &expires_at, &now])?
                .map(|r| session_at(&r, 0))
                .transpose()
        })
    }

    fn list_user_sessions(&self, user_id: &str) -> StorageResult<Vec<Session>> {
        self.run(|c| {
            let st = c.stmt(LIST)?;
            c.client
                .query(&st, &[&user_id])?
                .iter()
                .map(|r| session_at(r, 0))
                .collect()
        })
    }

    fn delete_session(&self, token: &str) -> StorageResult<()> {
        self.run(|c| {
            let st = c.stmt(DELETE)?;
            c.client.execute(&st, &[&token]).map(|_| ())
        })
    }

    fn delete_user_session(&self, user_id: &str, token: &str) -> StorageResult<bool> {
        self.run(|c| {
            let st = c.stmt(DELETE_OF_USER)?;
            Ok(c.client.execute(&st, &[&user_id, &token])? > 0)
        })
    }

    fn delete_user_sessions(&self, user_id: &str) -> StorageResult<()> {
        self.run(|c| {
            let st = c.stmt(DELETE_USER_SESSIONS)?;
            c.client.execute(&st, &[&user_id]).map(|_| ())
        })
    }

    fn delete_other_sessions(&self, user_id: &str, keep_token: &str) -> StorageResult<()> {
        self.run(|c| {
            let st = c.stmt(DELETE_OTHERS)?;
            c.client.execute(&st, &[&user_id, &keep_token]).map(|_| ())
        })
    }
}
