//! The outbox: a background thread that delivers queued mail through a [`Mailer`], so request
//! threads never wait for a mail server. The queue is bounded (a full queue drops the message
//! with a log line); a failed delivery is retried a bounded number of times with doubling
//! backoff, without holding up the messages behind it. Logs name the kind and the recipient's
//! domain only.

use std::collections::VecDeque;
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::{Mail, Mailer};

/// How hard the outbox tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Messages queued or awaiting a retry at most; more are dropped.
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

/// Messages accepted but not yet delivered or given up on.
struct Pending {
    count: Mutex<usize>,
    idle: Condvar,
}

impl Pending {
    fn lock(&self) -> std::sync::MutexGuard<'_, usize> {
        self.count.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn done(&self) {
        let mut n = self.lock();
        *n = n.saturating_sub(1);
        if *n == 0 {
            self.idle.notify_all();
        }
    }
}

/// The sending side; dropping it lets the thread finish what is queued and exit.
pub struct Outbox {
    tx: Sender<Mail>,
    pending: Arc<Pending>,
    capacity: usize,
    mailer_name: &'static str,
}

impl Outbox {
    /// Starts the delivery thread.
    pub fn start(mailer: Arc<dyn Mailer>, policy: RetryPolicy) -> anyhow::Result<Outbox> {
        let (tx, rx) = channel::<Mail>();
        let pending = Arc::new(Pending {
            count: Mutex::new(0),
            idle: Condvar::new(),
        });
        let mailer_name = mailer.name();
        let worker_pending = pending.clone();
        std::thread::Builder::new()
            .name("outbox".to_string())
            .spawn(move || run(rx, mailer.as_ref(), policy, &worker_pending))?;
        Ok(Outbox {
            tx,
            pending,
            capacity: policy.capacity.max(1),
            mailer_name,
        })
    }

    /// Queues a message and returns at once. A full queue drops it (logged).
    pub fn send(&self, mail: Mail) {
        {
            let mut n = self.pending.lock();
            if *n >= self.capacity {
                crate::log::warn(&format!(
                    "mail dropped: outbox full kind={} domain={}",
                    mail.kind.as_str(),
                    mail.recipient_domain()
                ));
                return;
            }
            *n += 1;
        }
        let (kind, domain) = (mail.kind, mail.recipient_domain().to_string());
        let sent = self.tx.send(mail);
        if sent.is_err() {
            self.pending.done();
            crate::log::error(&format!(
                "mail dropped: outbox stopped kind={} domain={domain}",
                kind.as_str()
            ));
        }
    }

    /// Waits until every accepted message is delivered or given up on; false on timeout.
    pub fn flush(&self, timeout: Duration) -> bool {
        let n = self.pending.lock();
        let (n, _) = self
            .pending
            .idle
            .wait_timeout_while(n, timeout, |n| *n > 0)
            .unwrap_or_else(|p| p.into_inner());
        *n == 0
    }

    /// Messages accepted and not yet finished.
    pub fn pending(&self) -> usize {
        *self.pending.lock()
    }

    pub fn mailer_name(&self) -> &'static str {
        self.mailer_name
    }
}

/// A message waiting for its next attempt.
struct Retry {
    due: Instant,
    attempt: u32,
    mail: Mail,
}

fn run(rx: std::sync::mpsc::Receiver<Mail>, mailer: &dyn Mailer, policy: RetryPolicy, pending: &Pending) {
    let mut retries: VecDeque<Retry> = VecDeque::new();
    loop {
        let next = match retries.iter().map(|r| r.due).min() {
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(due) => rx.recv_timeout(due.saturating_duration_since(Instant::now())),
        };
        match next {
            Ok(mail) => attempt(mailer, mail, 1, policy, pending, &mut retries),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                for r in retries.drain(..) {
                    give_up(&r.mail, "the server is stopping", pending);
                }
                return;
            }
        }
        let now = Instant::now();
        let (due, later): (VecDeque<Retry>, VecDeque<Retry>) = retries.drain(..).partition(|r| r.due <= now);
        retries = later;
        for r in due {
            attempt(mailer, r.mail, r.attempt, policy, pending, &mut retries);
        }
    }
}

