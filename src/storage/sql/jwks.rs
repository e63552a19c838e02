//! The jwt plugin's `jwks` rows: the columns, the row mapper, the statements and
//! [`JwksStore`] for both databases. The newest key is ordered by `createdAt`, then `id`, so
//! concurrent writers agree on which one signs (on SQLite dates are ISO-8601 text of one fixed
//! shape, so text order is time order).

use time::OffsetDateTime;

use super::{insert, select, Backend, Cols, Dialect, SqlResult, Value};
use crate::storage::{Jwk, JwksStore, StorageResult};

/// Every column, in the order of [`read`] and [`values`].
pub(super) const COLUMNS: [&str; 7] = ["id", "publicKey", "privateKey", "createdAt", "expiresAt", "alg", "crv"];

pub(super) fn read(c: &mut Cols<'_>) -> SqlResult<Jwk> {
    Ok(Jwk {
        id: c.text()?,
        public_key: c.text()?,
        private_key: c.text()?,
        created_at: c.date()?,
        expires_at: c.opt_date()?,
        alg: c.opt_text()?,
        crv: c.opt_text()?,
    })
}

pub(super) fn values(k: &Jwk) -> [Value<'_>; COLUMNS.len()] {
    [
        (&k.id).into(),
        (&k.public_key).into(),
        (&k.private_key).into(),
        k.created_at.into(),
        k.expires_at.into(),
        (&k.alg).into(),
        (&k.crv).into(),
    ]
}

pub struct JwksSql {
    pub insert: String,
    pub latest: String,
    pub all: String,
}

impl JwksSql {
    pub(super) fn new(d: Dialect) -> JwksSql {
        JwksSql {
            insert: insert(d, "jwks", &COLUMNS),
            latest: select(
                d,
                &COLUMNS,
                "jwks",
                r#"where ("alg" = $1 or "alg" is null) and ("expiresAt" is null or "expiresAt" > $2)
    order by "createdAt" desc, "id" desc limit 1"#,
            ),
            all: select(d, &COLUMNS, "jwks", r#"order by "createdAt", "id""#),
        }
    }
}

impl<B: Backend> JwksStore for B {
    fn create_jwk(&self, k: &Jwk) -> StorageResult<()> {
        self.write(|c| c.execute(&self.sql().jwks.insert, &values(k)).map(|_| ()))
    }

    fn latest_jwk(&self, alg: &str, now: OffsetDateTime) -> StorageResult<Option<Jwk>> {
        self.read(|c| c.first(&self.sql().jwks.latest, &[alg.into(), now.into()], read))
    }

    fn list_jwks(&self) -> StorageResult<Vec<Jwk>> {
        self.read(|c| c.all(&self.sql().jwks.all, &[], read))
    }
}
