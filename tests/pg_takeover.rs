//! Migrations and taking over a Better Auth database (PostgreSQL only).
//!
//! `fixtures/better-auth-pg.sql` is what the reference Better Auth server left in PostgreSQL
//! after one sign-up and one password-reset request: its own DDL (without `account.issuer`)
//! and its rows. Loading it and then starting Sesame on the same schema must upgrade it in
//! place and keep the user's password and session cookie working.

use std::sync::{Arc, Barrier};

use serde_json::Value;
use sesame::app::migrations;
use sesame::clock::Clock;
use sesame::config::{Config, PasswordHash, Secret};
use sesame::storage::postgres::PgStorage;
use sesame::storage::sql::migrations::CORE;
use sesame::storage::{AccountStore, ResetOutcome, Storage};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::support::postgres::{test_options, PgSchema};
use crate::support::{json_body, TestApp};

const FIXTURE_SQL: &str = include_str!("../fixtures/better-auth-pg.sql");

fn fixture() -> Value {
    serde_json::from_str(include_str!("../fixtures/better-auth-pg.json")).unwrap()
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("fixture has no {key}"))
}

/// A test app on a schema holding the Better Auth fixture, with the fixture's secret and the
/// clock just after the fixture was made.
fn taken_over(adjust: impl FnOnce(&mut Config)) -> Option<(TestApp, Value)> {
    let fx = fixture();
    let schema = PgSchema::create()?;
    schema.client().batch_execute(FIXTURE_SQL).unwrap();
    let mut config = Config::for_tests();
    config.secret = Secret::new(s(&fx, "secret"));
    adjust(&mut config);
    let t = TestApp::on_schema(schema, config);
    let created = OffsetDateTime::parse(s(&fx, "createdAt"), &Rfc3339).unwrap();
    t.clock.set(created + Duration::minutes(1));
    Some((t, fx))
}

#[test]
fn better_auth_users_keep_their_session_and_password() {
    let Some((t, fx)) = taken_over(|_| {}) else { return };
    let resp = t.get("/get-session", Some(s(&fx, "sessionCookie")));
    assert_eq!(resp.status, 200);
    let body = json_body(&resp);
    assert_eq!(body["session"]["token"], s(&fx, "sessionToken"));
    assert_eq!(body["user"]["email"], s(&fx, "email"));
    assert_eq!(body["user"]["id"], s(&fx, "userId"));

    let resp = t.sign_in(s(&fx, "signUpEmail"), s(&fx, "password"));
    assert_eq!(resp.status, 200, "{}", crate::support::body_text(&resp));
    assert_eq!(json_body(&resp)["user"]["id"], s(&fx, "userId"));
    crate::support::assert_error(
        &t.sign_in(s(&fx, "email"), "wrong-password-1"),
        401,
        "INVALID_EMAIL_OR_PASSWORD",
    );

    // The upgrade back-filled the credential account's issuer.
    let account = t.storage().find_credential_account(s(&fx, "userId")).unwrap().unwrap();
    assert_eq!(account.issuer, "local:credential");
    assert!(account.is_credential());

    // Better Auth's pending reset token is honoured.
    let identifier = format!("reset-password:{}", s(&fx, "resetPasswordToken"));
    let outcome = t
        .storage()
        .reset_password(&identifier, t.clock.now(), "new-hash", false)
        .unwrap();
    assert_eq!(outcome, ResetOutcome::Done(s(&fx, "userId").to_string()));
}

#[test]
fn sign_in_rehashes_better_auth_scrypt_when_asked() {
    let Some((t, fx)) = taken_over(|c| {
        c.rehash_on_sign_in = true;
        c.password_hash = PasswordHash::Bcrypt;
    }) else {
        return;
    };
    let user_id = s(&fx, "userId");
    let before = t.storage().find_credential_account(user_id).unwrap().unwrap();
    assert!(
        !before.password.as_deref().unwrap().starts_with("$2"),
        "fixture holds scrypt"
    );
    assert_eq!(t.sign_in(s(&fx, "email"), s(&fx, "password")).status, 200);
    let after = t.storage().find_credential_account(user_id).unwrap().unwrap();
    assert!(
        after.password.as_deref().unwrap().starts_with("$2b$04$"),
        "re-hashed with bcrypt"
    );
    // The session survives (SessionChange::Keep) and the password still works.
    assert_eq!(t.get("/get-session", Some(s(&fx, "sessionCookie"))).status, 200);
    assert_eq!(t.sign_in(s(&fx, "email"), s(&fx, "password")).status, 200);
}

