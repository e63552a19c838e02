//! `App::builder()`: an app configured in code, as an embedding program builds it — the
//! variables checked as the environment's, an opened storage or a storage URL, and email
//! through a function of the program's, over a real socket and in-process.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use sesame::api::{self, SignInEmailBody, SignUpEmailBody};
use sesame::mail::{DeliveryError, Mail, MailKind};
use sesame::{App, AppBuilder, Config};

use crate::support::http_client::send;
use crate::support::{postgres, sqlite, Backend, PASSWORD};

const SECRET: &str = "a secret long enough for any host 0123456789";

/// The settings every test here shares: a fixed secret, fast hashes, no rate limit.
fn builder() -> AppBuilder {
    App::builder()
        .secret(SECRET)
        .base_url("http://localhost:3000")
        .set("SESAME_BCRYPT_COST", "4")
        .set("SESAME_RATE_LIMIT", "false")
}

fn built_app_sends_mail_through_the_programs_function_and_serves_it(backend: Backend) {
    let (mut sqlite_file, mut pg) = (None, None);
    let builder = match backend {
        Backend::Memory => builder().storage_url("memory"),
        Backend::Sqlite => {
            let file = sqlite::SqliteFile::new();
            let b = builder().storage_url(file.url());
            sqlite_file = Some(file);
            b
        }
        Backend::Postgres => {
            let Some(schema) = postgres::PgSchema::create() else {
                return;
            };
            let b = builder().storage(Arc::new(schema.storage(&postgres::test_options())));
            pg = Some(schema);
            b
        }
    };
    let sent: Arc<Mutex<Vec<Mail>>> = Arc::default();
    let outbox = sent.clone();
    let app = builder
        .set("SESAME_SEND_VERIFICATION_ON_SIGN_UP", "true")
        .send_email(move |mail| {
            outbox.lock().unwrap().push(mail.clone());
            Ok(())
        })
        .build()
        .unwrap();
    assert_eq!(app.mailer.name(), "program");

    let signed_up = app
        .endpoint(&api::SIGN_UP_EMAIL)
        .body(SignUpEmailBody {
            name: "Built".into(),
            email: "built@example.com".into(),
            password: PASSWORD.into(),
            ..Default::default()
        })
        .with_headers()
        .unwrap();
    assert!(!signed_up.data.user.email_verified);
    assert!(app.outbox.flush(Duration::from_secs(10)), "the mail was not delivered");
    let mail = {
        let sent = sent.lock().unwrap();
        assert_eq!(sent.len(), 1, "{sent:?}");
        sent[0].clone()
    };
    assert_eq!(
        (mail.kind, mail.to.as_str()),
        (MailKind::Verification, "built@example.com")
    );
    assert!(
        mail.url
            .starts_with("http://localhost:3000/api/auth/verify-email?token="),
        "{mail:?}"
    );
    assert!(mail.url.contains(&mail.token));

    // The link, opened over HTTP on the served app, verifies the address in-process too.
    let server = app.serve("127.0.0.1:0").unwrap();
    let path = format!("/api/auth/verify-email?token={}", mail.token);
    let resp = send(server.addr, "GET", &path, &[], b"");
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    assert_eq!(resp.json()["status"], true);
    let signed_in = server
        .app()
        .endpoint(&api::SIGN_IN_EMAIL)
        .body(SignInEmailBody {
            email: "built@example.com".into(),
            password: PASSWORD.into(),
            ..Default::default()
        })
        .send()
        .unwrap();
    assert!(signed_in.user.email_verified);
    server.stop();
    drop((sqlite_file, pg));
}

#[test]
fn a_failing_mail_function_does_not_change_the_answer() {
    let app = builder()
        .storage_url("memory")
        .set("SESAME_SEND_VERIFICATION_ON_SIGN_UP", "true")
        .send_email(|_| Err(DeliveryError::permanent("refused by the program")))
        .build()
        .unwrap();
    let out = app
        .call_with_headers(
            "signUpEmail",
            sesame::ApiInput::new().body(json!({"name": "F", "email": "f@example.com", "password": PASSWORD})),
        )
        .unwrap();
    assert_eq!(out.status, 200);
    assert!(app.outbox.flush(Duration::from_secs(10)));
}

