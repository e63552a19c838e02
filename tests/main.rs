//! The single integration-test binary. One `mod` per behaviour area; add to an existing file
//! before adding a new one. Helpers live in `support/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod api_basics; // routing, 404/405, body parsing, in-process API
mod password_rehash;
mod pg_faults;
mod pg_takeover; // migrations, taking over a Better Auth database (fixture), rehash on sign-in
mod storage_contract; // the Storage trait's contract, on memory and PostgreSQL // concurrent sign-ups and a database outage on PostgreSQL // SESAME_REHASH_ON_SIGN_IN