fn attempt(
    mailer: &dyn Mailer,
    mail: Mail,
    attempt: u32,
    policy: RetryPolicy,
    pending: &Pending,
    retries: &mut VecDeque<Retry>,
) {
    // A panicking transport must not take the outbox thread down with it.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| mailer.deliver(&mail)))
        .unwrap_or_else(|_| Err(super::DeliveryError::transient("the transport panicked")));
    let err = match outcome {
        Ok(()) => {
            pending.done();
            return;
        }
        Err(e) => e,
    };
    let (kind, domain, via) = (mail.kind.as_str(), mail.recipient_domain(), mailer.name());
    if !err.retryable || attempt >= policy.attempts {
        crate::log::warn(&format!(
            "mail delivery failed kind={kind} domain={domain} via={via} attempt={attempt}/{}: {err}",
            policy.attempts
        ));
        give_up(
            &mail,
            if err.retryable { "no attempts left" } else { "refused" },
            pending,
        );
        return;
    }
    let backoff = policy.first_backoff.saturating_mul(1u32 << (attempt - 1).min(16));
    crate::log::warn(&format!(
        "mail delivery failed kind={kind} domain={domain} via={via} attempt={attempt}/{}: {err}; retrying in {}s",
        policy.attempts,
        backoff.as_secs_f32()
    ));
    retries.push_back(Retry {
        due: Instant::now() + backoff,
        attempt: attempt + 1,
        mail,
    });
}

fn give_up(mail: &Mail, why: &str, pending: &Pending) {
    crate::log::error(&format!(
        "mail not delivered kind={} domain={}: {why}",
        mail.kind.as_str(),
        mail.recipient_domain()
    ));
    pending.done();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::{DeliveryError, MailKind};
    use std::sync::atomic::{AtomicU32, Ordering};

    fn mail(to: &str) -> Mail {
        Mail {
            kind: MailKind::Verification,
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
        let outbox = Outbox::start(m.clone(), FAST).unwrap();
        outbox.send(mail("a@x.io"));
        assert!(outbox.flush(Duration::from_secs(5)));
        assert_eq!(m.calls.load(Ordering::SeqCst), 3);
        assert_eq!(*m.delivered.lock().unwrap(), vec!["a@x.io".to_string()]);
    }

    #[test]
    fn gives_up_after_the_last_attempt_and_on_permanent_errors() {
        let m = flaky(10, false);
        let outbox = Outbox::start(m.clone(), FAST).unwrap();
        outbox.send(mail("a@x.io"));
        assert!(outbox.flush(Duration::from_secs(5)));
        assert_eq!(m.calls.load(Ordering::SeqCst), 3);

        let m = flaky(0, true);
        let outbox = Outbox::start(m.clone(), FAST).unwrap();
        outbox.send(mail("a@x.io"));
        assert!(outbox.flush(Duration::from_secs(5)));
        assert_eq!(m.calls.load(Ordering::SeqCst), 1, "permanent errors are not retried");
    }

    /// Blocks every delivery until released, so the queue can be filled.
    struct Gate(Mutex<bool>, Condvar);
    impl Mailer for Gate {
        fn deliver(&self, _: &Mail) -> Result<(), DeliveryError> {
            let open = self.0.lock().unwrap();
            let _open = self
                .1
                .wait_timeout_while(open, Duration::from_secs(5), |o| !*o)
                .unwrap();
            Ok(())
        }
        fn name(&self) -> &'static str {
            "gate"
        }
    }

    #[test]
    fn a_full_queue_drops_instead_of_blocking() {
        let gate = Arc::new(Gate(Mutex::new(false), Condvar::new()));
        let outbox = Outbox::start(gate.clone(), RetryPolicy { capacity: 2, ..FAST }).unwrap();
        for i in 0..5 {
            outbox.send(mail(&format!("{i}@x.io")));
        }
        assert_eq!(outbox.pending(), 2);
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        assert!(outbox.flush(Duration::from_secs(5)));
    }
}
