//! A whole database in memory: every row of the core tables and of the plugins' tables, as
//! `sesame copy-to` moves a SQLite file into PostgreSQL ([`SqliteStorage::snapshot`] reads it
//! in one read transaction, [`PgStorage::load`] writes it in one transaction). Columns Sesame
//! does not know (a Better Auth `additionalFields`) are not carried.
//!
//! [`SqliteStorage::snapshot`]: super::sqlite::SqliteStorage::snapshot
//! [`PgStorage::load`]: super::postgres::PgStorage::load

use super::two_factor::TwoFactor;
use super::Jwk;
use crate::storage::models::{Account, Session, User, Verification};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub users: Vec<User>,
    pub accounts: Vec<Account>,
    pub sessions: Vec<Session>,
    pub verifications: Vec<Verification>,
    pub jwks: Vec<Jwk>,
    pub two_factor: Vec<TwoFactor>,
}

impl Snapshot {
    /// `users 2, accounts 3, …` for the command's output.
    pub fn counts(&self) -> String {
        format!(
            "users {}, accounts {}, sessions {}, verifications {}, jwks {}, twoFactor {}",
            self.users.len(),
            self.accounts.len(),
            self.sessions.len(),
            self.verifications.len(),
            self.jwks.len(),
            self.two_factor.len()
        )
    }
}
