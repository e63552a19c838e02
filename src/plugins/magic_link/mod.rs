//! The magic-link plugin (Better Auth's `magicLink`): `POST /sign-in/magic-link` emails a
//! single-use sign-in link, `GET /magic-link/verify` opens it (signing up a new address unless
//! `SESAME_MAGIC_LINK_DISABLE_SIGN_UP`). Behaviour and the reasons for it:
//! `docs/plugins/magic-link.md`.
//!
//! The token is 32 letters from the CSPRNG, kept in a `verification` row as Better Auth keeps it:
//! identifier `magic-link:<token>` (or `magic-link:<SHA-256 of the token>` with
//! `SESAME_MAGIC_LINK_STORE_TOKEN=hashed`), value `{"type":"magic-link","email":…,"name":…}`.
//! Opening the link consumes the row atomically, so of two concurrent opens only one signs in.
//! The token is found by the database's equality lookup on the identifier, never compared by
//! Sesame's code, and is never logged.

mod routes;

use super::{Hooks, Plugin};

pub use routes::{MagicLinkAnswer, SignInMagicLinkBody, VerifyMagicLinkQuery, MAGIC_LINK_VERIFY, SIGN_IN_MAGIC_LINK};

pub const PLUGIN: Plugin = Plugin {
    id: "magic-link",
    endpoints: &[&SIGN_IN_MAGIC_LINK, &MAGIC_LINK_VERIFY],
    // Better Auth's plugin defines no codes: its failures are `?error=` redirects.
    error_codes: &[],
    // The links live in the core `verification` table.
    migrations: &[],
    hooks: &MagicLinkHooks,
};

struct MagicLinkHooks;

impl Hooks for MagicLinkHooks {}
