//! SQLite: taking over a database file Better Auth wrote, the values Sesame writes (as Better
//! Auth's SQLite adapter does), migrations, concurrent writers, a locked database, `:memory:`.
//!
//! `fixtures/better-auth.sqlite` is what Better Auth 1.7.25 on better-sqlite3 left after one
//! sign-up and one password-reset request (made by `fixtures/make-better-auth-sqlite.mjs`; its
//! secret, password, cookie and tokens are in `fixtures/better-auth-sqlite.json`). Starting
//! Sesame on a copy must upgrade it in place and keep the user's password and cookie working.

use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use serde_json::{json, Value};
use sesame::app::migrations;
use sesame::clock::Clock;
use sesame::config::{Config, Secret};
use sesame::storage::sqlite::{SqliteOptions, SqliteStorage};
use sesame::storage::{ResetOutcome, Storage};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::support::sqlite::{test_options, SqliteFile};
use crate::support::{assert_error, body_text, json_body, Backend, TestApp, PASSWORD};

fn fixture() -> Value {
    serde_json::from_str(include_str!("../fixtures/better-auth-sqlite.json")).unwrap()
}

fn fixture_file() -> SqliteFile {
    SqliteFile::copy_of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/better-auth.sqlite"))
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("fixture has no {key}"))
}

/// A test app on a copy of the Better Auth file, with the fixture's secret and the clock just
/// after the fixture was made.
fn taken_over() -> (TestApp, Value) {
    let fx = fixture();
    let mut config = Config::for_tests();
    config.secret = Secret::new(s(&fx, "secret"));
    let t = TestApp::on_sqlite_file(fixture_file(), config);
    let created = OffsetDateTime::parse(s(&fx, "createdAt"), &Rfc3339).unwrap();
    t.clock.set(created + time::Duration::minutes(1));
    (t, fx)
}

#[test]
fn better_auth_users_keep_their_session_and_password() {
    let (t, fx) = taken_over();
    let resp = t.get("/get-session", Some(s(&fx, "sessionCookie")));
    assert_eq!(resp.status, 200, "{}", body_text(&resp));
    let body = json_body(&resp);
    assert_eq!(body["session"]["token"], s(&fx, "sessionToken"));
    assert_eq!(body["user"]["email"], s(&fx, "email"));
    assert_eq!(body["user"]["emailVerified"], false);
    assert_eq!(body["user"]["createdAt"], s(&fx, "createdAt"));

    let resp = t.sign_in(s(&fx, "signUpEmail"), s(&fx, "password"));
    assert_eq!(resp.status, 200, "{}", body_text(&resp));
    assert_eq!(json_body(&resp)["user"]["id"], s(&fx, "userId"));
    assert_error(
        &t.sign_in(s(&fx, "email"), "wrong-password-1"),
        401,
        "INVALID_EMAIL_OR_PASSWORD",
    );

    // The upgrade back-filled the credential account's issuer.
    let account = t.storage().find_credential_account(s(&fx, "userId")).unwrap().unwrap();
    assert_eq!(account.issuer, "local:credential");

    // Better Auth's pending reset token is honoured.
    let identifier = format!("reset-password:{}", s(&fx, "resetPasswordToken"));
    let outcome = t
        .storage()
        .reset_password(&identifier, t.clock.now(), "new-hash", false)
        .unwrap();
    assert_eq!(outcome, ResetOutcome::Done(s(&fx, "userId").to_string()));
}

