//! Loading a [`Snapshot`] (another database's rows, for `sesame copy-to`) into an empty,
//! migrated database, in one transaction: either every row arrives or none does.

use anyhow::Context;

use super::{accounts, sessions, PgStorage};
use crate::storage::snapshot::Snapshot;

impl PgStorage {
    /// Inserts every row of the snapshot. Refuses a database that already has users, so a
    /// copy never merges two user bases.
    pub fn load(&self, snapshot: &Snapshot) -> anyhow::Result<()> {
        let mut conn = self.pool.get().context("no PostgreSQL connection")?;
        let mut tx = conn.client.transaction()?;
        let has_users: bool = tx
            .query_one(r#"select exists (select 1 from "user")"#, &[])?
            .try_get(0)?;
        if has_users {
            anyhow::bail!("the PostgreSQL database already has users; copy-to only fills an empty one");
        }
        let insert_user = tx.prepare(super::users::INSERT_USER)?;
        for u in &snapshot.users {
            tx.execute(
                &insert_user,
                &[
                    &u.id,
                    &u.name,
                    &u.email,
                    &u.email_verified,
                    &u.image,
                    &u.created_at,
                    &u.updated_at,
                    &u.username,
                    &u.display_username,
                ],
            )
            .with_context(|| format!("copying user {}", u.id))?;
        }
        let insert_account = tx.prepare(accounts::INSERT_ACCOUNT)?;
        for a in &snapshot.accounts {
            accounts::insert(&mut tx, &insert_account, a).with_context(|| format!("copying account {}", a.id))?;
        }
        let insert_session = tx.prepare(sessions::INSERT_SESSION)?;
        for s in &snapshot.sessions {
            sessions::insert(&mut tx, &insert_session, s).with_context(|| format!("copying session {}", s.id))?;
        }
        let insert_verification = tx.prepare(super::verifications::INSERT)?;
        for v in &snapshot.verifications {
            tx.execute(
                &insert_verification,
                &[
                    &v.id,
                    &v.identifier,
                    &v.value,
                    &v.expires_at,
                    &v.created_at,
                    &v.updated_at,
                ],
            )
            .with_context(|| format!("copying verification {}", v.id))?;
        }
        let insert_jwk = tx.prepare(super::jwks::INSERT)?;
        for k in &snapshot.jwks {
            tx.execute(
                &insert_jwk,
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
            .with_context(|| format!("copying jwk {}", k.id))?;
        }
        tx.commit()?;
        Ok(())
    }
}
