//! The session cache: recently resolved sessions and their users, kept in this process so a
//! session check on PostgreSQL needs no round trip (`SESAME_SESSION_CACHE`).
//!
//! Correctness comes from the database, not from this process: triggers on `session` and
//! `"user"` (migration `0007_session_notify`) `pg_notify` every changed or deleted key, and a
//! listener (`postgres/listen.rs`) evicts it here, whoever made the change. Three rules keep a
//! cached row from outliving a change by more than the notification's delivery:
//!
//! - **Sessions and users are cached apart.** A hit needs both the session and its user; a
//!   user's change evicts the user, so every session of that user misses until one lookup
//!   reads it again (no index from users to their sessions is needed).
//! - **A fill that raced an eviction is dropped.** A lookup that misses takes a [`Ticket`]
//!   (the eviction sequence) before it reads the database; an eviction stamps its shard with
//!   the next sequence number, and an insert into a shard stamped after the ticket is refused
//!   (checked under the shard's lock, so no eviction slips between the check and the insert).
//!   A row read before a change committed can therefore not be cached after the change's
//!   notification was applied.
//! - **No listener, no cache.** When the listener is not connected, or has not heard from the
//!   server for [`SILENCE_LIMIT`], lookups bypass the cache (and do not fill it); every
//!   disconnect and every reconnect empties it, since notifications sent meanwhile are lost.
//!
//! This process's own writes evict at once (the SQL store methods call [`SessionCache::forget_user`]
//! and [`SessionCache::forget_session`] after writing), so a sign-out is seen by the next
//! request even before its notification comes back.
//!
//! Why not a cache crate (moka, quick_cache): the refusal of a fill that raced an eviction
//! must be atomic with the insert, which neither offers; what is left is small: sharded
//! `HashMap`s under a `Mutex` each, with CLOCK (second-chance) eviction, bounded in entries
//! and in bytes: each row is kept as one encoded buffer (`compact.rs`) and weighs that buffer
//! as the allocator rounds it, plus its share of the map's table and the clock's queue.
//!
//! Sessions are keyed by the SHA-256 of their token, which is what the triggers send: a
//! notification never carries a live token (any role that can connect may `LISTEN`).

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::storage::models::{Session, User};

mod compact;
use compact::Compact;

/// Lookups bypass the cache when the listener has not proved its connection alive for this
/// long (it pings every second when no notification comes): a connection that died without
/// a word (a network partition) stops the cache within this bound.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(3);

const SHARDS: usize = 16;

pub use crate::config::storage::CacheLimits;
pub use crate::metrics::SessionCacheStats as CacheStats;

/// The eviction sequence when a lookup began (see the module header).
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

pub struct SessionCache {
    sessions: Shards<Session>,
    users: Shards<User>,
    /// Eviction sequence: every eviction takes the next number.
    seq: AtomicU64,
    /// The listener is connected and LISTENing.
    connected: AtomicBool,
    /// Milliseconds since `epoch` when the listener last heard from the server.
    alive_at: AtomicU64,
    epoch: Instant,
    /// Asks the listener to end (the storage was dropped).
    stopped: AtomicBool,
    hashes: std::hash::RandomState,
    counters: Counters,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    invalidations: AtomicU64,
    notifications: AtomicU64,
    refused_fills: AtomicU64,
    disconnects: AtomicU64,
    connects: AtomicU64,
}

