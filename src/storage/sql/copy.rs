//! Moving a whole database (`sesame copy-to`): [`snapshot`] reads every row Sesame knows in one
//! transaction, [`load`] writes them into an empty, migrated database in one transaction, so
//! either every row arrives or none does.

use super::{accounts, jwks, sessions, two_factor, users, verifications, Backend, SqlError, SqlResult, Value};
use crate::storage::snapshot::Snapshot;
use crate::storage::{StorageError, StorageResult};

/// Every row, parents before children. On SQLite the transaction takes the write lock, so the
/// rows are consistent with each other.
pub fn snapshot<B: Backend>(b: &B) -> StorageResult<Snapshot> {
    let sql = b.sql();
    b.transaction(|c| {
        Ok(Snapshot {
            users: c.all(&sql.users.all, &[], users::read)?,
            accounts: c.all(&sql.accounts.all, &[], accounts::read)?,
            sessions: c.all(&sql.sessions.all, &[], sessions::read)?,
            verifications: c.all(&sql.verifications.all, &[], verifications::read)?,
            jwks: c.all(&sql.jwks.all, &[], jwks::read)?,
            two_factor: c.all(&sql.two_factor.all, &[], two_factor::read)?,
        })
    })
}

/// Inserts every row of the snapshot. Refuses a database that already has users, so a copy
/// never merges two user bases.
pub fn load<B: Backend>(b: &B, snapshot: &Snapshot) -> StorageResult<()> {
    let sql = b.sql();
    let loaded = b.transaction(|c| {
        if c.first(&sql.users.any, &[], |c| c.boolean())?.unwrap_or(false) {
            return Ok(false);
        }
        fn each<T>(
            rows: &[T],
            what: &str,
            id: impl Fn(&T) -> &str,
            mut insert: impl FnMut(&T) -> SqlResult<u64>,
        ) -> SqlResult<()> {
            for row in rows {
                insert(row).map_err(|e| SqlError::msg(format!("copying {what} {}: {e}", id(row))))?;
            }
            Ok(())
        }
        let mut run = |statement: &'static str, values: &[Value<'_>]| c.execute(statement, values);
        each(
            &snapshot.users,
            "user",
            |u| &u.id,
            |u| run(&sql.users.insert, &users::values(u)),
        )?;
        each(
            &snapshot.accounts,
            "account",
            |a| &a.id,
            |a| run(&sql.accounts.insert, &accounts::values(a)),
        )?;
        each(
            &snapshot.sessions,
            "session",
            |s| &s.id,
            |s| run(&sql.sessions.insert, &sessions::values(s)),
        )?;
        each(
            &snapshot.verifications,
            "verification",
            |v| &v.id,
            |v| run(&sql.verifications.insert, &verifications::values(v)),
        )?;
        each(
            &snapshot.jwks,
            "jwk",
            |k| &k.id,
            |k| run(&sql.jwks.insert, &jwks::values(k)),
        )?;
        each(
            &snapshot.two_factor,
            "twoFactor",
            |r| &r.id,
            |r| run(&sql.two_factor.insert, &two_factor::values(r)),
        )?;
        Ok(true)
    })?;
    if loaded {
        Ok(())
    } else {
        Err(StorageError::Other(anyhow::anyhow!(
            "the {} database already has users; copy-to only fills an empty one",
            b.name()
        )))
    }
}