/// Better Auth 1.7.25 inserts accounts without `issuer`; after Sesame's migrations such a
/// write still works and gets the issuer Sesame derives, so both servers can share the file.
#[test]
fn better_auth_inserts_without_issuer_get_one() {
    let (t, fx) = taken_over();
    let conn = t.sqlite.as_ref().unwrap().conn();
    let insert = r#"insert into "account" ("id", "accountId", "providerId", "userId", "createdAt", "updatedAt")
        values (?1, ?2, ?3, ?4, '2026-11-26T21:00:00.000Z', '2026-11-26T21:00:00.000Z')"#;
    for (id, sub, provider) in [("ba-1", "777", "github"), ("ba-2", "g-sub", "google")] {
        conn.execute(insert, (id, sub, provider, s(&fx, "userId"))).unwrap();
    }
    let found = |iss: &str, sub: &str| t.storage().find_account_by_issuer(iss, sub).unwrap().map(|a| a.id);
    assert_eq!(found("local:oauth:github", "777").as_deref(), Some("ba-1"));
    assert_eq!(found("https://accounts.google.com", "g-sub").as_deref(), Some("ba-2"));
    // An explicit issuer is kept as written, and (issuer, accountId) is unique.
    let explicit = r#"insert into "account" ("id", "issuer", "accountId", "providerId", "userId", "createdAt", "updatedAt")
        values (?1, 'https://issuer.example', 'sub-3', 'oidc', ?2, '2026-11-26T21:00:00.000Z', '2026-11-26T21:00:00.000Z')"#;
    conn.execute(explicit, ("ba-3", s(&fx, "userId"))).unwrap();
    assert_eq!(found("https://issuer.example", "sub-3").as_deref(), Some("ba-3"));
    assert!(conn.execute(explicit, ("ba-4", s(&fx, "userId"))).is_err());
    let nulls: i64 = conn
        .query_row(r#"select count(*) from "account" where "issuer" is null"#, [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(nulls, 0);
}

/// A database whose tables Better Auth made with more columns (its username plugin) migrates:
/// the `add column`s of existing columns are skipped.
#[test]
fn better_auth_username_columns_are_kept() {
    let f = fixture_file();
    f.conn()
        .execute_batch(
            r#"alter table "user" add column "username" text;
               alter table "user" add column "displayUsername" text;
               create unique index "user_username_uidx" on "user" ("username");
               update "user" set "username" = 'fixture', "displayUsername" = 'Fixture';"#,
        )
        .unwrap();
    let storage = f.storage(&test_options());
    let (user, account) = sesame::storage::UsernameStore::find_user_with_credential_by_username(&storage, "fixture")
        .unwrap()
        .unwrap();
    assert_eq!(user.display_username.as_deref(), Some("Fixture"));
    assert!(account.unwrap().is_credential());
}

/// Rows Sesame writes look exactly like Better Auth's: ISO-8601 text dates with milliseconds
/// and `Z`, integer booleans; and Sesame's schema is Better Auth's plus `issuer`.
#[test]
fn sesame_writes_what_better_auth_writes() {
    let t = TestApp::new(Backend::Sqlite);
    let (resp, _) = t.sign_up("writer@example.com");
    let user = &json_body(&resp)["user"];
    let conn = t.sqlite.as_ref().unwrap().conn();
    let (created, created_type, verified_type): (String, String, String) = conn
        .query_row(
            r#"select "createdAt", typeof("createdAt"), typeof("emailVerified") from "user""#,
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(created, user["createdAt"].as_str().unwrap());
    assert_eq!(created, "2026-11-26T12:00:00.000Z");
    assert_eq!((created_type.as_str(), verified_type.as_str()), ("text", "integer"));
    let (expires, ip): (String, String) = conn
        .query_row(r#"select "expiresAt", "ipAddress" from "session""#, [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(expires, "2026-12-03T12:00:00.000Z");
    assert_eq!(ip, "");
    let schema: Vec<String> = {
        let mut st = conn
            .prepare(r#"select "sql" from sqlite_master where "name" in ('user', 'account') order by "name""#)
            .unwrap();
        let rows = st.query_map([], |r| r.get(0)).unwrap();
        rows.map(Result::unwrap).collect()
    };
    let fx = fixture();
    let ba_account = fx["schema"][2].as_str().unwrap();
    let sesame_account = schema[0].replace("create table if not exists", "CREATE TABLE");
    assert_eq!(
        sesame_account,
        format!("{}, \"issuer\" text)", ba_account.trim_end_matches(')'))
    );
    assert!(schema[1].contains(r#""emailVerified" integer not null"#));
}

#[test]
fn concurrent_migrators_apply_each_file_once() {
    let f = SqliteFile::new();
    let path = f.path_str().to_string();
    let barrier = Arc::new(Barrier::new(4));
    // Four independent connections to one new file (as four processes would have); opened
    // one after another, then migrating at the same instant.
    let storages: Vec<SqliteStorage> = (0..4)
        .map(|_| SqliteStorage::open(&path, &test_options()).unwrap())
        .collect();
    let applied: Vec<&str> = std::thread::scope(|scope| {
        let handles: Vec<_> = storages
            .iter()
            .map(|storage| {
                let b = barrier.clone();
                scope.spawn(move || {
                    b.wait();
                    storage.migrate(&migrations()).unwrap()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let mut names: Vec<&str> = migrations().iter().map(|m| m.name).collect();
    names.sort_unstable();
    let mut sorted = applied.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, names, "every migration applied exactly once");
    let storage = f.storage(&test_options());
    assert!(storage.pending_migrations(&migrations()).unwrap().is_empty());
    assert_eq!(storage.kind(), "sqlite");
    let mode: String = f.conn().query_row("pragma journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
}

/// Another process holding the write lock past the busy timeout gets a 503
/// `DATABASE_UNAVAILABLE`, never SQLite's "database is locked"; reads go on meanwhile.
#[test]
fn a_locked_database_answers_503_and_recovers() {
    let f = SqliteFile::new();
    let options = SqliteOptions {
        busy_timeout: Duration::from_millis(100),
        ..test_options()
    };
    let storage = Arc::new(f.storage(&options));
    let t = TestApp::with_storage(Config::for_tests(), storage, None);
    let (_, cookie) = t.sign_up("first@example.com");

    let locker = f.conn();
    locker.execute_batch("begin exclusive").unwrap();
    let resp = t.post(
        "/sign-up/email",
        json!({"name": "N", "email": "second@example.com", "password": PASSWORD}),
    );
    assert_error(&resp, 503, "DATABASE_UNAVAILABLE");
    assert!(!body_text(&resp).contains("locked"));
    assert_eq!(
        t.get("/get-session", Some(&cookie)).status,
        200,
        "WAL readers are not blocked"
    );
    locker.execute_batch("rollback").unwrap();

    t.sign_up("second@example.com");
    assert!(t.storage().find_user_by_email("second@example.com").unwrap().is_some());
}

/// Sign-ups racing from many threads on the one file: every distinct email gets exactly one
/// user, one account and one session, and a repeated email exactly one winner.
#[test]
fn concurrent_sign_ups_on_one_file() {
    let t = TestApp::new(Backend::Sqlite);
    let barrier = Barrier::new(16);
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let (t, barrier) = (&t, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    let email = if i % 2 == 0 {
                        format!("user{i}@example.com")
                    } else {
                        "same@example.com".to_string()
                    };
                    t.post(
                        "/sign-up/email",
                        json!({"name": "N", "email": email, "password": PASSWORD}),
                    )
                    .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 9, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 422).count(), 7, "{statuses:?}");
    let conn = t.sqlite.as_ref().unwrap().conn();
    let count = |table: &str| -> i64 {
        conn.query_row(&format!(r#"select count(*) from "{table}""#), [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!((count("user"), count("account"), count("session")), (9, 9, 9));
}

/// `sqlite::memory:` is one private database per connection, so it must be served by exactly
/// one connection: what one request writes, the next one (from another thread) reads.
#[test]
fn sqlite_memory_is_one_database_for_every_request() {
    let mut config = Config::for_tests();
    config.storage = sesame::config::StorageUrl::Sqlite(":memory:".into());
    let app = Arc::new(sesame::App::from_config(config).unwrap());
    assert_eq!(app.storage.kind(), "sqlite");
    let signed_up: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let app = app.clone();
                scope.spawn(move || {
                    let email = format!("mem{i}@example.com");
                    let req = sesame::http::Request::post("/api/auth/sign-up/email")
                        .with_json(&json!({"name": "M", "email": email, "password": PASSWORD}));
                    assert_eq!(app.handle_http(req).status, 200);
                    email
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for email in signed_up {
        let req = sesame::http::Request::post("/api/auth/sign-in/email")
            .with_json(&json!({"email": email, "password": PASSWORD}));
        let resp = app.handle_http(req);
        assert_eq!(resp.status, 200, "{}", body_text(&resp));
    }
}
