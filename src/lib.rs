//! Sesame: a Better Auth–compatible authentication server.
//!
//! Start reading here. A request flows:
//!
//! 1. `server.rs` (the only tiny_http user; connection limits in the patched
//!    `vendor/tiny_http`) reads it into an owned [`http::Request`], with the body capped at
//!    `SESAME_MAX_BODY_BYTES`;
//! 2. [`app::App::handle_http`] counts it against the rate limit ([`ratelimit`]; 429), strips
//!    the base path, matches the static route table (`api::CORE_ROUTES`; 404/405), parses the
//!    body (415/400), refuses NUL characters (`http::input_guard`), runs the Origin/CSRF and
//!    redirect-URL checks (403), and calls the handler inside `catch_unwind`; the answer gets
//!    the security headers (`http::security_headers`);
//! 3. the handler (`api/*.rs`) validates its input (`http::validate`, zod-style messages),
//!    resolves the session (`auth::current`), acts through the [`storage::Storage`] trait, and
//!    answers JSON; errors are [`error::ApiError`]s rendered as `{"message","code","status"}`.
//!
//! The in-process API ([`inprocess`], Better Auth's `auth.api.*`) runs the same pipeline by
//! endpoint key. Domain rules live in `auth/`, storage backends in `storage/` (the SQL both
//! databases run is written once, in `storage/sql/`).
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod endpoint;
pub mod error;
pub mod http;
pub mod inprocess;
pub mod log;
pub mod mail;
pub mod oauth;
pub mod plugins;
pub mod ratelimit;
pub mod server;
pub mod storage;

pub use app::App;
pub use config::Config;
pub use error::ApiError;
pub use inprocess::{ApiInput, ApiOutput};
