//! The single integration-test binary. One `mod` per behaviour area; add to an existing file
//! before adding a new one. Helpers live in `support/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod api_basics; // routing, 404/405, body parsing, in-process API
mod cli; // the binary: --help, secret, SIGTERM
mod plugin_bearer; // Authorization: Bearer, set-auth-token
mod plugin_jwt; // /token, /jwks, set-auth-jwt, key storage, PyJWT cross-check
mod plugin_open_api; // the OpenAPI document and reference page
