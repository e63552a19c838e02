//! The durable outbox (SQLite and PostgreSQL storage), mostly over the real binary and a real
//! SMTP server (`tests/smtp_sink.py`) that is stopped and started: an outage delays every email
//! and each arrives once; an email queued before `kill -9` is sent after the restart; two
//! processes on one PostgreSQL database send each email once; a full queue answers 503 before
//! changing anything and shows in the metrics; an email past its retry time is given up with a
//! log line that holds no link. Memory storage keeps the in-process outbox.
//!
//! Waits are on events (log lines, files the sink writes, metric samples), each bounded.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use sesame::clock::SystemClock;
use sesame::storage::mail_queue::{MailQueueStore, QueuedMail};
use sesame::storage::memory::MemoryStorage;
use sesame::{App, Config};

use crate::support::binary::{self, tempdir, Served};
use crate::support::http_client;
use crate::support::postgres::{self as pg, PgSchema};
use crate::support::scrape::{get, metrics_addr, scrape, wait_for_sample};
use crate::support::smtp_sink::{free_port, messages, start_smtp_sink_at, wait_for_messages_within};

const JSON: [(&str, &str); 1] = [("content-type", "application/json")];
const USER: &str = "sesame";
const PASS: &str = "sink-pass";
/// Long enough for a loaded 2-core machine; every wait ends as soon as its event happens.
const WAIT: Duration = Duration::from_secs(60);
const DEPTH: &str = "sesame_mail_queue_depth";

/// `sesame serve` on `database`, sending SMTP to 127.0.0.1:`port` (which may be down), metrics
/// on, retries at most a second apart, with `extra` added.
fn serve(database: &str, port: u16, extra: &[(&str, &str)]) -> Served {
    let smtp = format!("smtp://{USER}:{PASS}@127.0.0.1:{port}?tls=none");
    let mut env = vec![
        ("DATABASE_URL", database),
        ("SESAME_SMTP_URL", smtp.as_str()),
        ("SESAME_EMAIL_FROM", "no-reply@sesame.test"),
        ("SESAME_METRICS_ADDR", "127.0.0.1:0"),
        ("SESAME_MAIL_RETRY_MAX_SECONDS", "1"),
    ];
    env.extend_from_slice(extra);
    binary::serve(&env)
}

fn post(addr: SocketAddr, path: &str, body: Value) -> http_client::RawResponse {
    http_client::send(
        addr,
        "POST",
        &format!("/api/auth{path}"),
        &JSON,
        body.to_string().as_bytes(),
    )
}

fn sign_up(addr: SocketAddr, email: &str) {
    let resp = post(
        addr,
        "/sign-up/email",
        json!({"name": "Outbox", "email": email, "password": "outbox-Pa55-word"}),
    );
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
}

fn request_reset(addr: SocketAddr, email: &str) -> http_client::RawResponse {
    post(
        addr,
        "/request-password-reset",
        json!({"email": email, "redirectTo": "/reset"}),
    )
}

fn failed_delivery(line: &str) -> bool {
    line.contains("mail delivery failed kind=reset-password")
}

/// The recipients of every message the sink received, in order.
fn recipients(dir: &std::path::Path) -> Vec<String> {
    messages(dir)
        .iter()
        .map(|m| m["rcpt_tos"][0].as_str().unwrap().to_string())
        .collect()
}

/// A database for the binary: a SQLite file in `dir`, or a fresh PostgreSQL schema (`None`
/// when PostgreSQL is unavailable outside CI).
fn database(postgres: bool, dir: &tempdir::Dir) -> Option<(String, Option<PgSchema>)> {
    if postgres {
        let schema = PgSchema::create()?;
        Some((schema.url(), Some(schema)))
    } else {
        Some((format!("sqlite:{}/outbox.db", dir.path().display()), None))
    }
}

