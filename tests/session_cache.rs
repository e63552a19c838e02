//! The session cache on PostgreSQL (`storage/session_cache.rs`): hits need no database, and
//! every change reaches every process through the database's notifications, whoever writes
//! it: another instance, an admin tool, plain SQL. Each test waits on the cache's own
//! counters (an eviction, a reconnect), bounded, never on time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::postgres::{test_options, PgSchema};
use crate::support::{cookie_header, json_body, TestApp};
use sesame::metrics::SessionCacheStats;
use sesame::storage::postgres::PgStorage;
use sesame::Config;

/// Waits (at most 20 s, a loaded machine) until `done` holds; panics naming `what`.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn stats(t: &TestApp) -> SessionCacheStats {
    t.storage().stats().session_cache.expect("the session cache is on")
}

/// An app on the schema's database whose listener, named after `application_name`, is
/// LISTENing (its cache in use). `owner` holds the schema (dropped with the app) when given.
fn instance(url: &str, application_name: &str, owner: Option<PgSchema>) -> TestApp {
    let url = format!("{url}&application_name={application_name}");
    let storage = Arc::new(PgStorage::new(&url, &test_options()).unwrap());
    storage.migrate(&sesame::app::migrations()).unwrap();
    let t = TestApp::with_storage(Config::for_tests(), storage, owner);
    wait_for("the listener to connect", || stats(&t).active);
    t
}

/// Two instances on one fresh schema (`a` owns it, `b`'s listener is `<schema>_b cache
/// listener`); `None` when PostgreSQL is unreachable.
fn two_instances() -> Option<(TestApp, TestApp, String)> {
    let schema = PgSchema::create()?;
    let (name, url) = (schema.name.clone(), schema.url());
    let a = instance(&url, &format!("{name}_a"), Some(schema));
    let b = instance(&url, &format!("{name}_b"), None);
    Some((a, b, name))
}

fn get_session(t: &TestApp, cookies: &str) -> serde_json::Value {
    let resp = t.get("/get-session", Some(cookies));
    assert_eq!(resp.status, 200);
    json_body(&resp)
}

/// Reads the session through `t` until it is cached there (a hit on the second read).
fn cached(t: &TestApp, cookies: &str) {
    let before = stats(t).hits;
    assert!(get_session(t, cookies)["session"].is_object());
    assert!(get_session(t, cookies)["session"].is_object());
    assert!(stats(t).hits > before, "the second read is a hit: {:?}", stats(t));
}

fn raw_sql(t: &TestApp, sql: &str) -> u64 {
    t.pg.as_ref()
        .expect("on PostgreSQL")
        .client()
        .execute(sql, &[])
        .unwrap()
}

