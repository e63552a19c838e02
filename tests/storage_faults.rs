//! Storage that fails to write: SQLite on a full disk (a small tmpfs filled to the last block)
//! and a PostgreSQL that refuses writes (this test's connections are read-only). A failed write
//! is an error (503 `DATABASE_UNAVAILABLE`, logged), never a success that saved nothing; the
//! strict rate limits fail closed; and no answer tells a right password from a wrong one.

use std::sync::Arc;

use serde_json::json;
use sesame::config::Config;
use sesame::ratelimit::{Decision, RateLimitStore, Rule};
use sesame::storage::postgres::PgStorage;
use sesame::storage::sqlite::SqliteStorage;
use sesame::storage::{Storage, StorageError};
use time::Duration;

use crate::support::postgres::{base_url, url_with_search_path, PgSchema};
use crate::support::tmpfs::SmallDisk;
use crate::support::{assert_error, json_body, sqlite, TestApp, PASSWORD};

const RULE: Rule = Rule {
    window_secs: 10,
    max: 3,
};

fn unavailable<T: std::fmt::Debug>(r: Result<T, StorageError>, what: &str) {
    match r {
        Err(StorageError::Unavailable(_)) => {}
        other => panic!("{what}: expected Unavailable, got {other:?}"),
    }
}

/// An app on a migrated SQLite database on the disk, and the storage itself.
fn sqlite_on(disk: &SmallDisk, config: Config) -> (TestApp, Arc<SqliteStorage>) {
    let storage = Arc::new(SqliteStorage::open(&disk.path("auth.db"), &sqlite::test_options()).unwrap());
    storage.migrate(&sesame::app::migrations()).unwrap();
    (TestApp::with_storage(config, storage.clone(), None), storage)
}

/// The test config with rate limiting on (as in production).
fn limited() -> Config {
    let mut c = Config::for_tests();
    c.rate_limit = true;
    c
}

/// Fills the disk with the database's WAL emptied first (`wal_checkpoint(TRUNCATE)`), so the
/// next write needs new space: a write that failed earlier may have left WAL space behind,
/// which a later write would reuse and so succeed for real.
fn full(disk: &SmallDisk) {
    disk.free();
    let c = rusqlite::Connection::open(disk.path("auth.db")).unwrap();
    c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    let (busy, _, _): (i64, i64, i64) = c
        .query_row("pragma wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!(busy, 0, "the checkpoint ran");
    drop(c);
    disk.fill();
}

#[test]
fn sqlite_full_disk_writes_are_errors_not_silent_successes() {
    let Some(disk) = SmallDisk::mount("2m") else { return };
    let (t, sqlite) = sqlite_on(&disk, limited());
    let (resp, _) = t.sign_up("ada@example.com");
    let body = json_body(&resp);
    let (user_id, token) = (
        body["user"]["id"].as_str().unwrap().to_string(),
        body["token"].as_str().unwrap().to_string(),
    );
    let store: &dyn RateLimitStore = sqlite.as_ref();
    let s: &dyn Storage = t.storage();
    let now = t.clock_now();
    assert_eq!(
        store.consume("1.2.3.4|/sign-in/email", RULE, 1_000).unwrap(),
        Decision::Allowed
    );

    full(&disk);
    unavailable(
        store.consume("1.2.3.4|/sign-in/email", RULE, 2_000),
        "rate-limit upsert",
    );
    full(&disk);
    unavailable(
        store.consume("5.6.7.8|/sign-in/email", RULE, 2_000),
        "rate-limit insert",
    );
    full(&disk);
    let update = sesame::storage::models::UserUpdate {
        name: Some("Renamed".into()),
        ..Default::default()
    };
    unavailable(s.update_user(&user_id, &update, now), "update_user");
    assert_eq!(
        s.find_user_by_id(&user_id).unwrap().unwrap().name,
        "Test User",
        "nothing was saved"
    );
    full(&disk);
    let later = now + Duration::days(2);
    unavailable(
        s.refresh_session(&token, later + Duration::days(7), later),
        "refresh_session",
    );
    let (session, _) = s.find_session_with_user(&token).unwrap().unwrap();
    assert_eq!(session.updated_at, now, "nothing was saved");

    disk.free();
    assert_eq!(s.update_user(&user_id, &update, now).unwrap().unwrap().name, "Renamed");
    assert_eq!(
        store.consume("1.2.3.4|/sign-in/email", RULE, 3_000).unwrap(),
        Decision::Allowed,
        "the failed attempts counted nothing: the second request of the bucket"
    );
}

/// Signs in with a wrong and with the right password: the two answers, status and body.
fn both_passwords(t: &TestApp, email: &str) -> [(u16, serde_json::Value); 2] {
    [t.sign_in(email, "wrong-password-123"), t.sign_in(email, PASSWORD)].map(|r| (r.status, json_body(&r)))
}

#[test]
fn sqlite_full_disk_answers_503_alike_for_a_right_and_a_wrong_password() {
    let Some(disk) = SmallDisk::mount("2m") else { return };
    let (t, _) = sqlite_on(&disk, limited());
    let (_, cookie) = t.sign_up("ada@example.com");
    full(&disk);
    // Per-client buckets in memory (the default): the password-attempt bucket in the
    // database cannot be written, so neither answer looks at the password.
    for (status, body) in both_passwords(&t, "ada@example.com") {
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["code"], "DATABASE_UNAVAILABLE");
    }
    let unknown = t.sign_in("nobody@example.com", PASSWORD);
    assert_error(&unknown, 503, "DATABASE_UNAVAILABLE");
    let renamed = t.post_with_cookies("/update-user", json!({"name": "X"}), &cookie);
    assert_error(&renamed, 503, "DATABASE_UNAVAILABLE");
    disk.free();
    t.clock.advance(Duration::seconds(11));
    assert_eq!(t.sign_in("ada@example.com", PASSWORD).status, 200);
    assert_error(
        &t.sign_in("ada@example.com", "wrong-password-123"),
        401,
        "INVALID_EMAIL_OR_PASSWORD",
    );
}

