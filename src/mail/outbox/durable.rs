//! The durable outbox (SQLite and PostgreSQL storage): every email is a row of the database's
//! mail queue (`storage/mail_queue.rs`) before the request that sends it is answered, and a
//! delivery thread per process claims due rows, sends them, and removes them once delivered or
//! given up on. So an email the API answered for survives a restart, a crash and a mail-server
//! outage of up to `SESAME_MAIL_RETRY_HOURS`.
//!
//! - Retries: a transient failure waits 2 s, then twice as long each time up to
//!   `SESAME_MAIL_RETRY_MAX_SECONDS`; once the email is `SESAME_MAIL_RETRY_HOURS` old, the next
//!   failure gives it up with an error log line (kind and recipient domain only, never the
//!   address, link or token). A permanent failure (the transport refused it) gives up at once.
//! - Several processes on one database: a claimed row is leased ([`LEASE`]) and no other claim
//!   takes it meanwhile, so each email is sent once. A process killed between sending and
//!   removing the row leaves it leased: after the lease another process (or the restarted one)
//!   sends it again. When the database is unreachable right after a delivery, the thread keeps
//!   the outcome and writes it before claiming anything else, so only an outage longer than the
//!   lease sends twice. Delivery is at least once; duplicates need that crash or that outage.
//! - Bounded: at most `SESAME_MAIL_QUEUE_CAPACITY` rows (counted in the insert itself); a full
//!   queue refuses the email and the request answers 503 `MAIL_QUEUE_FULL`, so no answer ever
//!   claims an email it dropped. The depth is the `sesame_mail_queue_depth` metric.
//! - Order: account-security mail is claimed before any other, then the oldest due.
//!
//! Scheduling reads the system clock, not the app's (tests may freeze that one).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::OutboxConfig;
use crate::mail::{DeliveryError, Mail, MailKind, Mailer};
use crate::metrics::MailStats;
use crate::storage::mail_queue::{MailQueueStore, QueuedMail};
use crate::storage::StorageError;

/// How long a claimed row is kept from other claims: longer than a batch of deliveries takes
/// (each transport gives up on one conversation within about 30 s).
pub const LEASE: Duration = Duration::from_secs(300);
/// Rows claimed at once.
const BATCH: u32 = 8;
/// The longest the thread sleeps without looking at the table: rows other processes queue,
/// retries coming due.
const POLL: Duration = Duration::from_millis(500);
/// The first wait after a transient failure.
const FIRST_BACKOFF: Duration = Duration::from_secs(2);

/// Why an email was not queued.
#[derive(Debug)]
pub enum QueueError {
    /// The queue holds its capacity.
    Full,
    /// The database did not take the row.
    Storage(StorageError),
}

#[derive(Default)]
struct State {
    /// Something was queued here since the thread last looked (skip the poll wait).
    nudged: bool,
    stopped: bool,
    /// The thread has ended.
    ended: bool,
    /// Completed passes over the table, for `flush`.
    passes: u64,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the thread (queued, stopped).
    work: Condvar,
    /// Signalled after every pass of the thread.
    pass: Condvar,
    stats: Arc<MailStats>,
    store: Arc<dyn MailQueueStore>,
    config: OutboxConfig,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn stopped(&self) -> bool {
        self.lock().stopped
    }

    /// Reads the queue depth into the metric.
    fn refresh_depth(&self) {
        if let Ok(n) = self.store.queued_mail() {
            self.stats.queued.store(n, Ordering::Relaxed);
        }
    }
}

/// The sending side; dropping it stops the thread after the delivery in progress (what it
/// had claimed and not started goes back to the queue).
pub struct DurableOutbox {
    shared: Arc<Shared>,
    mailer_name: &'static str,
}

fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl DurableOutbox {
    /// Starts the delivery thread over `store`.
    pub fn start(
        mailer: Arc<dyn Mailer>,
        store: Arc<dyn MailQueueStore>,
        config: OutboxConfig,
        stats: Arc<MailStats>,
    ) -> anyhow::Result<DurableOutbox> {
        stats.capacity.store(config.capacity, Ordering::Relaxed);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            pass: Condvar::new(),
            stats,
            store,
            config,
        });
        shared.refresh_depth();
        let mailer_name = mailer.name();
        let worker = shared.clone();
        std::thread::Builder::new().name("outbox".to_string()).spawn(move || {
            run(&worker, mailer.as_ref());
            worker.lock().ended = true;
            worker.pass.notify_all();
        })?;
        Ok(DurableOutbox { shared, mailer_name })
    }

    /// Writes the email to the queue; once this returns `Ok` the email survives the process.
    pub fn send(&self, mail: &Mail) -> Result<(), QueueError> {
        let row = QueuedMail {
            id: crate::crypto::new_id(),
            kind: mail.kind.as_str().to_string(),
            security: mail.kind.is_security(),
            recipient: mail.to.clone(),
            subject: mail.subject.clone(),
            text: mail.text.clone(),
            html: mail.html.clone(),
            url: mail.url.clone(),
            token: mail.token.clone(),
            created_at: 0,
            attempts: 0,
        };
        let queued = self
            .shared
            .store
            .enqueue_mail(&row, now_ms(), self.shared.config.capacity)
            .map_err(QueueError::Storage)?;
        if !queued {
            self.shared.stats.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                "mail refused: the outbox holds its capacity ({}) kind={} domain={}",
                self.shared.config.capacity,
                mail.kind.as_str(),
                mail.recipient_domain()
            );
            return Err(QueueError::Full);
        }
        self.shared.stats.queued.fetch_add(1, Ordering::Relaxed);
        self.shared.lock().nudged = true;
        self.shared.work.notify_one();
        Ok(())
    }

    /// Whether the queue had room when last counted (the insert decides for certain); a no is
    /// counted as a refusal (its request is answered 503).
    pub fn has_room(&self) -> bool {
        let room = self.shared.stats.queued.load(Ordering::Relaxed) < self.shared.config.capacity;
        if !room {
            self.shared.stats.refused.fetch_add(1, Ordering::Relaxed);
        }
        room
    }

    /// Waits until the queue table is empty (this process's and every other's emails
    /// delivered or given up on); false on timeout.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let seen = {
                let mut st = self.shared.lock();
                st.nudged = true;
                st.passes
            };
            self.shared.work.notify_one();
            if self.pending() == 0 {
                return true;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            // The next pass of the thread (or the poll interval, if it is stopped).
            let st = self.shared.lock();
            let _ = self
                .shared
                .pass
                .wait_timeout_while(st, left.min(POLL), |s| s.passes == seen && !s.ended);
        }
    }

    /// Emails in the queue table (of every process on the database); the last count if the
    /// database does not answer.
    pub fn pending(&self) -> usize {
        let n = match self.shared.store.queued_mail() {
            Ok(n) => {
                self.shared.stats.queued.store(n, Ordering::Relaxed);
                n
            }
            Err(_) => self.shared.stats.queued.load(Ordering::Relaxed),
        };
        usize::try_from(n).unwrap_or(usize::MAX)
    }

    /// Stops the thread and waits (at most `timeout`) for the delivery in progress to end;
    /// whether it ended. What stays queued is sent after the next start.
    pub fn stop(&self, timeout: Duration) -> bool {
        self.shared.lock().stopped = true;
        self.shared.work.notify_all();
        let st = self.shared.lock();
        let (st, _) = self
            .shared
            .pass
            .wait_timeout_while(st, timeout, |s| !s.ended)
            .unwrap_or_else(|p| p.into_inner());
        st.ended
    }

    pub fn mailer_name(&self) -> &'static str {
        self.mailer_name
    }
}

impl Drop for DurableOutbox {
    fn drop(&mut self) {
        self.shared.lock().stopped = true;
        self.shared.work.notify_all();
    }
}

/// The outcome of an attempt the database did not take (it was unreachable): kept and written
/// again on the next passes, before anything new is claimed, so a delivered email is not sent
/// a second time when its lease ends.
struct Unsaved {
    id: String,
    /// `None`: the row goes (delivered or given up); `Some`: it is retried then.
    retry_at: Option<i64>,
}

impl Unsaved {
    fn save(&self, store: &dyn MailQueueStore) -> bool {
        match self.retry_at {
            None => store.finish_mail(&self.id).is_ok(),
            Some(at) => store.retry_mail(&self.id, at).is_ok(),
        }
    }
}