impl SessionCache {
    /// An empty cache, inactive until [`SessionCache::connected`] is called.
    pub fn new(limits: CacheLimits) -> SessionCache {
        let entries = limits.entries.div_ceil(SHARDS).max(1);
        // Sessions and users share one byte budget.
        let budget = Arc::new(Budget {
            used: AtomicUsize::new(0),
            max: limits.bytes,
        });
        SessionCache {
            sessions: Shards::new(entries, budget.clone()),
            users: Shards::new(entries, budget),
            seq: AtomicU64::new(0),
            connected: AtomicBool::new(false),
            alive_at: AtomicU64::new(0),
            epoch: Instant::now(),
            stopped: AtomicBool::new(false),
            hashes: std::hash::RandomState::new(),
            counters: Counters::default(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether lookups may use the cache now.
    pub fn is_active(&self) -> bool {
        self.connected.load(Ordering::Acquire)
            && self.now_ms().saturating_sub(self.alive_at.load(Ordering::Acquire))
                <= u64::try_from(SILENCE_LIMIT.as_millis()).unwrap_or(u64::MAX)
    }

    fn session_key(token: &str) -> u64 {
        key_of_digest(&Sha256::digest(token.as_bytes()))
    }

    fn user_key(&self, id: &str) -> u64 {
        self.hashes.hash_one(id)
    }

    /// The cached session and user for `token`, or a ticket to fill it after reading the
    /// database; `Err(None)` when the cache is bypassed (read, do not fill).
    pub fn get(&self, token: &str) -> Result<(Session, User), Option<Ticket>> {
        if !self.is_active() {
            return Err(None);
        }
        let ticket = Ticket(self.seq.load(Ordering::SeqCst));
        let hit = self
            .sessions
            .get(Self::session_key(token), |s| s.token == token)
            .and_then(|session| {
                let user = self
                    .users
                    .get(self.user_key(&session.user_id), |u| u.id == session.user_id)?;
                Some((session, user))
            });
        match hit {
            Some(found) => {
                self.counters.hits.fetch_add(1, Ordering::Relaxed);
                Ok(found)
            }
            None => {
                self.counters.misses.fetch_add(1, Ordering::Relaxed);
                Err(Some(ticket))
            }
        }
    }

    /// Caches what a lookup that took `ticket` read, unless an eviction raced it.
    pub fn fill(&self, ticket: Ticket, session: &Session, user: &User) {
        if !self.is_active() {
            return;
        }
        let refused = !self
            .sessions
            .insert(Self::session_key(&session.token), ticket.0, session)
            | !self.users.insert(self.user_key(&user.id), ticket.0, user);
        if refused {
            self.counters.refused_fills.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Evicts the session with this token (a local write).
    pub fn forget_session(&self, token: &str) {
        self.evict_session_key(Self::session_key(token));
    }

    fn evict_session_key(&self, key: u64) {
        self.sessions.evict(key, || self.next_seq());
        self.counters.invalidations.fetch_add(1, Ordering::Relaxed);
    }

    /// Evicts the user, and with it every session of the user (a hit needs both).
    pub fn forget_user(&self, id: &str) {
        self.users.evict(self.user_key(id), || self.next_seq());
        self.counters.invalidations.fetch_add(1, Ordering::Relaxed);
    }

    /// Applies one notification payload: `s:<sha256 of the token, hex>` or `u:<user id>`.
    /// Anything else empties the cache (a trigger from a newer version this one does not
    /// understand must not leave stale rows).
    pub fn apply(&self, payload: &str) {
        self.counters.notifications.fetch_add(1, Ordering::Relaxed);
        self.heard_from_server();
        if let Some(hex) = payload.strip_prefix("s:") {
            if let Some(key) = key_of_hex(hex) {
                self.evict_session_key(key);
                return;
            }
        } else if let Some(id) = payload.strip_prefix("u:") {
            self.forget_user(id);
            return;
        }
        tracing::warn!("session cache: unexpected notification; emptying the cache");
        self.clear();
    }

    /// Empties the cache; fills that began before are refused.
    pub fn clear(&self) {
        let seq = self.next_seq();
        self.sessions.clear(seq);
        self.users.clear(seq);
    }

    /// The listener is LISTENing (again): empty the cache, then use it.
    pub fn connected(&self) {
        self.clear();
        self.heard_from_server();
        self.connected.store(true, Ordering::Release);
        self.counters.connects.fetch_add(1, Ordering::Relaxed);
    }

    /// The listener lost its connection: stop using the cache, and empty it.
    pub fn disconnected(&self) {
        if self.connected.swap(false, Ordering::AcqRel) {
            self.counters.disconnects.fetch_add(1, Ordering::Relaxed);
        }
        self.clear();
    }

    /// The listener heard from the server (a notification or an answered ping).
    pub fn heard_from_server(&self) {
        self.alive_at.store(self.now_ms(), Ordering::Release);
    }

    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    pub fn stats(&self) -> CacheStats {
        let c = &self.counters;
        let (sessions, session_bytes) = self.sessions.size();
        let (users, user_bytes) = self.users.size();
        CacheStats {
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            invalidations: c.invalidations.load(Ordering::Relaxed),
            notifications: c.notifications.load(Ordering::Relaxed),
            refused_fills: c.refused_fills.load(Ordering::Relaxed),
            sessions,
            users,
            bytes: session_bytes + user_bytes,
            active: self.is_active(),
            disconnects: c.disconnects.load(Ordering::Relaxed),
            connects: c.connects.load(Ordering::Relaxed),
        }
    }
}

/// The first 8 bytes of a SHA-256 digest.
fn key_of_digest(digest: &[u8]) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// The key of a hex SHA-256 digest, as the triggers send it.
fn key_of_hex(hex: &str) -> Option<u64> {
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(&hex[..16], 16).ok()
}

/// A table slot (key and buffer pointer) at the map's worst load (under half full right after
/// it grows), and a queue slot.
const SLOT_OVERHEAD: usize = 2 * 24 + 8;

/// What the allocator spends on a buffer of `n` bytes: 16-byte granules and a header.
fn alloc(n: usize) -> usize {
    n.div_ceil(16) * 16 + 16
}

/// The keys are hashes already: the map uses them as they are.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// One cached row: a flag byte (1: used since the clock hand last passed, CLOCK's second
/// chance) and the row, encoded ([`Compact`]). One allocation, nothing else per entry.
type Slot = Box<[u8]>;

/// Encodes into a scratch buffer first, so the long-lived slot is allocated once at its exact
/// size: a buffer grown by doubling and then shrunk leaves a small free chunk behind every
/// cached row, which the allocator can rarely reuse (measured: about a sixth of the cache's
/// memory).
fn slot_of(row: &impl Compact) -> Slot {
    let mut scratch = Vec::with_capacity(512);
    scratch.push(0u8);
    row.encode(&mut scratch);
    Box::from(scratch.as_slice())
}

fn weight(slot: &[u8]) -> usize {
    alloc(slot.len()) + SLOT_OVERHEAD
}

struct Shard {
    map: HashMap<u64, Slot, BuildHasherDefault<KeyHasher>>,
    /// The clock: keys in insertion order; a key evicted meanwhile is skipped.
    queue: VecDeque<u64>,
    bytes: usize,
    /// The sequence number of the last eviction here.
    evicted_at: u64,
}

/// Bytes held by sessions and users together, against the bound.
struct Budget {
    used: AtomicUsize,
    max: usize,
}

struct Shards<V> {
    shards: Box<[Mutex<Shard>]>,
    max_entries: usize,
    budget: Arc<Budget>,
    row: std::marker::PhantomData<fn() -> V>,
}

impl<V: Compact> Shards<V> {
    fn new(max_entries: usize, budget: Arc<Budget>) -> Shards<V> {
        Shards {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        map: HashMap::default(),
                        queue: VecDeque::new(),
                        bytes: 0,
                        evicted_at: 0,
                    })
                })
                .collect(),
            max_entries,
            budget,
            row: std::marker::PhantomData,
        }
    }

    fn shard(&self, key: u64) -> std::sync::MutexGuard<'_, Shard> {
        // The low bits pick the shard; a poisoned lock only means a panic elsewhere while
        // holding it, and every change here leaves the shard consistent.
        let index = usize::try_from(key % SHARDS as u64).unwrap_or(0);
        self.shards[index].lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, key: u64, matches: impl Fn(&V) -> bool) -> Option<V> {
        let value = {
            let mut shard = self.shard(key);
            let slot = shard.map.get_mut(&key)?;
            slot[0] = 1;
            V::decode(&slot[1..])?
        };
        matches(&value).then_some(value)
    }

