//! The in-memory outbox (memory storage): a background thread that delivers queued mail through
//! a [`Mailer`], so request threads never wait for a mail server; what it holds is lost with the
//! process. A failed delivery is retried a bounded number of
//! times with doubling backoff, without holding up the messages behind it. Logs name the kind
//! and the recipient's domain only.
//!
//! Two lanes: account-security mail (verification, password reset: [`MailKind::is_security`])
//! and the rest. Each lane holds at most `capacity` messages (more are dropped with a log line),
//! and the thread always delivers security mail first, so a flood of other mail (email-change
//! notices someone keeps triggering) can neither push a reset email out nor keep it waiting.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use std::sync::atomic::Ordering;

use crate::mail::{Mail, MailKind, Mailer};
use crate::metrics::MailStats;

/// How hard the outbox tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Messages queued or awaiting a retry at most, per lane; more are dropped.
    pub capacity: usize,
    /// Delivery attempts per message, the first included.
    pub attempts: u32,
    /// Wait before the first retry; each later retry waits twice as long.
    pub first_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            capacity: 1000,
            attempts: 4,
            first_backoff: Duration::from_secs(2),
        }
    }
}

/// A lane: security mail or the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    Security,
    Other,
}

impl Lane {
    fn of(kind: MailKind) -> Lane {
        if kind.is_security() {
            Lane::Security
        } else {
            Lane::Other
        }
    }
}

/// What the sending side and the thread share.
#[derive(Default)]
struct State {
    security: VecDeque<Mail>,
    other: VecDeque<Mail>,
    /// Accepted and not yet delivered or given up on, per lane (queued or awaiting a retry).
    pending_security: usize,
    pending_other: usize,
    /// The [`MemoryOutbox`] was dropped: finish the queues, give up retries, exit.
    stopped: bool,
}

impl State {
    fn pending(&mut self, lane: Lane) -> &mut usize {
        match lane {
            Lane::Security => &mut self.pending_security,
            Lane::Other => &mut self.pending_other,
        }
    }
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when mail is queued or the outbox stops (wakes the thread).
    work: Condvar,
    /// Signalled when nothing is pending any more (wakes `flush`).
    idle: Condvar,
    /// Queued, sent and failed mail, for the metrics.
    stats: Arc<MailStats>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One message finished: `delivered`, or given up on.
    fn done(&self, lane: Lane, delivered: bool) {
        let counter = if delivered {
            &self.stats.sent
        } else {
            &self.stats.failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let mut st = self.lock();
        let n = st.pending(lane);
        *n = n.saturating_sub(1);
        let total = st.pending_security + st.pending_other;
        self.stats.queued.store(total as u64, Ordering::Relaxed);
        if total == 0 {
            self.idle.notify_all();
        }
    }
}

/// The sending side ([`super::Outbox`] over memory storage); dropping it lets the thread finish
/// what is queued and exit.
pub struct MemoryOutbox {
    shared: Arc<Shared>,
    capacity: usize,
    mailer_name: &'static str,
}

impl MemoryOutbox {
    /// Starts the delivery thread.
    pub fn start(mailer: Arc<dyn Mailer>, policy: RetryPolicy) -> anyhow::Result<MemoryOutbox> {
        MemoryOutbox::start_counting(mailer, policy, Arc::default())
    }

    /// Starts the delivery thread, counting queued, sent and failed mail in `stats` (which
    /// outlives this outbox when the app swaps its mailer).
    pub fn start_counting(
        mailer: Arc<dyn Mailer>,
        policy: RetryPolicy,
        stats: Arc<MailStats>,
    ) -> anyhow::Result<MemoryOutbox> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            idle: Condvar::new(),
            stats: stats.clone(),
        });
        let mailer_name = mailer.name();
        let worker = shared.clone();
        std::thread::Builder::new()
            .name("outbox".to_string())
            .spawn(move || run(&worker, mailer.as_ref(), policy))?;
        stats
            .capacity
            .store(2 * policy.capacity.max(1) as u64, Ordering::Relaxed);
        Ok(MemoryOutbox {
            shared,
            capacity: policy.capacity.max(1),
            mailer_name,
        })
    }

    /// Queues a message and returns at once. A full lane drops it (logged).
    pub fn send(&self, mail: Mail) {
        let lane = Lane::of(mail.kind);
        let mut st = self.shared.lock();
        if *st.pending(lane) >= self.capacity {
            self.shared.stats.failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                "mail dropped: outbox full kind={} domain={}",
                mail.kind.as_str(),
                mail.recipient_domain()
            );
            return;
        }
        *st.pending(lane) += 1;
        let total = st.pending_security + st.pending_other;
        self.shared.stats.queued.store(total as u64, Ordering::Relaxed);
        match lane {
            Lane::Security => st.security.push_back(mail),
            Lane::Other => st.other.push_back(mail),
        }
        self.shared.work.notify_one();
    }

    /// Waits until every accepted message is delivered or given up on; false on timeout.
    pub fn flush(&self, timeout: Duration) -> bool {
        let st = self.shared.lock();
        let (st, _) = self
            .shared
            .idle
            .wait_timeout_while(st, timeout, |s| s.pending_security + s.pending_other > 0)
            .unwrap_or_else(|p| p.into_inner());
        st.pending_security + st.pending_other == 0
    }

    /// Messages accepted and not yet finished.
    pub fn pending(&self) -> usize {
        let st = self.shared.lock();
        st.pending_security + st.pending_other
    }

    pub fn mailer_name(&self) -> &'static str {
        self.mailer_name
    }
}