#[test]
fn builder_errors_are_the_environments_errors() {
    let from_env = Config::from_vars(
        &[("SESAME_BASE_PATH", "auth"), ("DATABASE_URL", "mysql://db")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
    .unwrap_err();
    let from_code = App::builder()
        .base_path("auth")
        .storage_url("mysql://db")
        .build()
        .err()
        .expect("invalid");
    assert_eq!(format!("{from_code:#}"), format!("{from_env:#}"));
    let unknown_plugin = App::builder()
        .storage_url("memory")
        .plugins(["nope"])
        .build()
        .err()
        .unwrap();
    assert!(
        format!("{unknown_plugin:#}").contains("SESAME_PLUGINS"),
        "{unknown_plugin:#}"
    );
}

#[test]
fn a_storage_in_code_and_database_url_together_are_an_error() {
    let storage = Arc::new(sesame::storage::memory::MemoryStorage::new());
    let err = builder()
        .storage_url("memory")
        .storage(storage.clone())
        .build()
        .err()
        .unwrap();
    assert!(
        format!("{err:#}").contains("DATABASE_URL is set and a storage is given in code"),
        "{err:#}"
    );
    // Without DATABASE_URL, the storage in code is used (no sesame.db is opened).
    let app = builder().storage(storage).build().unwrap();
    assert_eq!(app.call("ok", sesame::ApiInput::new()).unwrap(), json!({"ok": true}));
}

#[test]
fn a_mail_function_and_a_mail_url_together_are_an_error() {
    let err = builder()
        .storage_url("memory")
        .set("SESAME_EMAIL_WEBHOOK_URL", "http://127.0.0.1:9/hook")
        .send_email(|_| Ok(()))
        .build()
        .err()
        .unwrap();
    assert!(
        format!("{err:#}").contains("a mail transport is given in code"),
        "{err:#}"
    );
}

#[test]
fn plugins_and_their_options_are_set_in_code() {
    let app = builder()
        .storage_url("memory")
        .plugins(["username", "jwt"])
        .set("SESAME_JWT_ISSUER", "https://issuer.example.com")
        .build()
        .unwrap();
    let ids: Vec<&str> = app.plugins.iter().map(|p| p.id).collect();
    assert_eq!(ids, ["username", "jwt"]);
    assert_eq!(app.config.jwt.issuer.as_deref(), Some("https://issuer.example.com"));
    let available = app
        .call(
            "isUsernameAvailable",
            sesame::ApiInput::new().body(json!({"username": "ada"})),
        )
        .unwrap();
    assert_eq!(available, json!({"available": true}));
}

crate::backend_suite!(built_app_sends_mail_through_the_programs_function_and_serves_it);

/// README.md's "Using it from Rust" shows only code that `examples/embed/` compiles and runs
/// (`.ci/run`): each Rust snippet is a run of lines of its `src/main.rs` (compared trimmed,
/// blank lines aside), and its dependency line is the example's.
#[test]
fn every_rust_snippet_of_the_readme_is_compiled_in_the_embed_example() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let start = readme.find("## Using it from Rust").expect("the section");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |end| end + 3)];
    let example = std::fs::read_to_string(root.join("examples/embed/src/main.rs")).unwrap();
    let lines = |text: &str| -> Vec<String> {
        text.lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    };
    let example = lines(&example);
    let mut snippets = 0;
    for (i, block) in section.split("```").enumerate() {
        if i % 2 == 0 {
            continue;
        }
        let (lang, code) = block.split_once('\n').unwrap();
        match lang {
            "rust" => {
                let code = lines(code);
                assert!(
                    example.windows(code.len()).any(|w| w == code.as_slice()),
                    "this README snippet is not in examples/embed/src/main.rs:\n{}",
                    code.join("\n")
                );
                snippets += 1;
            }
            "toml" => {
                let manifest = std::fs::read_to_string(root.join("examples/embed/Cargo.toml")).unwrap();
                assert!(code.contains("sesame = { path = "), "{code}");
                assert!(manifest.contains("sesame = { path = "), "{manifest}");
                assert!(!manifest.lines().any(|l| l.starts_with("[patch")), "{manifest}");
            }
            other => panic!("a ```{other} block in the section"),
        }
    }
    assert!(snippets >= 5, "{snippets} Rust snippets");
}
