//! Sesame: a Better Auth–compatible authentication server.
//!
//! Start reading here. The crate is built in floors; a module uses the floors below it, never
//! one above:
//!
//! ```text
//! server/, main.rs           transport: the only tiny_http user; the binary
//! app.rs, inprocess.rs       the pipeline: rate limit, routing, body, origin, hooks, handler;
//! app_builder.rs             the app configured in code (storage, mail transport, clock)
//! api/, plugins/, endpoint/  endpoints: core and plugin handlers, each declared once next
//!                            to its handler, and what they share (Ctx over the app's
//!                            Services, declarations and Router, validation, answers,
//!                            session and mail flows, the social sign-in steps)
//! oauth/, mail/, auth/,      domain rules and outbound calls (providers, email delivery,
//! ratelimit/                 passwords, session lifetimes, the limiter's rules)
//! storage/ (+ storage/sql/)  persistence: rows and intention-named traits; memory, SQLite
//!                            and PostgreSQL, the SQL written once for both databases
//! http/, error.rs, config    types: request, response, cookies, origin rules; ApiError
//! clock, crypto, log,        leaves
//! metrics
//! ```
//!
//! A request flows:
//!
//! 1. `server/` reads it into an owned [`http::Request`], with the body capped at
//!    `SESAME_MAX_BODY_BYTES` (connection limits in the patched `vendor/tiny_http`);
//! 2. [`app::App::handle_http`] counts it against the rate limit ([`ratelimit`]; 429), strips
//!    the base path, matches the route table (`api::CORE_ENDPOINTS` plus the enabled plugins'
//!    endpoints; 404/405), parses the body (415/400), refuses NUL characters
//!    (`http::input_guard`), runs the Origin/CSRF and redirect-URL checks (403), then each
//!    enabled plugin's `before` hook, validates body and query against the endpoint's
//!    declaration (400), runs the handler, and on success each plugin's `after` hook,
//!    inside `catch_unwind`; the answer gets the security headers (`http::security_headers`)
//!    and its cookies become `Set-Cookie` lines at the edge;
//! 3. the handler (`api/*.rs`, `plugins/*`) reads its typed input, resolves the session
//!    (`endpoint::current`), acts through the [`storage::Storage`] trait, and answers JSON;
//!    errors are [`error::ApiError`]s rendered as `{"message","code","status"}`, an unexpected
//!    failure logged once by the pipeline.
//!
//! The in-process API ([`inprocess`], Better Auth's `auth.api.*`) runs the same pipeline: every
//! endpoint's declaration is its typed function (`app.endpoint(&api::SIGN_UP_EMAIL)`).
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod app_builder;
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
pub mod metrics;
pub mod oauth;
pub mod plugins;
pub mod ratelimit;
pub mod server;
pub mod storage;

pub use app::App;
pub use app_builder::AppBuilder;
pub use config::Config;
pub use error::ApiError;
pub use inprocess::{Answered, ApiInput, ApiOutput, Call};
pub use server::Running;

#[cfg(test)]
mod tests {
    /// The floors of the map above, lowest first.
    const FLOORS: &[&[&str]] = &[
        &["clock", "crypto", "log", "metrics"],
        &["http", "error", "config"],
        &["storage"],
        &["oauth", "mail", "auth", "ratelimit"],
        &["endpoint", "api", "plugins"],
        &["app", "app_builder", "inprocess"],
        &["server"],
    ];

    fn floor(module: &str) -> Option<usize> {
        FLOORS.iter().position(|f| f.contains(&module))
    }

    /// Known exceptions, each with the reason it is still there.
    const ALLOWED: &[(&str, &str)] = &[
        // The configuration parses every area's variables into that area's own types.
        ("config", "oauth"),
        ("config", "plugins"),
        ("config", "ratelimit"),
    ];

    fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn every_module_uses_only_the_floors_below_it() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut paths = Vec::new();
        files(&src, &mut paths);
        let mut climbs = Vec::new();
        for path in paths {
            let rel = path.strip_prefix(&src).unwrap().to_string_lossy().to_string();
            let module = rel.split(['/', '.']).next().unwrap().to_string();
            let Some(own) = floor(&module) else { continue };
            let text = std::fs::read_to_string(&path).unwrap();
            // Tests may reach anywhere.
            let code = text.split("#[cfg(test)]").next().unwrap();
            for used in code.split("crate::").skip(1) {
                let target: String = used
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let above = floor(&target).is_some_and(|f| f > own);
                if above && !ALLOWED.contains(&(module.as_str(), target.as_str())) {
                    climbs.push(format!("{rel} uses crate::{target}"));
                }
            }
        }
        climbs.dedup();
        assert!(climbs.is_empty(), "imports that climb a floor:\n{}", climbs.join("\n"));
    }
}