    /// Inserts unless the shard saw an eviction after `ticket`; whether it was inserted.
    fn insert(&self, key: u64, ticket: u64, value: &V) -> bool {
        let mut guard = self.shard(key);
        let shard = &mut *guard;
        if shard.evicted_at > ticket {
            return false;
        }
        let slot = slot_of(value);
        let added = weight(&slot);
        if added > self.budget.max {
            return true;
        }
        match shard.map.insert(key, slot) {
            Some(old) => self.release(shard, weight(&old)),
            None => shard.queue.push_back(key),
        }
        shard.bytes += added;
        self.budget.used.fetch_add(added, Ordering::Relaxed);
        // Over the byte budget, each insert evicts from its own shard: the shard that grows
        // pays, and every shard is bounded by the entries.
        while shard.map.len() > self.max_entries || self.budget.used.load(Ordering::Relaxed) > self.budget.max {
            let Some(victim) = shard.queue.pop_front() else {
                break;
            };
            let Some(slot) = shard.map.get_mut(&victim) else {
                continue;
            };
            if slot[0] == 1 {
                slot[0] = 0;
                shard.queue.push_back(victim);
            } else if let Some(gone) = shard.map.remove(&victim) {
                self.release(shard, weight(&gone));
            }
        }
        // Keys evicted by notifications stay queued until the hand reaches them; keep the
        // queue from growing without bound when the cache is never full.
        if shard.queue.len() > 2 * shard.map.len() + 64 {
            let Shard { map, queue, .. } = shard;
            let mut seen = std::collections::HashSet::with_capacity(map.len());
            queue.retain(|k| map.contains_key(k) && seen.insert(*k));
        }
        true
    }