#[test]
fn sqlite_full_disk_fails_the_strict_database_limits_closed() {
    let Some(disk) = SmallDisk::mount("2m") else { return };
    let mut config = limited();
    config.rate_limit_storage = sesame::ratelimit::StoreKind::Database;
    let (t, _) = sqlite_on(&disk, config);
    t.sign_up("ada@example.com");
    full(&disk);
    // Unlimited guessing was the bug: every request counted as the first.
    for _ in 0..6 {
        for (status, body) in both_passwords(&t, "ada@example.com") {
            assert_eq!((status, body["code"].as_str()), (503, Some("DATABASE_UNAVAILABLE")));
        }
    }
    let forgot = t.post("/request-password-reset", json!({"email": "ada@example.com"}));
    assert_error(&forgot, 503, "DATABASE_UNAVAILABLE");
    assert_eq!(t.get("/ok", None).status, 200, "paths without a special rule fail open");
}

/// A URL for the schema whose sessions are read-only: every write fails with SQLSTATE 25006,
/// and only this test's connections are affected.
fn read_only_url(schema: &PgSchema) -> String {
    format!(
        "{}%20-cdefault_transaction_read_only%3Don",
        url_with_search_path(&base_url(), &schema.name)
    )
}

#[test]
fn postgres_refusing_writes_answers_503_alike_for_a_right_and_a_wrong_password() {
    let Some(schema) = PgSchema::create() else { return };
    let writable = TestApp::with_storage(
        limited(),
        Arc::new(schema.storage(&crate::support::postgres::test_options())),
        None,
    );
    let (_, cookie) = writable.sign_up("ada@example.com");
    let read_only = PgStorage::new(&read_only_url(&schema), &crate::support::postgres::test_options()).unwrap();
    let t = TestApp::with_storage(limited(), Arc::new(read_only), Some(schema));
    assert_eq!(t.get("/get-session", Some(&cookie)).status, 200, "reads work");
    for (status, body) in both_passwords(&t, "ada@example.com") {
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["code"], "DATABASE_UNAVAILABLE");
    }
    let renamed = t.post_with_cookies("/update-user", json!({"name": "X"}), &cookie);
    assert_error(&renamed, 503, "DATABASE_UNAVAILABLE");
    let sign_up = t.post(
        "/sign-up/email",
        json!({"name": "B", "email": "bob@example.com", "password": PASSWORD}),
    );
    assert_error(&sign_up, 503, "DATABASE_UNAVAILABLE");
    assert_eq!(writable.sign_in("ada@example.com", PASSWORD).status, 200);
}

#[test]
fn postgres_refusing_writes_fails_the_strict_database_limits_closed() {
    let Some(schema) = PgSchema::create() else { return };
    let writable = TestApp::with_storage(
        limited(),
        Arc::new(schema.storage(&crate::support::postgres::test_options())),
        None,
    );
    writable.sign_up("ada@example.com");
    let read_only = PgStorage::new(&read_only_url(&schema), &crate::support::postgres::test_options()).unwrap();
    let mut config = limited();
    config.rate_limit_storage = sesame::ratelimit::StoreKind::Database;
    let t = TestApp::with_storage(config, Arc::new(read_only), Some(schema));
    for _ in 0..4 {
        assert_error(&t.sign_in("ada@example.com", PASSWORD), 503, "DATABASE_UNAVAILABLE");
    }
    assert_eq!(t.get("/ok", None).status, 200);
}
