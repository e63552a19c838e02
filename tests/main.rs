//! The single integration-test binary. One `mod` per behaviour area; add to an existing file
//! before adding a new one. Helpers live in `support/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod api_basics; // routing, 404/405, body parsing, in-process API
mod oauth_accounts; // id-token sign-in, link-social, list/unlink accounts, access and refresh tokens
mod oauth_flow; // social sign-in redirect flow against the fake provider: state, callback, linking, errors
