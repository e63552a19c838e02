//! The username plugin's lookup: one statement for the user and their credential account.

use super::users::{find_with_credential, with_credential};
use super::SqliteStorage;
use crate::auth::models::{Account, User};
use crate::storage::{StorageResult, UsernameStore};

const WITH_CREDENTIAL_BY_USERNAME: &str = with_credential!("username");

impl UsernameStore for SqliteStorage {
    fn find_user_with_credential_by_username(&self, username: &str) -> StorageResult<Option<(User, Option<Account>)>> {
        self.read(|c| find_with_credential(c, WITH_CREDENTIAL_BY_USERNAME, username))
    }
}