impl Drop for MemoryOutbox {
    fn drop(&mut self) {
        self.shared.lock().stopped = true;
        self.shared.work.notify_all();
    }
}

/// A message waiting for its next attempt.
struct Retry {
    due: Instant,
    attempt: u32,
    mail: Mail,
}

/// The next message to try: due security retries, new security mail, other due retries, new
/// other mail. `None` when the outbox stopped and its queues are empty.
fn next(shared: &Shared, retries: &mut Vec<Retry>) -> Option<(Mail, u32)> {
    let mut st = shared.lock();
    loop {
        let now = Instant::now();
        let due = |lane: Lane| {
            retries
                .iter()
                .position(|r| r.due <= now && Lane::of(r.mail.kind) == lane)
        };
        if let Some(i) = due(Lane::Security) {
            let r = retries.swap_remove(i);
            return Some((r.mail, r.attempt));
        }
        if let Some(mail) = st.security.pop_front() {
            return Some((mail, 1));
        }
        if let Some(i) = due(Lane::Other) {
            let r = retries.swap_remove(i);
            return Some((r.mail, r.attempt));
        }
        if let Some(mail) = st.other.pop_front() {
            return Some((mail, 1));
        }
        if st.stopped {
            return None;
        }
        st = match retries.iter().map(|r| r.due).min() {
            None => shared.work.wait(st).unwrap_or_else(|p| p.into_inner()),
            Some(due) => {
                let wait = due.saturating_duration_since(now);
                shared.work.wait_timeout(st, wait).unwrap_or_else(|p| p.into_inner()).0
            }
        };
    }
}

fn run(shared: &Shared, mailer: &dyn Mailer, policy: RetryPolicy) {
    let mut retries: Vec<Retry> = Vec::new();
    while let Some((mail, n)) = next(shared, &mut retries) {
        attempt(shared, mailer, mail, n, policy, &mut retries);
    }
    for r in retries.drain(..) {
        give_up(shared, &r.mail, "the server is stopping");
    }
}

fn attempt(
    shared: &Shared,
    mailer: &dyn Mailer,
    mail: Mail,
    attempt: u32,
    policy: RetryPolicy,
    retries: &mut Vec<Retry>,
) {
    // A panicking transport must not take the outbox thread down with it.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| mailer.deliver(&mail)))
        .unwrap_or_else(|_| Err(crate::mail::DeliveryError::transient("the transport panicked")));
    let err = match outcome {
        Ok(()) => {
            shared.done(Lane::of(mail.kind), true);
            return;
        }
        Err(e) => e,
    };
    let (kind, domain, via) = (mail.kind.as_str(), mail.recipient_domain(), mailer.name());
    if !err.retryable || attempt >= policy.attempts {
        tracing::warn!(
            "mail delivery failed kind={kind} domain={domain} via={via} attempt={attempt}/{}: {err}",
            policy.attempts
        );
        give_up(
            shared,
            &mail,
            if err.retryable { "no attempts left" } else { "refused" },
        );
        return;
    }
    let backoff = policy.first_backoff.saturating_mul(1u32 << (attempt - 1).min(16));
    tracing::warn!(
        "mail delivery failed kind={kind} domain={domain} via={via} attempt={attempt}/{}: {err}; retrying in {}s",
        policy.attempts,
        backoff.as_secs_f32()
    );
    retries.push(Retry {
        due: Instant::now() + backoff,
        attempt: attempt + 1,
        mail,
    });
}

