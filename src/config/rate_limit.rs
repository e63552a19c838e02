//! Rate-limit area: whether requests are limited, per-path overrides, and where buckets live
//! (the rules themselves: `ratelimit/rules.rs`).

use super::var::{boolean, Default, Reader, Spec, Var};
use crate::ratelimit::{rules, CustomRule, StoreKind};

pub const TITLE: &str = "Rate limiting";

pub const ENABLED: Var<bool> = Var::new(
    "SESAME_RATE_LIMIT",
    Default::Value("true"),
    "Rate-limit HTTP requests per client IP and path; false turns it off",
    boolean,
);
pub const RULES: Var<Vec<CustomRule>> = Var::new(
    "SESAME_RATE_LIMIT_RULES",
    Default::None,
    "Per-path overrides: `/sign-in/email=5/10,/get-session=off,/sign-in*=4/20,default=200/10` (MAX/SECONDS)",
    custom_rules,
);
pub const STORAGE: Var<StoreKind> = Var::new(
    "SESAME_RATE_LIMIT_STORAGE",
    Default::Value("auto"),
    "Where rate-limit buckets live: `auto` (on PostgreSQL the strict rules' buckets — sign-in, sign-up, password, email change, mail, one-time codes — in the database, shared by every process, and the rest in this process; elsewhere all in this process), `memory` (all in this process) or `database` (all in a table of the PostgreSQL or SQLite database, shared by every process)",
    store_kind,
);

pub const VARIABLES: &[&Spec] = &[&ENABLED.spec, &RULES.spec, &STORAGE.spec];

fn custom_rules(s: &str) -> Result<Vec<CustomRule>, String> {
    rules::parse(s).map_err(|e| format!("{e:#}"))
}

fn store_kind(s: &str) -> Result<StoreKind, String> {
    match s {
        "auto" => Ok(StoreKind::Auto),
        "memory" => Ok(StoreKind::Memory),
        "database" => Ok(StoreKind::Database),
        _ => Err("must be auto, memory or database".to_string()),
    }
}

pub struct RateLimit {
    pub rate_limit: bool,
    pub rate_limit_rules: Vec<CustomRule>,
    pub rate_limit_storage: StoreKind,
}

pub fn read(r: &Reader) -> RateLimit {
    r.area(TITLE);
    RateLimit {
        rate_limit: r.get(&ENABLED),
        rate_limit_rules: r.opt(&RULES).unwrap_or_default(),
        rate_limit_storage: r.get(&STORAGE),
    }
}
