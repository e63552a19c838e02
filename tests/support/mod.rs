//! Test helpers: a [`TestApp`] (memory storage, a fresh PostgreSQL schema or a fresh SQLite file, fixed clock, bcrypt cost 4) answered
//! in-process through `App::handle_http`, cookie helpers, and a real server on an ephemeral
//! port for over-the-socket checks.
#![allow(dead_code)]

pub mod binary;
pub mod browser;
pub mod db_snapshot;
pub mod everything;
pub mod fake_provider;
pub mod http_client;
pub mod mail;
pub mod oauth;
pub mod postgres;
pub mod scrape;
pub mod smtp_sink;
pub mod sqlite;
pub mod tcp_proxy;
pub mod tmpfs;
pub mod two_factor;
pub mod wire;

use std::sync::Arc;

use serde_json::{json, Value};
use sesame::clock::FixedClock;
use sesame::http::{Request, Response};
use sesame::mail::RecordingMailer;
use sesame::storage::memory::MemoryStorage;
use sesame::storage::Storage;
use sesame::{App, Config};
use time::macros::datetime;

pub const BASE: &str = "/api/auth";
pub const ORIGIN: &str = "http://localhost:3000";
pub const PASSWORD: &str = "correct-horse-battery";

/// Which storage a test runs on. Suites run every test on each backend (see [`suite!`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    /// A fresh schema in `TEST_DATABASE_URL`'s database (see `support/postgres.rs`).
    Postgres,
    /// A fresh temp-file database (see `support/sqlite.rs`).
    Sqlite,
}

pub struct TestApp {
    pub app: Arc<App>,
    pub clock: Arc<FixedClock>,
    pub backend: Backend,
    /// The PostgreSQL schema, dropped after the app (fields drop in order).
    pub pg: Option<postgres::PgSchema>,
    /// The SQLite file, deleted after the app.
    pub sqlite: Option<sqlite::SqliteFile>,
    /// Every email the app sends (helpers in `support/mail.rs`).
    pub mail: Arc<RecordingMailer>,
}

impl TestApp {
    pub fn new(backend: Backend) -> TestApp {
        TestApp::with_config(backend, |_| {})
    }

    /// A test app whose config the caller adjusts first. Panics if the backend is unavailable;
    /// tests that may skip use [`TestApp::try_with_config`].
    pub fn with_config(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
        TestApp::try_with_config(backend, adjust).expect("PostgreSQL is unreachable")
    }

    /// `None` when the backend is PostgreSQL and it is unreachable outside CI (a message says
    /// the test is skipped).
    pub fn try_new(backend: Backend) -> Option<TestApp> {
        TestApp::try_with_config(backend, |_| {})
    }

    pub fn try_with_config(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
        let mut config = Config::for_tests();
        adjust(&mut config);
        match backend {
            Backend::Memory => Some(TestApp::with_storage(config, Arc::new(MemoryStorage::new()), None)),
            Backend::Postgres => {
                let schema = postgres::PgSchema::create()?;
                Some(TestApp::on_schema(schema, config))
            }
            Backend::Sqlite => Some(TestApp::on_sqlite_file(sqlite::SqliteFile::new(), config)),
        }
    }

    /// A test app on a SQLite file (which may hold fixture tables), migrated first.
    pub fn on_sqlite_file(file: sqlite::SqliteFile, config: Config) -> TestApp {
        let storage = Arc::new(file.storage(&sqlite::test_options()));
        let mut t = TestApp::with_storage(config, storage, None);
        t.backend = Backend::Sqlite;
        t.sqlite = Some(file);
        t
    }

    /// A test app on an existing schema (which may hold fixture tables), migrated first.
    pub fn on_schema(schema: postgres::PgSchema, config: Config) -> TestApp {
        let mut options = postgres::test_options();
        if let Some(n) = config.pool_size {
            options.pool_size = n;
        }
        let storage = Arc::new(schema.storage(&options));
        TestApp::with_storage(config, storage, Some(schema))
    }

    pub fn with_storage(config: Config, storage: Arc<dyn Storage>, pg: Option<postgres::PgSchema>) -> TestApp {
        let backend = if pg.is_some() {
            Backend::Postgres
        } else {
            Backend::Memory
        };
        let clock = Arc::new(FixedClock::new(datetime!(2026-11-26 12:00 UTC)));
        let mail = Arc::new(RecordingMailer::new());
        let app = App::new(config, storage, clock.clone())
            .and_then(|a| a.with_mailer(mail.clone()))
            .expect("app builds");
        TestApp {
            app: Arc::new(app),
            clock,
            backend,
            pg,
            sqlite: None,
            mail,
        }
    }

