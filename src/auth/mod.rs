//! Domain rules: rows, password hashing, email rules, session lifetimes and resolving the
//! signed-in session. No HTTP server types and no SQL here.

pub mod email;
pub mod models;
pub mod password;
pub mod session;
pub mod verification_token;
