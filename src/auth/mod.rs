//! Domain rules: password hashing, email rules, session lifetimes and the signed email-link
//! tokens. No HTTP types and no SQL here (the rows are `storage::models`; resolving the
//! signed-in session from a request is `endpoint::current`).

pub mod email;
pub mod hash_budget;
pub mod hash_pool;
pub mod password;
pub mod session;
pub mod verification_token;
