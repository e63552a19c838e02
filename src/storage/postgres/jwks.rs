//! The jwt plugin's `jwks` rows: SQL and row mapping for [`JwksStore`]. The newest key is
//! ordered by `createdAt`, then `id`, so concurrent writers agree on which one signs.

use postgres::Row;
use time::OffsetDateTime;

use super::PgStorage;
use crate::storage::{Jwk, JwksStore, StorageResult};

fn jwk(row: &Row) -> Result<Jwk, postgres::Error> {
    Ok(Jwk {
        id: row.try_get(0)?,
        public_key: row.try_get(1)?,
        private_key: row.try_get(2)?,
        created_at: row.try_get(3)?,
        expires_at: row.try_get(4)?,
        alg: row.try_get(5)?,
        crv: row.try_get(6)?,
    })
}

pub(super) const INSERT: &str = r#"insert into "jwks" ("id", "publicKey", "privateKey", "createdAt", "expiresAt", "alg", "crv")
    values ($1, $2, $3, $4, $5, $6, $7)"#;

const LATEST: &str = r#"select "id", "publicKey", "privateKey", "createdAt", "expiresAt", "alg", "crv" from "jwks"
    where ("alg" = $1 or "alg" is null) and ("expiresAt" is null or "expiresAt" > $2)
    order by "createdAt" desc, "id" desc limit 1"#;

const LIST: &str = r#"select "id", "publicKey", "privateKey", "createdAt", "expiresAt", "alg", "crv" from "jwks"
    order by "createdAt", "id""#;

impl JwksStore for PgStorage {
    fn create_jwk(&self, k: &Jwk) -> StorageResult<()> {
        self.run(|c| {
            let st = c.stmt(INSERT)?;
            c.client
                .execute(
                    &st,
                    &[
                        &k.id,
                        &k.public_key,
                        &k.private_key,
                        &k.created_at,
                        &k.expires_at,
                        &k.alg,
                        &k.crv,
                    ],
                )
                .map(|_| ())
        })
    }

    fn latest_jwk(&self, alg: &str, now: OffsetDateTime) -> StorageResult<Option<Jwk>> {
        self.run(|c| {
            let st = c.stmt(LATEST)?;
            c.client.query_opt(&st, &[&alg, &now])?.as_ref().map(jwk).transpose()
        })
    }

    fn list_jwks(&self) -> StorageResult<Vec<Jwk>> {
        self.run(|c| {
            let st = c.stmt(LIST)?;
            c.client.query(&st, &[])?.iter().map(jwk).collect()
        })
    }
}
