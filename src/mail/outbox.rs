//! The outbox: endpoints queue mail here and a background thread delivers it through the
//! configured [`Mailer`], so request threads never wait for a mail server. Where the queue
//! lives follows the storage:
//!
//! - memory storage: in the process ([`memory`]), with bounded retries and two bounded lanes; a
//!   full lane drops the email (logged, counted as failed);
//! - SQLite and PostgreSQL: in the database ([`durable`]), retried for hours, resumed after a
//!   restart, shared by every process on the database; a full queue refuses the email, and the
//!   request that would have sent it answers 503 `MAIL_QUEUE_FULL`.

pub mod durable;
pub mod memory;

use std::sync::Arc;
use std::time::Duration;

use super::{Mail, Mailer};
use crate::config::OutboxConfig;
use crate::metrics::MailStats;
use crate::storage::mail_queue::MailQueueStore;

pub use durable::QueueError;
pub use memory::RetryPolicy;

/// The sending side; dropping it ends the delivery thread (the memory outbox first delivers
/// what it holds; the durable one leaves it in the database).
pub struct Outbox {
    inner: Inner,
}

enum Inner {
    Memory(memory::MemoryOutbox),
    Durable(durable::DurableOutbox),
}

impl Outbox {
    /// An in-memory outbox.
    pub fn start(mailer: Arc<dyn Mailer>, policy: RetryPolicy) -> anyhow::Result<Outbox> {
        Outbox::start_counting(mailer, policy, Arc::default())
    }

    /// An in-memory outbox counting queued, sent and failed mail in `stats` (which outlives
    /// this outbox when the app swaps its mailer).
    pub fn start_counting(
        mailer: Arc<dyn Mailer>,
        policy: RetryPolicy,
        stats: Arc<MailStats>,
    ) -> anyhow::Result<Outbox> {
        Ok(Outbox {
            inner: Inner::Memory(memory::MemoryOutbox::start_counting(mailer, policy, stats)?),
        })
    }

    /// An outbox over a database's mail queue.
    pub fn start_durable(
        mailer: Arc<dyn Mailer>,
        store: Arc<dyn MailQueueStore>,
        config: OutboxConfig,
        stats: Arc<MailStats>,
    ) -> anyhow::Result<Outbox> {
        Ok(Outbox {
            inner: Inner::Durable(durable::DurableOutbox::start(mailer, store, config, stats)?),
        })
    }

    /// Queues a message and returns at once. In memory it never fails (a full lane drops the
    /// email, logged); in a database, `Ok` means the email is stored.
    pub fn send(&self, mail: Mail) -> Result<(), QueueError> {
        match &self.inner {
            Inner::Memory(m) => {
                m.send(mail);
                Ok(())
            }
            Inner::Durable(d) => d.send(&mail),
        }
    }

    /// Whether one more email would be accepted, as far as is known before trying (the memory
    /// outbox always accepts: it drops instead). A no counts in `sesame_mail_refused_total`:
    /// the caller answers 503.
    pub fn has_room(&self) -> bool {
        match &self.inner {
            Inner::Memory(_) => true,
            Inner::Durable(d) => d.has_room(),
        }
    }

    /// Waits until every queued message is delivered or given up on; false on timeout.
    pub fn flush(&self, timeout: Duration) -> bool {
        match &self.inner {
            Inner::Memory(m) => m.flush(timeout),
            Inner::Durable(d) => d.flush(timeout),
        }
    }

    /// Messages queued and not yet finished (in a database: every process's).
    pub fn pending(&self) -> usize {
        match &self.inner {
            Inner::Memory(m) => m.pending(),
            Inner::Durable(d) => d.pending(),
        }
    }

    /// Whether queued mail survives the process (it is in the database).
    pub fn is_durable(&self) -> bool {
        matches!(self.inner, Inner::Durable(_))
    }

    /// At exit: the memory outbox delivers what it holds (at most `timeout`); the durable one
    /// finishes the delivery in progress and leaves the rest queued for the next start. False
    /// when the time ran out first.
    pub fn shut_down(&self, timeout: Duration) -> bool {
        match &self.inner {
            Inner::Memory(m) => m.flush(timeout),
            Inner::Durable(d) => d.stop(timeout),
        }
    }

    pub fn mailer_name(&self) -> &'static str {
        match &self.inner {
            Inner::Memory(m) => m.mailer_name(),
            Inner::Durable(d) => d.mailer_name(),
        }
    }
}