/// Six password resets while the mail server is down: each is answered 200, tried and failed;
/// once the server is up every email arrives exactly once and the queue empties.
fn outage_then_each_email_once(postgres: bool) {
    let dir = tempdir::Dir::new();
    let Some((db, _schema)) = database(postgres, &dir) else {
        return;
    };
    let port = free_port();
    let served = serve(&db, port, &[]);
    let metrics = metrics_addr(&served);
    let users: Vec<String> = (0..6).map(|i| format!("outage{i}@example.com")).collect();
    for u in &users {
        sign_up(served.addr, u);
        assert_eq!(request_reset(served.addr, u).status, 200);
    }
    assert!(
        served.wait_for_lines(failed_delivery, users.len(), WAIT),
        "every email was tried while the server was down: {:#?}",
        served.lines()
    );
    let held = scrape(metrics);
    assert_eq!(get(&held, "sesame_mail_queue_depth{}"), 6.0, "{held:#?}");
    assert_eq!(get(&held, "sesame_mail_sent_total{}"), 0.0);

    let mail_dir = dir.path().join("mail");
    let Some(_sink) = start_smtp_sink_at(USER, PASS, port, &mail_dir) else {
        return;
    };
    wait_for_messages_within(&mail_dir, users.len(), WAIT);
    wait_for_sample(metrics, DEPTH, 0.0, WAIT);
    let got: Vec<String> = recipients(&mail_dir);
    assert_eq!(got.len(), users.len(), "no email twice: {got:?}");
    let distinct: BTreeSet<&String> = got.iter().collect();
    assert_eq!(distinct, users.iter().collect::<BTreeSet<_>>());
    let after = scrape(metrics);
    assert_eq!(get(&after, "sesame_mail_sent_total{}"), 6.0, "{after:#?}");
    assert_eq!(get(&after, "sesame_mail_failed_total{}"), 0.0);
    for m in messages(&mail_dir) {
        assert!(m["text"].as_str().unwrap().contains("/reset-password/"), "{m}");
    }
}

#[test]
fn sqlite_smtp_outage_then_every_email_arrives_once() {
    outage_then_each_email_once(false);
}

#[test]
fn postgres_smtp_outage_then_every_email_arrives_once() {
    outage_then_each_email_once(true);
}

/// An email whose delivery failed is in the database when the process is killed with SIGKILL;
/// the next process on the database sends it, once.
fn queued_email_survives_kill_9(postgres: bool) {
    let dir = tempdir::Dir::new();
    let Some((db, _schema)) = database(postgres, &dir) else {
        return;
    };
    let port = free_port();
    let mut first = serve(&db, port, &[]);
    sign_up(first.addr, "killed@example.com");
    assert_eq!(request_reset(first.addr, "killed@example.com").status, 200);
    assert!(first.wait_for_lines(failed_delivery, 1, WAIT), "{:#?}", first.lines());
    first.child.kill().unwrap();
    first.child.wait().unwrap();

    let mail_dir = dir.path().join("mail");
    let Some(_sink) = start_smtp_sink_at(USER, PASS, port, &mail_dir) else {
        return;
    };
    let second = serve(&db, port, &[]);
    let metrics = metrics_addr(&second);
    wait_for_messages_within(&mail_dir, 1, WAIT);
    wait_for_sample(metrics, DEPTH, 0.0, WAIT);
    assert_eq!(recipients(&mail_dir), ["killed@example.com"]);
    assert_eq!(get(&scrape(metrics), "sesame_mail_sent_total{}"), 1.0);
}

#[test]
fn sqlite_email_queued_before_kill_9_is_sent_after_restart() {
    queued_email_survives_kill_9(false);
}

#[test]
fn postgres_email_queued_before_kill_9_is_sent_after_restart() {
    queued_email_survives_kill_9(true);
}

/// Two processes on one PostgreSQL database, twenty emails queued through both while the mail
/// server is down: once it is up, both delivery threads race for the backlog and each email
/// arrives once; the two processes' sent counts add up to twenty.
#[test]
fn two_processes_on_one_postgres_send_each_email_once() {
    let dir = tempdir::Dir::new();
    let Some((db, _schema)) = database(true, &dir) else {
        return;
    };
    let port = free_port();
    let a = serve(&db, port, &[]);
    let b = serve(&db, port, &[]);
    let users: Vec<String> = (0..20).map(|i| format!("twice{i}@example.com")).collect();
    for (i, u) in users.iter().enumerate() {
        let via = if i % 2 == 0 { a.addr } else { b.addr };
        sign_up(via, u);
        assert_eq!(request_reset(via, u).status, 200);
    }
    assert!(a.wait_for_lines(failed_delivery, 1, WAIT));
    assert!(b.wait_for_lines(failed_delivery, 1, WAIT));
    let (ma, mb) = (metrics_addr(&a), metrics_addr(&b));

    let mail_dir = dir.path().join("mail");
    let Some(_sink) = start_smtp_sink_at(USER, PASS, port, &mail_dir) else {
        return;
    };
    wait_for_messages_within(&mail_dir, users.len(), WAIT);
    wait_for_sample(ma, DEPTH, 0.0, WAIT);
    wait_for_sample(mb, DEPTH, 0.0, WAIT);
    let got = recipients(&mail_dir);
    assert_eq!(got.len(), users.len(), "an email was sent twice: {got:?}");
    assert_eq!(
        got.iter().collect::<BTreeSet<_>>(),
        users.iter().collect::<BTreeSet<_>>()
    );
    let sent = get(&scrape(ma), "sesame_mail_sent_total{}") + get(&scrape(mb), "sesame_mail_sent_total{}");
    assert_eq!(sent, 20.0);
}

