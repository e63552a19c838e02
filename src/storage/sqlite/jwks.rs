//! The jwt plugin's `jwks` rows: SQL and row mapping for [`JwksStore`]. The newest key is
//! ordered by `createdAt`, then `id`, so concurrent writers agree on which one signs; dates are
//! ISO-8601 text of one fixed shape, so text order is time order.

use rusqlite::{OptionalExtension, Row};
use time::OffsetDateTime;

use super::values::{date, date_opt, iso, iso_opt};
use super::SqliteStorage;
use crate::storage::{Jwk, JwksStore, StorageResult};

pub(super) fn jwk(row: &Row) -> rusqlite::Result<Jwk> {
    Ok(Jwk {
        id: row.get(0)?,
        public_key: row.get(1)?,
        private_key: row.get(2)?,
        created_at: date(row, 3)?,
        expires_at: date_opt(row, 4)?,
        alg: row.get(5)?,
        crv: row.get(6)?,
    })
}

const INSERT: &str = r#"insert into "jwks" ("id", "publicKey", "privateKey", "createdAt", "expiresAt", "alg", "crv")
    values (?1, ?2, ?3, ?4, ?5, ?6, ?7)"#;

const LATEST: &str = r#"select "id", "publicKey", "privateKey", "createdAt", "expiresAt", "alg", "crv" from "jwks"
    where ("alg" = ?1 or "alg" is null) and ("expiresAt" is null or "expiresAt" > ?2)
    order by "createdAt" desc, "id" desc limit 1"#;

const LIST: &str = r#"select "id", "publicKey", "privateKey", "createdAt", "expiresAt", "alg", "crv" from "jwks"
    order by "createdAt", "id""#;

impl JwksStore for SqliteStorage {
    fn create_jwk(&self, k: &Jwk) -> StorageResult<()> {
        self.write(|c| {
            c.prepare_cached(INSERT)?
                .execute((
                    &k.id,
                    &k.public_key,
                    &k.private_key,
                    iso(k.created_at),
                    iso_opt(k.expires_at),
                    &k.alg,
                    &k.crv,
                ))
                .map(|_| ())
        })
    }

    fn latest_jwk(&self, alg: &str, now: OffsetDateTime) -> StorageResult<Option<Jwk>> {
        self.read(|c| c.prepare_cached(LATEST)?.query_row((alg, iso(now)), jwk).optional())
    }

    fn list_jwks(&self) -> StorageResult<Vec<Jwk>> {
        self.read(|c| {
            let mut st = c.prepare_cached(LIST)?;
            let rows = st.query_map([], jwk)?.collect();
            rows
        })
    }
}