    fn release(&self, shard: &mut Shard, weight: usize) {
        shard.bytes -= weight;
        self.budget.used.fetch_sub(weight, Ordering::Relaxed);
    }

    fn evict(&self, key: u64, next_seq: impl FnOnce() -> u64) {
        let mut guard = self.shard(key);
        let shard = &mut *guard;
        shard.evicted_at = next_seq();
        if let Some(gone) = shard.map.remove(&key) {
            self.release(shard, weight(&gone));
        }
    }

    fn clear(&self, seq: u64) {
        for index in 0..SHARDS {
            let mut guard = self.shard(index as u64);
            let shard = &mut *guard;
            shard.evicted_at = seq;
            shard.map = HashMap::default();
            shard.queue = VecDeque::new();
            let bytes = shard.bytes;
            self.release(shard, bytes);
        }
    }

    fn size(&self) -> (u64, u64) {
        let mut entries = 0;
        let mut bytes = 0;
        for index in 0..SHARDS {
            let shard = self.shard(index as u64);
            entries += shard.map.len() as u64;
            bytes += shard.bytes as u64;
        }
        (entries, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn user(id: &str) -> User {
        let mut u = User::new(
            "Ann",
            &format!("{id}@example.com"),
            None,
            datetime!(2026-01-01 0:00 UTC),
        );
        u.id = id.to_string();
        u
    }

    fn session(token: &str, user_id: &str) -> Session {
        let now = datetime!(2026-01-01 0:00 UTC);
        Session {
            id: format!("id-{token}"),
            token: token.to_string(),
            user_id: user_id.to_string(),
            expires_at: now,
            created_at: now,
            updated_at: now,
            ip_address: Some("127.0.0.1".to_string()),
            user_agent: Some("test".to_string()),
            dont_remember_me: false,
            impersonated_by: None,
        }
    }

    fn active(limits: CacheLimits) -> SessionCache {
        let cache = SessionCache::new(limits);
        cache.connected();
        cache
    }

    fn fill(cache: &SessionCache, s: &Session, u: &User) {
        let Err(Some(ticket)) = cache.get(&s.token) else {
            panic!("expected a miss with a ticket");
        };
        cache.fill(ticket, s, u);
    }

    #[test]
    fn a_fill_is_a_hit_until_the_session_or_its_user_is_evicted() {
        let cache = active(CacheLimits::default());
        let (u, a, b) = (user("u1"), session("tok-a", "u1"), session("tok-b", "u1"));
        fill(&cache, &a, &u);
        fill(&cache, &b, &u);
        assert_eq!(cache.get("tok-a").unwrap().0, a);
        cache.forget_session("tok-a");
        assert!(cache.get("tok-a").is_err());
        assert!(cache.get("tok-b").is_ok());
        cache.forget_user("u1");
        assert!(
            cache.get("tok-b").is_err(),
            "a user's change ends every session of the user"
        );
    }

    #[test]
    fn notifications_name_the_token_by_its_digest() {
        let cache = active(CacheLimits::default());
        let (u, a) = (user("u1"), session("tok-a", "u1"));
        fill(&cache, &a, &u);
        let digest: String = Sha256::digest(b"tok-a").iter().map(|b| format!("{b:02x}")).collect();
        cache.apply(&format!("s:{digest}"));
        assert!(cache.get("tok-a").is_err());
        fill(&cache, &a, &u);
        cache.apply("u:u1");
        assert!(cache.get("tok-a").is_err());
        fill(&cache, &a, &u);
        cache.apply("something else");
        assert_eq!(cache.stats().sessions, 0, "an unknown payload empties the cache");
    }

    #[test]
    fn a_fill_that_raced_an_eviction_is_refused() {
        let cache = active(CacheLimits::default());
        let (u, a) = (user("u1"), session("tok-a", "u1"));
        let Err(Some(ticket)) = cache.get("tok-a") else {
            panic!()
        };
        // The row was read; then its change's notification arrives before the insert.
        cache.forget_session("tok-a");
        cache.fill(ticket, &a, &u);
        assert!(cache.get("tok-a").is_err());
        let Err(Some(ticket)) = cache.get("tok-a") else {
            panic!()
        };
        cache.apply("u:u1");
        cache.fill(ticket, &a, &u);
        assert!(
            cache.get("tok-a").is_err(),
            "the user's eviction refuses the user, so no hit"
        );
        assert_eq!(cache.stats().refused_fills, 2);
    }

    #[test]
    fn without_a_listener_the_cache_is_bypassed_and_emptied() {
        let cache = SessionCache::new(CacheLimits::default());
        assert!(matches!(cache.get("tok-a"), Err(None)), "inactive until connected");
        cache.connected();
        let (u, a) = (user("u1"), session("tok-a", "u1"));
        let Err(Some(before_drop)) = cache.get("tok-a") else {
            panic!()
        };
        fill(&cache, &a, &u);
        cache.disconnected();
        assert!(matches!(cache.get("tok-a"), Err(None)));
        cache.connected();
        assert!(cache.get("tok-a").is_err(), "the reconnect found an empty cache");
        cache.fill(before_drop, &a, &u);
        assert!(cache.get("tok-a").is_err(), "a fill begun before the drop is refused");
        assert_eq!(cache.stats().disconnects, 1);
        assert_eq!(cache.stats().connects, 2);
    }

    #[test]
    fn entries_and_bytes_are_bounded() {
        let cache = active(CacheLimits {
            entries: 160,
            bytes: 1 << 30,
        });
        let u = user("u1");
        for i in 0..1000 {
            fill(&cache, &session(&format!("tok-{i}"), "u1"), &u);
        }
        let stats = cache.stats();
        assert!(stats.sessions <= 160, "{stats:?}");
        let one = weight(&slot_of(&session("tok-0", "u1"))) as u64;
        let cache = active(CacheLimits {
            entries: 100_000,
            bytes: 64 * 1024,
        });
        for i in 0..1000 {
            fill(&cache, &session(&format!("tok-{i}"), "u1"), &u);
        }
        let stats = cache.stats();
        assert!(stats.bytes <= 64 * 1024, "{stats:?}");
        assert!(stats.sessions >= (64 * 1024 / one) / 2, "{stats:?}");
    }

    #[test]
    fn a_used_entry_gets_a_second_chance() {
        let cache = active(CacheLimits {
            entries: 16 * 4,
            bytes: 1 << 30,
        });
        let u = user("u1");
        let hot = session("hot", "u1");
        fill(&cache, &hot, &u);
        for i in 0..2000 {
            assert!(cache.get("hot").is_ok(), "the hot session stays cached ({i})");
            fill(&cache, &session(&format!("tok-{i}"), "u1"), &u);
        }
    }
}
