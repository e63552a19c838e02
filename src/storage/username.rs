//! The username plugin's storage area. It lives here, not in the plugin, so that every
//! backend must implement it (migrations for compiled-in plugins always run).

use super::StorageResult;
use crate::storage::models::{Account, User};

pub trait UsernameStore {
    /// The user with this (normalised) username and their credential account, in one lookup.
    fn find_user_with_credential_by_username(&self, username: &str) -> StorageResult<Option<(User, Option<Account>)>>;
}