#[test]
fn older_oauth_accounts_get_the_issuer_better_auth_derives() {
    let Some(schema) = PgSchema::create() else { return };
    let mut c = schema.client();
    c.batch_execute(FIXTURE_SQL).unwrap();
    let user = s(&fixture(), "userId").to_string();
    for (id, provider, sub) in [
        ("a-gh", "github", "42"),
        ("a-g", "google", "1089"),
        ("a-m", "my-idp", "x"),
    ] {
        c.execute(
            r#"insert into account (id, "accountId", "providerId", "userId", "createdAt", "updatedAt")
               values ($1, $2, $3, $4, now(), now())"#,
            &[&id, &sub, &provider, &user],
        )
        .unwrap();
    }
    let storage = schema.storage(&test_options());
    let issuer = |iss: &str, sub: &str| storage.find_account_by_issuer(iss, sub).unwrap().map(|a| a.id);
    assert_eq!(issuer("local:oauth:github", "42").as_deref(), Some("a-gh"));
    assert_eq!(issuer("https://accounts.google.com", "1089").as_deref(), Some("a-g"));
    assert_eq!(issuer("local:oauth:my-idp", "x").as_deref(), Some("a-m"));
    let nullable: String = c
        .query_one(
            "select is_nullable from information_schema.columns where table_schema = current_schema() and table_name = 'account' and column_name = 'issuer'",
            &[],
        )
        .unwrap()
        .get(0);
    // Nullable on purpose: Better Auth 1.7.25 refuses a required column it never writes.
    assert_eq!(nullable, "YES");
    let unset: i64 = c
        .query_one(r#"select count(*) from account where issuer is null"#, &[])
        .unwrap()
        .get(0);
    assert_eq!(unset, 0, "every row has an issuer");
}

#[test]
fn concurrent_migrators_apply_each_file_once() {
    let Some(schema) = PgSchema::create() else { return };
    let url = schema.url();
    let barrier = Arc::new(Barrier::new(4));
    let applied: Vec<&str> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (b, url) = (barrier.clone(), url.clone());
                scope.spawn(move || {
                    // Unwrapped after the barrier, so a failed open fails the test, never hangs it.
                    let storage = PgStorage::new(&url, &test_options());
                    b.wait();
                    storage.unwrap().migrate(&migrations()).unwrap()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let mut names: Vec<&str> = migrations().iter().map(|m| m.name).collect();
    names.sort_unstable();
    assert!(names.len() > CORE.len(), "plugin migrations are included");
    let mut sorted = applied.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, names, "every migration applied exactly once");
    let storage = PgStorage::new(&url, &test_options()).unwrap();
    assert!(storage.pending_migrations(&migrations()).unwrap().is_empty());
    assert!(
        storage.migrate(&migrations()).unwrap().is_empty(),
        "a second run is a no-op"
    );
    assert_eq!(storage.kind(), "postgres");
}

/// Better Auth 1.7.25 inserts accounts without `issuer`; after Sesame's migrations such a
/// write must still succeed (and get the issuer Sesame would derive), so the two servers can
/// share one database.
#[test]
fn better_auth_inserts_without_issuer_still_work_after_migration() {
    let Some((t, fx)) = taken_over(|_| {}) else { return };
    let mut client = t.pg.as_ref().unwrap().client();
    let user = s(&fx, "userId");
    client
        .execute(
            r#"insert into "account" ("id", "accountId", "providerId", "userId", "accessToken", "createdAt", "updatedAt")
               values ('ba-acc-1', '777', 'github', $1, 'gho_x', now(), now())"#,
            &[&user],
        )
        .unwrap();
    client
        .execute(
            r#"insert into "account" ("id", "accountId", "providerId", "userId", "createdAt", "updatedAt")
               values ('ba-acc-2', 'g-sub', 'google', $1, now(), now())"#,
            &[&user],
        )
        .unwrap();
    let github = t
        .storage()
        .find_account_by_issuer("local:oauth:github", "777")
        .unwrap()
        .unwrap();
    assert_eq!(github.id, "ba-acc-1");
    let google = t
        .storage()
        .find_account_by_issuer("https://accounts.google.com", "g-sub")
        .unwrap()
        .unwrap();
    assert_eq!(google.id, "ba-acc-2");
    // An explicit issuer is kept as written.
    client
        .execute(
            r#"insert into "account" ("id", "issuer", "accountId", "providerId", "userId", "createdAt", "updatedAt")
               values ('ba-acc-3', 'https://issuer.example', 'sub-3', 'oidc', $1, now(), now())"#,
            &[&user],
        )
        .unwrap();
    assert!(t
        .storage()
        .find_account_by_issuer("https://issuer.example", "sub-3")
        .unwrap()
        .is_some());
}