/// With room for two emails and the mail server down: two resets are answered 200; the third,
/// and one for an address with no account, are answered 503 `MAIL_QUEUE_FULL` with
/// `Retry-After`, and the third user got no reset token. The metrics show the depth at the
/// capacity and the refusals. Once the server is up the queue drains and resets work again.
#[test]
fn a_full_outbox_answers_503_before_any_change_and_the_metrics_show_it() {
    let dir = tempdir::Dir::new();
    let db_path = dir.path().join("full.db");
    let db = format!("sqlite:{}", db_path.display());
    let port = free_port();
    let served = serve(&db, port, &[("SESAME_MAIL_QUEUE_CAPACITY", "2")]);
    let metrics = metrics_addr(&served);
    for u in ["full0@example.com", "full1@example.com", "full2@example.com"] {
        sign_up(served.addr, u);
    }
    assert_eq!(request_reset(served.addr, "full0@example.com").status, 200);
    assert_eq!(request_reset(served.addr, "full1@example.com").status, 200);
    for who in ["full2@example.com", "nobody@example.com"] {
        let refused = request_reset(served.addr, who);
        assert_eq!(refused.status, 503, "{who}");
        let body = refused.json();
        assert_eq!(body["code"], "MAIL_QUEUE_FULL", "{body}");
        assert_eq!(body["status"], 503);
        assert!(body["message"].is_string());
        assert_eq!(refused.header("retry-after"), Some("60"));
    }
    let conn = rusqlite::Connection::open(&db_path).unwrap();
    let tokens: i64 = conn
        .query_row(
            r#"select count(*) from "verification" where "identifier" like 'reset-password:%'"#,
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tokens, 2, "the refused reset left no token");
    let queued: i64 = conn
        .query_row(r#"select count(*) from "sesameMailOutbox""#, [], |r| r.get(0))
        .unwrap();
    assert_eq!(queued, 2);
    let full = scrape(metrics);
    assert_eq!(get(&full, "sesame_mail_queue_depth{}"), 2.0, "{full:#?}");
    assert_eq!(get(&full, "sesame_mail_queue_capacity{}"), 2.0);
    assert_eq!(get(&full, "sesame_mail_refused_total{}"), 2.0);

    let mail_dir = dir.path().join("mail");
    let Some(_sink) = start_smtp_sink_at(USER, PASS, port, &mail_dir) else {
        return;
    };
    wait_for_messages_within(&mail_dir, 2, WAIT);
    wait_for_sample(metrics, DEPTH, 0.0, WAIT);
    assert_eq!(request_reset(served.addr, "full2@example.com").status, 200);
    wait_for_messages_within(&mail_dir, 3, WAIT);
    assert_eq!(recipients(&mail_dir).len(), 3);
}

/// The capacity is also kept by the insert itself: a queue that is full in the database
/// (rows another process queued) refuses one more row; the refusal counts in the metric.
#[test]
fn the_queue_insert_refuses_a_row_beyond_the_capacity() {
    let file = crate::support::sqlite::SqliteFile::new();
    let store = Arc::new(file.storage(&crate::support::sqlite::test_options()));
    let row = |id: &str| QueuedMail {
        id: id.to_string(),
        kind: "reset-password".into(),
        security: true,
        recipient: "cap@example.com".into(),
        subject: String::new(),
        text: String::new(),
        html: String::new(),
        url: String::new(),
        token: String::new(),
        created_at: 0,
        attempts: 0,
    };
    assert!(store.enqueue_mail(&row("a"), 1, 2).unwrap());
    assert!(store.enqueue_mail(&row("b"), 1, 2).unwrap());
    assert!(!store.enqueue_mail(&row("c"), 1, 2).unwrap());
    assert_eq!(store.queued_mail().unwrap(), 2);
}

/// An email still undelivered `SESAME_MAIL_RETRY_HOURS` after it was queued is given up: an
/// error line naming the kind and domain, never the address, link or token; the row is gone
/// and it counts as failed.
#[test]
fn an_email_past_its_retry_time_is_given_up_with_a_log_line_free_of_its_link() {
    let dir = tempdir::Dir::new();
    let db = format!("sqlite:{}/giveup.db", dir.path().display());
    // 0.0005 h = 1.8 s.
    let served = serve(&db, free_port(), &[("SESAME_MAIL_RETRY_HOURS", "0.0005")]);
    let metrics = metrics_addr(&served);
    sign_up(served.addr, "gives.up@example.com");
    assert_eq!(request_reset(served.addr, "gives.up@example.com").status, 200);
    let line = served
        .wait_for_line(|l| l.contains("mail not delivered"), WAIT)
        .expect("the give-up is logged");
    assert!(line.contains("ERROR"), "{line}");
    assert!(
        line.contains("kind=reset-password") && line.contains("domain=example.com"),
        "{line}"
    );
    wait_for_sample(metrics, DEPTH, 0.0, WAIT);
    let after = scrape(metrics);
    assert_eq!(get(&after, "sesame_mail_failed_total{}"), 1.0, "{after:#?}");
    assert_eq!(get(&after, "sesame_mail_sent_total{}"), 0.0);
    for l in served.lines() {
        assert!(
            !l.contains("gives.up@") && !l.contains("reset-password/") && !l.contains("token="),
            "{l}"
        );
    }
}

/// Claims from several threads on one PostgreSQL database (`FOR UPDATE SKIP LOCKED`) and on one
/// SQLite file never hand out one row twice: 200 rows, claimed eight at a time by four threads
/// at once, are each claimed exactly once.
#[test]
fn concurrent_claims_never_take_one_row_twice() {
    let file = crate::support::sqlite::SqliteFile::new();
    let sqlite: Arc<dyn MailQueueStore> = Arc::new(file.storage(&crate::support::sqlite::test_options()));
    claims_are_disjoint(&sqlite);
    if let Some(schema) = PgSchema::create() {
        let postgres: Arc<dyn MailQueueStore> = Arc::new(schema.storage(&pg::test_options()));
        claims_are_disjoint(&postgres);
    }
}

fn claims_are_disjoint(store: &Arc<dyn MailQueueStore>) {
    for i in 0..200 {
        let row = QueuedMail {
            id: format!("row-{i}"),
            kind: "verification".into(),
            security: i % 3 == 0,
            recipient: format!("c{i}@example.com"),
            subject: "s".into(),
            text: "t".into(),
            html: "h".into(),
            url: "u".into(),
            token: "k".into(),
            created_at: 0,
            attempts: 0,
        };
        assert!(store.enqueue_mail(&row, 1_000, 10_000).unwrap());
    }
    let barrier = Arc::new(std::sync::Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (store, barrier) = (store.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let mut mine = Vec::new();
                loop {
                    let batch = store.claim_mail(2_000, 1_000_000, 8).unwrap();
                    if batch.is_empty() {
                        return mine;
                    }
                    for row in batch {
                        assert_eq!(row.attempts, 1, "{row:?}");
                        mine.push(row.id);
                    }
                }
            })
        })
        .collect();
    let mut all: Vec<String> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    assert_eq!(all.len(), 200, "claimed in all");
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 200, "no row claimed twice");
    // Leased rows are not claimable until the lease ends; then they are again.
    assert!(store.claim_mail(999_999, 2_000_000, 8).unwrap().is_empty());
    assert_eq!(store.claim_mail(1_000_000, 3_000_000, 500).unwrap().len(), 200);
}

/// Memory storage keeps the in-process outbox (nothing survives the process; a full lane drops
/// instead of refusing); SQLite storage gets the durable one.
#[test]
fn memory_storage_keeps_the_in_process_outbox() {
    let memory = App::new(
        Config::for_tests(),
        Arc::new(MemoryStorage::new()),
        Arc::new(SystemClock),
    )
    .unwrap();
    assert!(!memory.outbox.is_durable());
    assert!(memory.outbox.has_room());
    let file = crate::support::sqlite::SqliteFile::new();
    let storage = Arc::new(file.storage(&crate::support::sqlite::test_options()));
    let sqlite = App::new(Config::for_tests(), storage, Arc::new(SystemClock)).unwrap();
    assert!(sqlite.outbox.is_durable());
    // The memory outbox's capacity metric: two lanes of 1000.
    let text = memory.metrics.render();
    assert!(text.lines().any(|l| l == "sesame_mail_queue_capacity 2000"), "{text}");
}