fn give_up(shared: &Shared, mail: &Mail, why: &str) {
    tracing::error!(
        "mail not delivered kind={} domain={}: {why}",
        mail.kind.as_str(),
        mail.recipient_domain()
    );
    shared.done(Lane::of(mail.kind), false);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::{DeliveryError, MailKind};
    use std::sync::atomic::{AtomicU32, Ordering};

    fn mail(to: &str) -> Mail {
        mail_of(MailKind::Verification, to)
    }

    fn mail_of(kind: MailKind, to: &str) -> Mail {
        Mail {
            kind,
            to: to.into(),
            subject: String::new(),
            text: String::new(),
            html: String::new(),
            url: String::new(),
            token: String::new(),
        }
    }

    /// Fails the first `fail` calls (transiently), or every call permanently.
    struct Flaky {
        fail: u32,
        permanent: bool,
        calls: AtomicU32,
        delivered: Mutex<Vec<String>>,
    }

    impl Mailer for Flaky {
        fn deliver(&self, mail: &Mail) -> Result<(), DeliveryError> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            if self.permanent {
                return Err(DeliveryError::permanent("refused"));
            }
            if n < self.fail {
                return Err(DeliveryError::transient("try later"));
            }
            self.delivered.lock().unwrap().push(mail.to.clone());
            Ok(())
        }
        fn name(&self) -> &'static str {
            "flaky"
        }
    }

    fn flaky(fail: u32, permanent: bool) -> Arc<Flaky> {
        Arc::new(Flaky {
            fail,
            permanent,
            calls: AtomicU32::new(0),
            delivered: Mutex::new(Vec::new()),
        })
    }

    const FAST: RetryPolicy = RetryPolicy {
        capacity: 10,
        attempts: 3,
        first_backoff: Duration::from_millis(1),
    };

    #[test]
    fn retries_transient_failures_then_delivers() {
        let m = flaky(2, false);
        let outbox = MemoryOutbox::start(m.clone(), FAST).unwrap();
        outbox.send(mail("a@x.io"));
        assert!(outbox.flush(Duration::from_secs(5)));
        assert_eq!(m.calls.load(Ordering::SeqCst), 3);
        assert_eq!(*m.delivered.lock().unwrap(), vec!["a@x.io".to_string()]);
    }

    #[test]
    fn gives_up_after_the_last_attempt_and_on_permanent_errors() {
        let m = flaky(10, false);
        let outbox = MemoryOutbox::start(m.clone(), FAST).unwrap();
        outbox.send(mail("a@x.io"));
        assert!(outbox.flush(Duration::from_secs(5)));
        assert_eq!(m.calls.load(Ordering::SeqCst), 3);

        let m = flaky(0, true);
        let outbox = MemoryOutbox::start(m.clone(), FAST).unwrap();
        outbox.send(mail("a@x.io"));
        assert!(outbox.flush(Duration::from_secs(5)));
        assert_eq!(m.calls.load(Ordering::SeqCst), 1, "permanent errors are not retried");
    }

    /// Blocks every delivery until released, so the queue can be filled; records the order.
    struct Gate(Mutex<bool>, Condvar, Mutex<Vec<String>>);
    impl Mailer for Gate {
        fn deliver(&self, mail: &Mail) -> Result<(), DeliveryError> {
            let open = self.0.lock().unwrap();
            let _open = self
                .1
                .wait_timeout_while(open, Duration::from_secs(5), |o| !*o)
                .unwrap();
            self.2.lock().unwrap().push(mail.to.clone());
            Ok(())
        }
        fn name(&self) -> &'static str {
            "gate"
        }
    }

    #[test]
    fn a_full_queue_drops_instead_of_blocking() {
        let gate = Arc::new(Gate(Mutex::new(false), Condvar::new(), Mutex::new(Vec::new())));
        let outbox = MemoryOutbox::start(gate.clone(), RetryPolicy { capacity: 2, ..FAST }).unwrap();
        for i in 0..5 {
            outbox.send(mail(&format!("{i}@x.io")));
        }
        assert_eq!(outbox.pending(), 2);
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        assert!(outbox.flush(Duration::from_secs(5)));
    }

    #[test]
    fn security_mail_is_never_crowded_out_by_other_mail() {
        let gate = Arc::new(Gate(Mutex::new(false), Condvar::new(), Mutex::new(Vec::new())));
        let outbox = MemoryOutbox::start(gate.clone(), RetryPolicy { capacity: 3, ..FAST }).unwrap();
        for i in 0..10 {
            outbox.send(mail_of(MailKind::ChangeEmailInUse, &format!("{i}@x.io")));
        }
        assert_eq!(outbox.pending(), 3, "the other lane is full");
        outbox.send(mail_of(MailKind::ResetPassword, "victim@x.io"));
        assert_eq!(outbox.pending(), 4, "the reset email is still accepted");
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        assert!(outbox.flush(Duration::from_secs(5)));
        let order = gate.2.lock().unwrap().clone();
        assert_eq!(order.len(), 4);
        // At most the one other email already being delivered goes before it.
        let at = order.iter().position(|to| to == "victim@x.io").unwrap();
        assert!(at <= 1, "{order:?}");
    }
}
