//! Accounts area: password hashing and policy, session lifetimes, sign-up and sign-in rules.

use super::var::{boolean, number, Default, Reader, Spec, Var};
use super::PasswordHash;

pub const TITLE: &str = "Accounts, passwords and sessions";

pub const BCRYPT_COST: Var<u32> = Var::new(
    "SESAME_BCRYPT_COST",
    Default::Value("10"),
    "bcrypt cost for new password hashes (4-31)",
    bcrypt_cost,
);
pub const PASSWORD_HASH: Var<PasswordHash> = Var::new(
    "SESAME_PASSWORD_HASH",
    Default::Value("bcrypt"),
    "Scheme for new password hashes: `bcrypt` or `scrypt` (Better Auth's)",
    password_hash,
);
pub const MIN_PASSWORD_LENGTH: Var<usize> = Var::new(
    "SESAME_MIN_PASSWORD_LENGTH",
    Default::Value("8"),
    "Shortest accepted password (UTF-16 units, as Better Auth)",
    number,
);
pub const MAX_PASSWORD_LENGTH: Var<usize> = Var::new(
    "SESAME_MAX_PASSWORD_LENGTH",
    Default::Value("128"),
    "Longest accepted password",
    number,
);
pub const REHASH_ON_SIGN_IN: Var<bool> = Var::new(
    "SESAME_REHASH_ON_SIGN_IN",
    Default::Value("false"),
    "On a successful sign-in, re-hash a password stored in another scheme (or bcrypt cost) with SESAME_PASSWORD_HASH",
    boolean,
);
pub const SESSION_EXPIRES_IN: Var<i64> = Var::new(
    "SESAME_SESSION_EXPIRES_IN",
    Default::Value("604800"),
    "Session lifetime in seconds",
    seconds,
);
pub const SESSION_UPDATE_AGE: Var<i64> = Var::new(
    "SESAME_SESSION_UPDATE_AGE",
    Default::Value("86400"),
    "Seconds after which get-session slides the expiry",
    non_negative,
);
pub const SESSION_FRESH_AGE: Var<i64> = Var::new(
    "SESAME_SESSION_FRESH_AGE",
    Default::Value("86400"),
    "Max session age in seconds for fresh-only endpoints; 0 disables the check",
    non_negative,
);
pub const DISABLE_SIGN_UP: Var<bool> = Var::new(
    "SESAME_DISABLE_SIGN_UP",
    Default::Value("false"),
    "Refuse POST /sign-up/email",
    boolean,
);
pub const AUTO_SIGN_IN: Var<bool> = Var::new(
    "SESAME_AUTO_SIGN_IN",
    Default::Value("true"),
    "Sign the user in after sign-up",
    boolean,
);
pub const REQUIRE_EMAIL_VERIFICATION: Var<bool> = Var::new(
    "SESAME_REQUIRE_EMAIL_VERIFICATION",
    Default::Value("false"),
    "Refuse sign-in until the email is verified",
    boolean,
);

pub const VARIABLES: &[&Spec] = &[
    &BCRYPT_COST.spec,
    &PASSWORD_HASH.spec,
    &MIN_PASSWORD_LENGTH.spec,
    &MAX_PASSWORD_LENGTH.spec,
    &REHASH_ON_SIGN_IN.spec,
    &SESSION_EXPIRES_IN.spec,
    &SESSION_UPDATE_AGE.spec,
    &SESSION_FRESH_AGE.spec,
    &DISABLE_SIGN_UP.spec,
    &AUTO_SIGN_IN.spec,
    &REQUIRE_EMAIL_VERIFICATION.spec,
];

fn bcrypt_cost(s: &str) -> Result<u32, String> {
    match number(s)? {
        n @ 4..=31 => Ok(n),
        _ => Err("must be between 4 and 31".to_string()),
    }
}

fn password_hash(s: &str) -> Result<PasswordHash, String> {
    match s {
        "bcrypt" => Ok(PasswordHash::Bcrypt),
        "scrypt" => Ok(PasswordHash::Scrypt),
        _ => Err("must be bcrypt or scrypt".to_string()),
    }
}

/// A positive number of seconds.
pub(super) fn seconds(s: &str) -> Result<i64, String> {
    match number(s)? {
        n if n > 0 => Ok(n),
        _ => Err("must be a positive number of seconds".to_string()),
    }
}

fn non_negative(s: &str) -> Result<i64, String> {
    match number(s)? {
        n if n >= 0 => Ok(n),
        _ => Err("must not be negative".to_string()),
    }
}

pub struct Accounts {
    pub bcrypt_cost: u32,
    pub password_hash: PasswordHash,
    pub min_password_length: usize,
    pub max_password_length: usize,
    pub rehash_on_sign_in: bool,
    pub session_expires_in: i64,
    pub session_update_age: i64,
    pub session_fresh_age: i64,
    pub disable_sign_up: bool,
    pub auto_sign_in: bool,
    pub require_email_verification: bool,
}

pub fn read(r: &Reader) -> Accounts {
    r.area(TITLE);
    let a = Accounts {
        bcrypt_cost: r.get(&BCRYPT_COST),
        password_hash: r.get(&PASSWORD_HASH),
        min_password_length: r.get(&MIN_PASSWORD_LENGTH),
        max_password_length: r.get(&MAX_PASSWORD_LENGTH),
        rehash_on_sign_in: r.get(&REHASH_ON_SIGN_IN),
        session_expires_in: r.get(&SESSION_EXPIRES_IN),
        session_update_age: r.get(&SESSION_UPDATE_AGE),
        session_fresh_age: r.get(&SESSION_FRESH_AGE),
        disable_sign_up: r.get(&DISABLE_SIGN_UP),
        auto_sign_in: r.get(&AUTO_SIGN_IN),
        require_email_verification: r.get(&REQUIRE_EMAIL_VERIFICATION),
    };
    if a.min_password_length > a.max_password_length {
        r.problem("SESAME_MIN_PASSWORD_LENGTH is larger than SESAME_MAX_PASSWORD_LENGTH");
    }
    a
}
