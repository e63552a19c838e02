//! Reading the whole database for `sesame copy-to` ([`Snapshot`]), in one read transaction so
//! that the rows are consistent with each other.

use rusqlite::{Connection, Row};

use super::accounts::account_at;
use super::jwks::jwk;
use super::sessions::session_at;
use super::users::user_at;
use super::verifications::verification;
use super::SqliteStorage;
use crate::storage::snapshot::Snapshot;
use crate::storage::StorageResult;

fn all<T>(c: &Connection, sql: &str, map: impl Fn(&Row) -> rusqlite::Result<T>) -> rusqlite::Result<Vec<T>> {
    let mut st = c.prepare(sql)?;
    let rows = st.query_map([], |r| map(r))?.collect();
    rows
}

impl SqliteStorage {
    /// Every row Sesame knows, parents before children.
    pub fn snapshot(&self) -> StorageResult<Snapshot> {
        self.write(|c| {
            let tx = c.transaction()?;
            let snapshot = Snapshot {
                users: all(
                    &tx,
                    r#"select "id", "name", "email", "emailVerified", "image", "createdAt", "updatedAt",
                        "username", "displayUsername" from "user" order by "createdAt", "id""#,
                    |r| user_at(r, 0),
                )?,
                accounts: all(
                    &tx,
                    r#"select "id", "issuer", "accountId", "providerId", "userId", "accessToken", "refreshToken",
                        "idToken", "accessTokenExpiresAt", "refreshTokenExpiresAt", "scope", "password", "createdAt",
                        "updatedAt" from "account" order by "createdAt", "id""#,
                    |r| account_at(r, 0),
                )?,
                sessions: all(
                    &tx,
                    r#"select "id", "token", "userId", "expiresAt", "createdAt", "updatedAt", "ipAddress", "userAgent"
                        from "session" order by "createdAt", "id""#,
                    |r| session_at(r, 0),
                )?,
                verifications: all(
                    &tx,
                    r#"select "id", "identifier", "value", "expiresAt", "createdAt", "updatedAt"
                        from "verification" order by "createdAt", "id""#,
                    verification,
                )?,
                jwks: all(
                    &tx,
                    r#"select "id", "publicKey", "privateKey", "createdAt", "expiresAt", "alg", "crv" from "jwks"
                        order by "createdAt", "id""#,
                    jwk,
                )?,
            };
            tx.commit()?;
            Ok(snapshot)
        })
    }
}
