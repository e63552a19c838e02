//! The single integration-test binary. One `mod` per behaviour area; add to an existing file
//! before adding a new one. Helpers live in `support/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod api_basics; // routing, 404/405, body parsing, in-process API
mod bad_input; // property-based bad-input battery over every route (proptest)
mod flood; // connection floods, slow clients, malformed HTTP over real sockets
mod rate_limit; // rate limiting and client-IP resolution
mod security; // security headers, error page, open redirects, secrets, logs
