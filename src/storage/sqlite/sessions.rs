//! `session` rows: SQL and row mapping for [`SessionStore`]. get-session's lookup is one
//! statement on the unique token index joined to the user by primary key.

use rusqlite::{Connection, OptionalExtension, Row};
use time::OffsetDateTime;

use super::users::user_at;
use super::values::{date, iso};
use super::SqliteStorage;
use crate::auth::models::{Session, User};
use crate::storage::{SessionStore, StorageResult};

/// Column count of [`session_at`]'s layout.
const SESSION_COLUMNS: usize = 8;

/// The session whose columns start at `at`: id, token, userId, expiresAt, createdAt,
/// updatedAt, ipAddress, userAgent.
pub(super) fn session_at(row: &Row, at: usize) -> rusqlite::Result<Session> {
    Ok(Session {
        id: row.get(at)?,
        token: row.get(at + 1)?,
        user_id: row.get(at + 2)?,
        expires_at: date(row, at + 3)?,
        created_at: date(row, at + 4)?,
        updated_at: date(row, at + 5)?,
        ip_address: row.get(at + 6)?,
        user_agent: row.get(at + 7)?,
    })
}

const INSERT_SESSION: &str = r#"insert into "session"
    ("id", "token", "userId", "expiresAt", "createdAt", "updatedAt", "ipAddress", "userAgent")
    values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"#;

/// Deletes every session of a user.
pub(super) const DELETE_USER_SESSIONS: &str = r#"delete from "session" where "userId" = ?1"#;

// `cast(?1 as text)`, not a bare `?1`: SQLite's constant propagation through a join marks a
// bare parameter as plan-relevant, so every execution with a new value would re-prepare the
// statement (measured: 32k instead of 250k lookups per second on one thread). The cast keeps
// the unique index.
const WITH_USER: &str = r#"select s."id", s."token", s."userId", s."expiresAt", s."createdAt", s."updatedAt",
    s."ipAddress", s."userAgent",
    u."id", u."name", u."email", u."emailVerified", u."image", u."createdAt", u."updatedAt",
    u."username", u."displayUsername"
    from "session" s join "user" u on u."id" = s."userId"
    where s."token" = cast(?1 as text)"#;

const REFRESH: &str = r#"update "session" set "expiresAt" = ?2, "updatedAt" = ?3 where "token" = ?1
    returning "id", "token", "userId", "expiresAt", "createdAt", "updatedAt", "ipAddress", "userAgent""#;

const LIST: &str = r#"select "id", "token", "userId", "expiresAt", "createdAt", "updatedAt", "ipAddress", "userAgent"
    from "session" where "userId" = ?1 order by "createdAt", "id""#;

const DELETE: &str = r#"delete from "session" where "token" = ?1"#;
const DELETE_OF_USER: &str = r#"delete from "session" where "token" = ?2 and "userId" = ?1"#;
const DELETE_OTHERS: &str = r#"delete from "session" where "userId" = ?1 and "token" <> ?2"#;

/// Inserts a session.
pub(super) fn insert(c: &Connection, s: &Session) -> rusqlite::Result<usize> {
    c.prepare_cached(INSERT_SESSION)?.execute((
        &s.id,
        &s.token,
        &s.user_id,
        iso(s.expires_at),
        iso(s.created_at),
        iso(s.updated_at),
        &s.ip_address,
        &s.user_agent,
    ))
}

impl SessionStore for SqliteStorage {
    fn create_session(&self, session: &Session) -> StorageResult<()> {
        self.write(|c| insert(c, session).map(|_| ()))
    }

    fn find_session_with_user(&self, token: &str) -> StorageResult<Option<(Session, User)>> {
        self.read(|c| {
            c.prepare_cached(WITH_USER)?
                .query_row([token], |r| Ok((session_at(r, 0)?, user_at(r, SESSION_COLUMNS)?)))
                .optional()
        })
    }

    fn refresh_session(
        &self,
        token: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StorageResult<Option<Session>> {
        self.write(|c| {
            c.prepare_cached(REFRESH)?
                .query_row((token, iso(expires_at), iso(now)), |r| session_at(r, 0))
                .optional()
        })
    }

    fn list_user_sessions(&self, user_id: &str) -> StorageResult<Vec<Session>> {
        self.read(|c| {
            let mut st = c.prepare_cached(LIST)?;
            let rows = st.query_map([user_id], |r| session_at(r, 0))?.collect();
            rows
        })
    }

    fn delete_session(&self, token: &str) -> StorageResult<()> {
        self.write(|c| c.prepare_cached(DELETE)?.execute([token]).map(|_| ()))
    }

    fn delete_user_session(&self, user_id: &str, token: &str) -> StorageResult<bool> {
        self.write(|c| Ok(c.prepare_cached(DELETE_OF_USER)?.execute([user_id, token])? > 0))
    }

    fn delete_user_sessions(&self, user_id: &str) -> StorageResult<()> {
        self.write(|c| c.prepare_cached(DELETE_USER_SESSIONS)?.execute([user_id]).map(|_| ()))
    }

    fn delete_other_sessions(&self, user_id: &str, keep_token: &str) -> StorageResult<()> {
        self.write(|c| {
            c.prepare_cached(DELETE_OTHERS)?
                .execute([user_id, keep_token])
                .map(|_| ())
        })
    }
}