fn run(shared: &Shared, mailer: &dyn Mailer) {
    // One log line per outage of the database, not one per pass.
    let mut db_down = false;
    let mut unsaved: Vec<Unsaved> = Vec::new();
    while !shared.stopped() {
        let now = now_ms();
        unsaved.retain(|u| !u.save(shared.store.as_ref()));
        // Every database connection is taken: requests come first, mail waits for the next
        // pass; and nothing new while earlier outcomes are still unsaved.
        let claimed = if shared.store.busy() || !unsaved.is_empty() {
            Err(None)
        } else {
            shared.store.claim_mail(now, now + ms(LEASE), BATCH).map_err(Some)
        };
        let claimed = match claimed {
            Ok(rows) => {
                if db_down {
                    tracing::info!("mail outbox: the database answers again");
                    db_down = false;
                }
                rows
            }
            Err(None) => Vec::new(),
            Err(Some(e)) => {
                if !db_down {
                    tracing::warn!("mail outbox: cannot read the queue: {e}");
                    db_down = true;
                }
                Vec::new()
            }
        };
        let idle = claimed.is_empty();
        let mut rows = claimed.into_iter();
        for row in rows.by_ref() {
            unsaved.extend(attempt(shared, mailer, row));
            if shared.stopped() {
                break;
            }
        }
        // Stopping: what was claimed and not tried goes back at once, not after the lease.
        for row in rows {
            let _ = shared.store.retry_mail(&row.id, now_ms());
        }
        if !shared.store.busy() {
            shared.refresh_depth();
        }
        let mut st = shared.lock();
        st.passes += 1;
        shared.pass.notify_all();
        if idle && !st.nudged && !st.stopped {
            st = shared
                .work
                .wait_timeout_while(st, POLL, |s| !s.nudged && !s.stopped)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        st.nudged = false;
    }
}

/// One delivery attempt of a claimed row, and what follows it; the outcome when the database
/// did not take it.
fn attempt(shared: &Shared, mailer: &dyn Mailer, row: QueuedMail) -> Option<Unsaved> {
    let Some(kind) = MailKind::parse(&row.kind) else {
        tracing::error!("mail not delivered: unknown kind {:?}", row.kind);
        return finish(shared, &row.id, false);
    };
    let mail = Mail {
        kind,
        to: row.recipient,
        subject: row.subject,
        text: row.text,
        html: row.html,
        url: row.url,
        token: row.token,
    };
    // A panicking transport must not take the outbox thread down with it.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| mailer.deliver(&mail)))
        .unwrap_or_else(|_| Err(DeliveryError::transient("the transport panicked")));
    let (kind, domain, via, n) = (kind.as_str(), mail.recipient_domain(), mailer.name(), row.attempts);
    let err = match outcome {
        Ok(()) => return finish(shared, &row.id, true),
        Err(e) => e,
    };
    let now = now_ms();
    let age = Duration::from_millis(u64::try_from(now.saturating_sub(row.created_at)).unwrap_or(0));
    if !err.retryable || age >= shared.config.give_up_after {
        let why = if err.retryable {
            "retried for SESAME_MAIL_RETRY_HOURS"
        } else {
            "refused"
        };
        tracing::error!(
            "mail not delivered kind={kind} domain={domain} via={via} attempt={n}: {err}; given up ({why})"
        );
        return finish(shared, &row.id, false);
    }
    let backoff = backoff(n, shared.config.max_backoff);
    // Rescheduled before the log line: once the line is out, the row is free for any process.
    let retry_at = now + ms(backoff);
    let unsaved = match shared.store.retry_mail(&row.id, retry_at) {
        Ok(()) => None,
        Err(e) => {
            // The lease holds the row meanwhile; the reschedule is written once it can be.
            tracing::warn!("mail outbox: cannot reschedule an email yet: {e}");
            Some(Unsaved {
                id: row.id,
                retry_at: Some(retry_at),
            })
        }
    };
    tracing::warn!(
        "mail delivery failed kind={kind} domain={domain} via={via} attempt={n}: {err}; retrying in {}s",
        backoff.as_secs_f32()
    );
    unsaved
}

/// The wait after the `attempt`-th failure: 2 s doubling, at most `max`.
pub fn backoff(attempt: i64, max: Duration) -> Duration {
    let doublings = u32::try_from(attempt.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    FIRST_BACKOFF.saturating_mul(1u32 << doublings).min(max)
}

/// Removes a delivered or given-up row and counts it; the removal to write again when the
/// database did not take it.
fn finish(shared: &Shared, id: &str, delivered: bool) -> Option<Unsaved> {
    let counter = if delivered {
        &shared.stats.sent
    } else {
        &shared.stats.failed
    };
    counter.fetch_add(1, Ordering::Relaxed);
    match shared.store.finish_mail(id) {
        Ok(()) => None,
        Err(e) => {
            // The lease keeps other claims off the row while the removal waits for the
            // database; only an outage longer than the lease lets the email go out again.
            tracing::warn!("mail outbox: cannot remove a finished email yet: {e}");
            Some(Unsaved {
                id: id.to_string(),
                retry_at: None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    /// A queue in memory whose removals fail a given number of times (the database is down).
    #[derive(Default)]
    struct FlakyQueue {
        /// (row, leased until, due at)
        rows: Mutex<Vec<(QueuedMail, i64, i64)>>,
        failing_removals: AtomicU32,
    }

    impl MailQueueStore for FlakyQueue {
        fn enqueue_mail(&self, mail: &QueuedMail, now_ms: i64, _: u64) -> crate::storage::StorageResult<bool> {
            let row = QueuedMail {
                created_at: now_ms,
                ..mail.clone()
            };
            self.rows.lock().unwrap().push((row, 0, now_ms));
            Ok(true)
        }
        fn claim_mail(&self, now: i64, lease: i64, limit: u32) -> crate::storage::StorageResult<Vec<QueuedMail>> {
            let mut rows = self.rows.lock().unwrap();
            let mut out = Vec::new();
            for (row, leased, due) in rows.iter_mut() {
                if *due <= now && *leased <= now && out.len() < limit as usize {
                    *leased = lease;
                    row.attempts += 1;
                    out.push(row.clone());
                }
            }
            Ok(out)
        }
        fn finish_mail(&self, id: &str) -> crate::storage::StorageResult<()> {
            if self
                .failing_removals
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return Err(StorageError::Unavailable(anyhow::anyhow!("down")));
            }
            self.rows.lock().unwrap().retain(|(r, _, _)| r.id != id);
            Ok(())
        }
        fn retry_mail(&self, id: &str, at: i64) -> crate::storage::StorageResult<()> {
            for (row, leased, due) in self.rows.lock().unwrap().iter_mut() {
                if row.id == id {
                    (*leased, *due) = (0, at);
                }
            }
            Ok(())
        }
        fn queued_mail(&self) -> crate::storage::StorageResult<u64> {
            Ok(self.rows.lock().unwrap().len() as u64)
        }
    }

    struct Counting(AtomicU32);
    impl Mailer for Counting {
        fn deliver(&self, _: &Mail) -> Result<(), DeliveryError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
        fn name(&self) -> &'static str {
            "counting"
        }
    }

    /// The database is unreachable right after a delivery: the removal is written once it
    /// answers again (not left to the lease, which would send the email a second time).
    #[test]
    fn a_removal_the_database_refused_is_written_later_and_the_email_goes_once() {
        let queue = Arc::new(FlakyQueue::default());
        queue.failing_removals.store(3, Ordering::SeqCst);
        let mailer = Arc::new(Counting(AtomicU32::new(0)));
        let config = OutboxConfig {
            give_up_after: Duration::from_secs(3600),
            max_backoff: Duration::from_secs(1),
            capacity: 10,
        };
        let outbox = DurableOutbox::start(mailer.clone(), queue.clone(), config, Arc::default()).unwrap();
        let mail = Mail {
            kind: MailKind::ResetPassword,
            to: "once@example.com".into(),
            subject: String::new(),
            text: String::new(),
            html: String::new(),
            url: String::new(),
            token: String::new(),
        };
        outbox.send(&mail).unwrap();
        assert!(outbox.flush(Duration::from_secs(20)), "the row was removed");
        assert_eq!(mailer.0.load(Ordering::SeqCst), 1);
        assert_eq!(queue.failing_removals.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn backoff_doubles_from_two_seconds_up_to_the_cap() {
        let max = Duration::from_secs(600);
        let waits: Vec<u64> = (1..=10).map(|n| backoff(n, max).as_secs()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 64, 128, 256, 512, 600]);
        assert_eq!(backoff(0, max), FIRST_BACKOFF);
        assert_eq!(backoff(i64::MAX, Duration::from_secs(1)), Duration::from_secs(1));
    }
}
