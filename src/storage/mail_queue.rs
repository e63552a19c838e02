//! The durable mail queue, a storage area: the `"sesameMailOutbox"` table of a SQL backend, where
//! every email waits until a delivery worker (`mail/outbox/durable.rs`) has sent it or given
//! up. Memory storage has none (its outbox keeps the queue in the process).
//!
//! A row is claimed before it is sent: the claim sets `"leaseUntil"`, and no other claim takes
//! the row until the lease has run out, so several processes on one database send each email
//! once; a worker that died holding a row leaves it to the next claim after the lease. Claims
//! take rows with `FOR UPDATE SKIP LOCKED` on PostgreSQL (two claims never wait for, nor take,
//! the same row) and inside SQLite's `BEGIN IMMEDIATE` write transaction.
//!
//! Times are milliseconds since the epoch, read from the system clock by the worker (not the
//! app's clock, which tests may freeze).

use super::StorageResult;

/// One queued email as stored. `Debug` hides the address, link, token and bodies.
#[derive(Clone, PartialEq, Eq)]
pub struct QueuedMail {
    pub id: String,
    /// `MailKind::as_str`.
    pub kind: String,
    /// Account-security mail, claimed before any other.
    pub security: bool,
    pub recipient: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub url: String,
    pub token: String,
    /// When it was queued (ms); delivery is given up a configured time after it.
    pub created_at: i64,
    /// Claims so far, this one included once claimed.
    pub attempts: i64,
}

impl std::fmt::Debug for QueuedMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueuedMail")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

pub trait MailQueueStore: Send + Sync {
    /// Queues `mail` due at `now_ms` unless `capacity` rows are already waiting, atomically:
    /// whether it was queued.
    fn enqueue_mail(&self, mail: &QueuedMail, now_ms: i64, capacity: u64) -> StorageResult<bool>;
    /// Claims up to `limit` rows due at `now_ms` and not leased, security mail first then the
    /// oldest due: leases them until `lease_until_ms` and counts an attempt on each.
    fn claim_mail(&self, now_ms: i64, lease_until_ms: i64, limit: u32) -> StorageResult<Vec<QueuedMail>>;
    /// Removes a row that was delivered or given up on.
    fn finish_mail(&self, id: &str) -> StorageResult<()>;
    /// Releases a claimed row for another attempt at `next_attempt_ms`.
    fn retry_mail(&self, id: &str, next_attempt_ms: i64) -> StorageResult<()>;
    /// Rows waiting (due or not, leased or not).
    fn queued_mail(&self) -> StorageResult<u64>;
    /// Whether the backend's connections are all taken (requests would wait for one): the
    /// delivery thread then lets this pass go rather than queue behind the requests.
    fn busy(&self) -> bool {
        false
    }
}