    pub fn storage(&self) -> &dyn Storage {
        self.app.storage.as_ref()
    }

    /// Sends a request through the HTTP pipeline (origin checks included), no socket.
    pub fn send(&self, req: Request) -> Response {
        self.app.handle_http(req)
    }

    pub fn get(&self, path: &str, cookies: Option<&str>) -> Response {
        let mut req = Request::get(&format!("{BASE}{path}"));
        if let Some(c) = cookies {
            req = req.with_header("cookie", c);
        }
        self.send(req)
    }

    /// A JSON POST without cookies (like curl).
    pub fn post(&self, path: &str, body: Value) -> Response {
        self.send(Request::post(&format!("{BASE}{path}")).with_json(&body))
    }

    /// A JSON POST with cookies and a trusted Origin (like a browser on the app's origin).
    pub fn post_with_cookies(&self, path: &str, body: Value, cookies: &str) -> Response {
        self.send(
            Request::post(&format!("{BASE}{path}"))
                .with_json(&body)
                .with_header("cookie", cookies)
                .with_header("origin", ORIGIN),
        )
    }

    /// Signs up a user and returns the response and the cookies to send back.
    pub fn sign_up(&self, email: &str) -> (Response, String) {
        let resp = self.post(
            "/sign-up/email",
            json!({"name": "Test User", "email": email, "password": PASSWORD}),
        );
        assert_eq!(resp.status, 200, "sign-up failed: {}", body_text(&resp));
        let cookies = cookie_header(&resp);
        (resp, cookies)
    }

    /// Signs in and returns the cookies.
    pub fn sign_in(&self, email: &str, password: &str) -> Response {
        self.post("/sign-in/email", json!({"email": email, "password": password}))
    }
}

/// Parses a response body as JSON (panics with the body if it is not JSON).
pub fn json_body(resp: &Response) -> Value {
    serde_json::from_slice(&resp.body).unwrap_or_else(|_| panic!("not JSON: {}", body_text(resp)))
}

pub fn body_text(resp: &Response) -> String {
    String::from_utf8_lossy(&resp.body).into_owned()
}

/// The `Cookie` header a browser would send after this response: every non-expired
/// `Set-Cookie` name=value.
pub fn cookie_header(resp: &Response) -> String {
    resp.set_cookies()
        .iter()
        .filter(|c| !c.contains("Max-Age=0"))
        .filter_map(|c| c.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The `Set-Cookie` line for a cookie name, if any.
pub fn set_cookie(resp: &Response, name: &str) -> Option<String> {
    resp.set_cookies()
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
}

/// Asserts an error answer: status, code, and the `{message, code, status}` shape.
pub fn assert_error(resp: &Response, status: u16, code: &str) {
    assert_eq!(resp.status, status, "unexpected status, body: {}", body_text(resp));
    let body = json_body(resp);
    assert_eq!(body["code"], code, "body: {body}");
    assert_eq!(body["status"], status);
    assert!(body["message"].is_string(), "body: {body}");
    assert_eq!(
        body.as_object().map(|o| o.len()),
        Some(3),
        "error body has exactly message, code, status: {body}"
    );
}

/// Generates one `#[test]` per backend for each listed test function `fn(&TestApp)`:
/// `suite!(sign_up_works, …)` → `mod memory { #[test] fn sign_up_works() … }` and the same in
/// `mod postgres` and `mod sqlite`.
#[macro_export]
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[test]
                fn $name() {
                    super::$name(&$crate::support::TestApp::new($crate::support::Backend::Memory));
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    // None: PostgreSQL is unreachable outside CI and the skip was reported.
                    if let Some(t) = $crate::support::TestApp::try_new($crate::support::Backend::Postgres) {
                        super::$name(&t);
                    }
                }
            )*
        }
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(&$crate::support::TestApp::new($crate::support::Backend::Sqlite));
                }
            )*
        }
    };
}

/// Like [`suite!`] for tests that build their own app: each listed `fn(Backend)` runs once
/// per backend.
#[macro_export]
macro_rules! backend_suite {
    ($($name:ident),* $(,)?) => {
        mod backends {
            $(
                #[test]
                fn $name() {
                    super::$name($crate::support::Backend::Memory);
                }
            )*
        }
        mod backends_postgres {
            $(
                #[test]
                fn $name() {
                    // PostgreSQL unreachable outside CI: the skip was reported.
                    if $crate::support::postgres::available() {
                        super::$name($crate::support::Backend::Postgres);
                    }
                }
            )*
        }
        mod backends_sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name($crate::support::Backend::Sqlite);
                }
            )*
        }
    };
}