#[test]
fn a_hit_answers_get_session_without_the_database() {
    let Some((a, _b, _)) = two_instances() else { return };
    let (_, cookies) = a.sign_up("hit@example.com");
    cached(&a, &cookies);
    // Lock the session table: a lookup reaching the database would wait for the lock.
    let mut locker = a.pg.as_ref().unwrap().client();
    let mut tx = locker.transaction().unwrap();
    tx.batch_execute(r#"lock table "session" in access exclusive mode"#)
        .unwrap();
    let misses = stats(&a).misses;
    let body = get_session(&a, &cookies);
    assert_eq!(body["user"]["email"], "hit@example.com");
    assert_eq!(stats(&a).misses, misses, "answered from the cache");
    tx.rollback().unwrap();
}

#[test]
fn the_sliding_refresh_still_writes_on_a_hit() {
    let Some((a, _b, _)) = two_instances() else { return };
    let (_, cookies) = a.sign_up("slide@example.com");
    cached(&a, &cookies);
    let before: time::OffsetDateTime =
        a.pg.as_ref()
            .unwrap()
            .client()
            .query_one(r#"select "expiresAt" from "session""#, &[])
            .unwrap()
            .get(0);
    a.clock.advance(time::Duration::days(1) + time::Duration::seconds(1));
    let resp = a.get("/get-session", Some(&cookies));
    assert_eq!(resp.status, 200);
    assert!(
        crate::support::set_cookie(&resp, "better-auth.session_token").is_some(),
        "the refreshed cookie is set"
    );
    let after: time::OffsetDateTime =
        a.pg.as_ref()
            .unwrap()
            .client()
            .query_one(r#"select "expiresAt" from "session""#, &[])
            .unwrap()
            .get(0);
    assert_eq!(after - before, time::Duration::days(1) + time::Duration::seconds(1));
    assert_eq!(
        json_body(&resp)["session"]["expiresAt"],
        sesame::clock::iso(after),
        "the answer is the written row"
    );
}

#[test]
fn a_sign_out_on_one_instance_is_seen_by_the_other() {
    let Some((a, b, _)) = two_instances() else { return };
    let (_, cookies) = a.sign_up("revoke@example.com");
    cached(&b, &cookies);
    let evicted = stats(&b).invalidations;
    let resp = a.post_with_cookies("/sign-out", json!({}), &cookies);
    assert_eq!(resp.status, 200);
    wait_for("b to hear of the sign-out", || stats(&b).invalidations > evicted);
    assert_eq!(get_session(&b, &cookies), serde_json::Value::Null);
    assert_eq!(get_session(&a, &cookies), serde_json::Value::Null, "a evicted at once");
}

#[test]
fn a_password_change_on_one_instance_ends_the_others_sessions_on_another() {
    let Some((a, b, _)) = two_instances() else { return };
    let (_, first) = a.sign_up("change@example.com");
    let second = cookie_header(&a.sign_in("change@example.com", crate::support::PASSWORD));
    cached(&b, &first);
    cached(&b, &second);
    let evicted = stats(&b).invalidations;
    let resp = a.post_with_cookies(
        "/change-password",
        json!({"currentPassword": crate::support::PASSWORD, "newPassword": "another-horse-battery", "revokeOtherSessions": true}),
        &second,
    );
    assert_eq!(resp.status, 200, "{}", crate::support::body_text(&resp));
    let kept = cookie_header(&resp);
    wait_for("b to hear of the change", || stats(&b).invalidations > evicted);
    assert_eq!(get_session(&b, &first), serde_json::Value::Null);
    assert_eq!(get_session(&b, &second), serde_json::Value::Null);
    assert_eq!(get_session(&b, &kept)["user"]["email"], "change@example.com");
}

#[test]
fn a_user_changed_by_plain_sql_is_seen() {
    let Some((a, b, _)) = two_instances() else { return };
    let (_, cookies) = a.sign_up("rename@example.com");
    cached(&b, &cookies);
    let evicted = stats(&b).invalidations;
    assert_eq!(
        raw_sql(&a, r#"update "user" set "name" = 'Renamed', "banned" = true"#),
        1
    );
    wait_for("b to hear of the update", || stats(&b).invalidations > evicted);
    let body = get_session(&b, &cookies);
    assert_eq!(body["user"]["name"], "Renamed");
}

#[test]
fn a_session_deleted_by_plain_sql_is_seen() {
    let Some((a, b, _)) = two_instances() else { return };
    let (_, cookies) = a.sign_up("psql@example.com");
    cached(&b, &cookies);
    cached(&a, &cookies);
    let (seen_a, seen_b) = (stats(&a).invalidations, stats(&b).invalidations);
    assert_eq!(raw_sql(&a, r#"delete from "session""#), 1);
    wait_for("both to hear of the delete", || {
        stats(&a).invalidations > seen_a && stats(&b).invalidations > seen_b
    });
    assert_eq!(get_session(&a, &cookies), serde_json::Value::Null);
    assert_eq!(get_session(&b, &cookies), serde_json::Value::Null);
}

#[test]
fn a_user_deleted_by_plain_sql_is_seen() {
    let Some((a, b, _)) = two_instances() else { return };
    let (_, cookies) = a.sign_up("gone@example.com");
    cached(&b, &cookies);
    let evicted = stats(&b).invalidations;
    raw_sql(&a, r#"delete from "session""#);
    raw_sql(&a, r#"delete from "account""#);
    assert_eq!(raw_sql(&a, r#"delete from "user""#), 1);
    wait_for("b to hear of the delete", || stats(&b).invalidations > evicted);
    assert_eq!(get_session(&b, &cookies), serde_json::Value::Null);
}

/// Killing the listener's backend stops the cache: a session revoked while the listener
/// reconnects (its notification lost) is never served, and after the reconnect the cache
/// starts empty and fills again.
#[test]
fn a_lost_listener_never_serves_what_changed_meanwhile() {
    let Some((a, b, name)) = two_instances() else { return };
    let (_, cookies) = a.sign_up("drop@example.com");
    cached(&b, &cookies);
    let before = stats(&b);
    let killed: i64 =
        a.pg.as_ref()
            .unwrap()
            .client()
            .query_one(
                "select count(pg_terminate_backend(pid)) from pg_stat_activity where application_name = $1",
                &[&format!("{name}_b cache listener")],
            )
            .unwrap()
            .get(0);
    assert_eq!(killed, 1, "b's listener has its own application_name");
    wait_for("b to notice the lost listener", || {
        stats(&b).disconnects > before.disconnects
    });
    // Nobody listens for b now: this delete's notification is lost for b.
    assert_eq!(raw_sql(&a, r#"delete from "session""#), 1);
    assert_eq!(
        get_session(&b, &cookies),
        serde_json::Value::Null,
        "bypassed, not stale"
    );
    wait_for("b's listener to reconnect", || {
        let s = stats(&b);
        s.connects > before.connects && s.active
    });
    assert_eq!(get_session(&b, &cookies), serde_json::Value::Null);
    let again = cookie_header(&a.sign_in("drop@example.com", crate::support::PASSWORD));
    cached(&b, &again);
}

/// A lookup that read a row before a change and inserts it after the change's notification
/// was applied must not cache the old row.
#[test]
fn a_fill_that_raced_a_notification_is_dropped() {
    let Some(schema) = PgSchema::create() else { return };
    let storage = schema.storage(&test_options());
    let cache = storage.session_cache().unwrap();
    wait_for("the listener", || cache.stats().active);
    let t = TestApp::on_schema(schema, Config::for_tests());
    // `storage` is this test's second handle on the schema; `t` drops the schema last.
    let (_, cookies) = t.sign_up("race@example.com");
    let token = cookies
        .split("session_token=")
        .nth(1)
        .and_then(|v| v.split('.').next())
        .unwrap()
        .to_string();
    use sesame::storage::SessionStore;
    // The lookup misses and reads the row (here through a storage without a cache)…
    let Err(Some(ticket)) = cache.get(&token) else {
        panic!("a miss")
    };
    let plain = PgStorage::new(
        &t.pg.as_ref().unwrap().url(),
        &sesame::storage::postgres::PgOptions {
            session_cache: None,
            ..test_options()
        },
    )
    .unwrap();
    let (session, user) = plain.find_session_with_user(&token).unwrap().unwrap();
    // …then the user changes and the notification is applied before the insert.
    let heard = cache.stats().invalidations;
    raw_sql(&t, r#"update "user" set "name" = 'Changed'"#);
    wait_for("the notification", || cache.stats().invalidations > heard);
    cache.fill(ticket, &session, &user);
    assert!(cache.get(&token).is_err(), "the stale row was not cached");
    assert_eq!(cache.stats().refused_fills, 1);
    let fresh = storage.find_session_with_user(&token).unwrap().unwrap();
    assert_eq!(fresh.1.name, "Changed");
}

#[test]
fn the_cache_keeps_at_most_its_bound() {
    let Some(schema) = PgSchema::create() else { return };
    let mut options = test_options();
    options.session_cache = Some(sesame::config::storage::CacheLimits {
        entries: 64,
        bytes: 1 << 20,
    });
    let storage = schema.storage(&options);
    let cache = storage.session_cache().unwrap();
    wait_for("the listener", || cache.stats().active);
    use sesame::storage::{SessionStore, UserStore};
    let now = time::OffsetDateTime::now_utc();
    let user = sesame::storage::models::User::new("N", "bound@example.com", None, now);
    let account = sesame::storage::models::Account::credential(&user.id, "hash".to_string(), now);
    storage.create_user_with_account(&user, &account).unwrap();
    for _ in 0..300 {
        let session =
            sesame::auth::session::new_session(&user.id, now, &Config::for_tests(), true, String::new(), String::new());
        storage.create_session(&session).unwrap();
        assert!(storage.find_session_with_user(&session.token).unwrap().is_some());
    }
    let s = cache.stats();
    assert!(s.sessions <= 64 && s.sessions >= 16, "{s:?}");
    assert_eq!(s.misses, 300);
}

/// Without the migration's triggers nothing would evict: the cache stays off until the
/// migration is applied.
#[test]
fn the_cache_is_off_until_the_triggers_exist() {
    let Some(schema) = PgSchema::create() else { return };
    let without: Vec<_> = sesame::app::migrations()
        .into_iter()
        .filter(|m| m.name != "0007_session_notify")
        .collect();
    let storage = PgStorage::new(&schema.url(), &test_options()).unwrap();
    storage.migrate(&without).unwrap();
    let cache = storage.session_cache().unwrap();
    assert!(matches!(cache.get("any"), Err(None)), "bypassed");
    storage.migrate(&sesame::app::migrations()).unwrap();
    wait_for("the cache to turn on", || cache.stats().active);
    assert_eq!(cache.stats().connects, 1);
}
