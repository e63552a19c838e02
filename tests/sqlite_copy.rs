//! `sesame copy-to`: a SQLite database moved into an empty PostgreSQL one, every row intact,
//! so users keep their sessions and passwords across the move.

use std::process::Command;

use serde_json::json;
use sesame::config::Config;
use sesame::storage::{Jwk, Storage};
use time::macros::datetime;

use crate::support::postgres::PgSchema;
use crate::support::{json_body, Backend, TestApp, PASSWORD};

const BIN: &str = env!("CARGO_BIN_EXE_sesame");

fn copy_to(from: &TestApp, to: &PgSchema) -> std::process::Output {
    Command::new(BIN)
        .args(["copy-to", &to.url()])
        .env("DATABASE_URL", from.sqlite.as_ref().unwrap().url())
        .output()
        .unwrap()
}

#[test]
fn copy_to_moves_every_row_into_an_empty_postgres() {
    let Some(schema) = PgSchema::create() else { return };
    let from = TestApp::new(Backend::Sqlite);
    let (resp, alice_cookie) = from.sign_up("alice@example.com");
    let alice_token = json_body(&resp)["token"].as_str().unwrap().to_string();
    let (resp, _) = from.sign_up("bob@example.com");
    let bob = json_body(&resp)["user"]["id"].as_str().unwrap().to_string();
    let short = from.post(
        "/sign-in/email",
        json!({"email": "bob@example.com", "password": PASSWORD, "rememberMe": false}),
    );
    let short_token = json_body(&short)["token"].as_str().unwrap().to_string();
    let s: &dyn Storage = from.storage();
    let mut gh =
        sesame::storage::models::Account::credential(&bob, String::new(), datetime!(2026-11-26 12:00:01.5 UTC));
    (gh.id, gh.issuer, gh.account_id, gh.provider_id, gh.password) = (
        "acc-gh".into(),
        "local:oauth:github".into(),
        "42".into(),
        "github".into(),
        None,
    );
    gh.access_token = Some("gho_token".into());
    gh.access_token_expires_at = Some(datetime!(2026-11-26 13:00 UTC));
    s.create_account(&gh).unwrap();
    assert_eq!(
        from.post("/request-password-reset", json!({"email": "bob@example.com"}))
            .status,
        200
    );
    let jwk = Jwk {
        id: "kid-1".into(),
        public_key: r#"{"kty":"OKP"}"#.into(),
        private_key: "sealed".into(),
        created_at: datetime!(2026-11-26 12:00 UTC),
        expires_at: None,
        alg: Some("EdDSA".into()),
        crv: Some("Ed25519".into()),
    };
    s.create_jwk(&jwk).unwrap();
    let two_factor = sesame::storage::two_factor::TwoFactor {
        id: "tf-1".into(),
        secret: "sealed-secret".into(),
        backup_codes: "sealed-codes".into(),
        user_id: bob.clone(),
        verified: Some(true),
        failed_verification_count: Some(2),
        locked_until: Some(datetime!(2026-11-26 12:15 UTC)),
    };
    s.save_two_factor(&two_factor).unwrap();

    let out = copy_to(&from, &schema);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("users 2, accounts 3, sessions 3, verifications 1, jwks 1, twoFactor 1"),
        "{printed}"
    );
    assert!(
        !printed.contains("postgres://"),
        "the URL (and any password) is not printed"
    );

    let to = TestApp::on_schema(schema, Config::for_tests());
    let t: &dyn Storage = to.storage();
    let alice_session = s.find_session_with_user(&alice_token).unwrap();
    assert!(alice_session.is_some(), "the source holds alice's session");
    assert_eq!(t.find_session_with_user(&alice_token).unwrap(), alice_session);
    let (copied, _) = t.find_session_with_user(&short_token).unwrap().unwrap();
    assert!(copied.dont_remember_me, "rememberMe:false travels with the row");
    let bob_accounts = s.list_user_accounts(&bob).unwrap();
    assert_eq!(bob_accounts.len(), 2, "credential and github");
    assert_eq!(t.list_user_accounts(&bob).unwrap(), bob_accounts);
    assert_eq!(t.list_jwks().unwrap(), vec![jwk]);
    assert_eq!(t.find_two_factor(&bob).unwrap(), Some(two_factor));
    let resp = to.get("/get-session", Some(&alice_cookie));
    assert_eq!(json_body(&resp)["user"]["email"], "alice@example.com");
    assert_eq!(to.sign_in("bob@example.com", PASSWORD).status, 200);
    let reset = from.mail_to(sesame::mail::MailKind::ResetPassword, "bob@example.com");
    let identifier = format!("reset-password:{}", reset.token);
    let verification = s.find_verification(&identifier).unwrap();
    assert!(verification.is_some(), "the source holds the reset token");
    assert_eq!(t.find_verification(&identifier).unwrap(), verification);

    // A second copy would merge two user bases: refused, nothing changed.
    let counts = || {
        let mut pg = to.pg.as_ref().unwrap().client();
        ["user", "account", "session", "verification", "jwks"].map(|table| {
            let n: i64 = pg
                .query_one(&format!("select count(*) from \"{table}\""), &[])
                .unwrap()
                .get(0);
            (table, n)
        })
    };
    let before = counts();
    assert_eq!(before[0], ("user", 2));
    let again = copy_to(&from, to.pg.as_ref().unwrap());
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already has users"));
    assert_eq!(counts(), before);
}

#[test]
fn copy_to_needs_a_sqlite_source_and_a_postgres_target() {
    let out = Command::new(BIN)
        .args(["copy-to", "postgres://127.0.0.1:9/x"])
        .env("DATABASE_URL", "memory")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DATABASE_URL must be sqlite:PATH"));
    let out = Command::new(BIN)
        .args(["copy-to", "mysql://x"])
        .env("DATABASE_URL", "sqlite::memory:")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: sesame copy-to"));
}

#[test]
fn copy_to_from_a_mistyped_path_fails_and_creates_nothing() {
    let dir = crate::support::sqlite::SqliteFile::new();
    let missing = dir.path.with_file_name("typo.db");
    let out = Command::new(BIN)
        .args(["copy-to", "postgres://127.0.0.1:9/x"])
        .env("DATABASE_URL", format!("sqlite:{}", missing.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not exist"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!missing.exists(), "no empty database file is left behind");
    assert!(!missing.with_file_name("typo.db-wal").exists());
}
