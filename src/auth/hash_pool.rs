//! The hashing pool: every password hash and verification runs on a fixed number of threads
//! (`SESAME_HASH_THREADS`, default one per core) fed by a bounded queue (`SESAME_HASH_QUEUE`),
//! and, while the workers are busy, within a CPU share (`SESAME_HASH_SHARE`,
//! [`super::hash_budget`]) that is also its guarantee.
//!
//! "The workers are busy" means every seat was answering a request at once within the last
//! 50 ms: under a flood the workers look idle between two cheap requests most of the time, so
//! "busy right now" let hashes start almost whenever they liked. While busy, hashes run one per
//! core the share covers (one on two cores at 0.27), so the cores the workers need are not all
//! fought over by hashes at once; a second starts only if the running one leaves the share
//! unused, which happens when the kernel gives a lone hashing thread less than its share among
//! many request threads.
//!
//! Why a pool, and why only the hash: a bcrypt or scrypt hash costs ~50–130 ms of CPU, a
//! session check well under a millisecond. The request itself — body, validation, origin,
//! rate limit, the user lookup — runs on an ordinary worker like any other, so a request that
//! will be refused is refused there in microseconds and never waits behind real sign-ins. Only
//! the hash is handed over; the worker waits for it *without its seat* ([`Seats`]), so at most
//! `SESAME_WORKERS` threads serve the cheap requests while the pool's threads, at normal
//! priority, keep their share of the CPU however many session checks are queued; the budget
//! keeps them from taking more than that share while those requests wait.
//!
//! Waiting is bounded twice: a full queue answers 503 `SERVER_BUSY` at once, and a hash that
//! cannot start within `SESAME_HASH_START_TIMEOUT_MS` is withdrawn and answered the same way,
//! both with `Retry-After`, so a client never meets a long silence.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use super::hash_budget::{thread_cpu_time, Budget};
use crate::error::{codes, ApiError};
use crate::metrics::Metrics;

type Job = Box<dyn FnOnce() + Send>;

/// How the pool is sized.
#[derive(Debug, Clone, Copy)]
pub struct PoolSize {
    pub threads: usize,
    /// Hashes that may wait for a thread; one more is refused.
    pub queue: usize,
    /// How long a hash may wait to start before it is withdrawn.
    pub start_timeout: Duration,
    /// CPU-seconds per second hashing may use while every worker seat is busy; `None`: no cap.
    pub contended_cpu_rate: Option<f64>,
}

pub struct HashPool {
    shared: Arc<Shared>,
    size: PoolSize,
    metrics: Arc<Metrics>,
}

struct Shared {
    state: Mutex<State>,
    work: Condvar,
}

#[derive(Default)]
struct State {
    /// Jobs not yet taken by a thread, with their number (to withdraw one) and arrival time.
    queue: VecDeque<(u64, Instant, Job)>,
    next_id: u64,
    /// Threads started so far: they are started on first use, so an app that never hashes
    /// (most tests, the in-process API of a read-only tool) never owns them.
    threads: usize,
    /// Threads blocked on this gate until it opens (tests hold the pool full).
    held: Option<Arc<Gate>>,
    closed: bool,
    budget: Option<Budget>,
    /// Hashes running now, and how many may run at once while the workers are all busy.
    running: usize,
    contended_threads: usize,
    /// The seats of the server using this pool: all taken means other requests want the CPU.
    seats: Option<Weak<Seats>>,
}

impl std::fmt::Debug for HashPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashPool").field("size", &self.size).finish()
    }
}

impl HashPool {
    pub fn new(size: PoolSize, metrics: Arc<Metrics>) -> HashPool {
        let rate = size.contended_cpu_rate.filter(|rate| *rate > 0.0 && rate.is_finite());
        let threads = size.threads.max(1);
        HashPool {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    budget: rate.map(|rate| Budget::new(rate, Instant::now())),
                    contended_threads: rate.map_or(threads, |rate| contended_threads(rate, threads)),
                    ..State::default()
                }),
                work: Condvar::new(),
            }),
            size: PoolSize { threads, ..size },
            metrics,
        }
    }

    /// Runs `hash` on a pool thread and returns its result. 503 `SERVER_BUSY` (with
    /// `Retry-After`) when the queue is full or the hash could not start in time. A worker
    /// calling this gives up its seat until the hash is done.
    pub fn run<T: Send + 'static>(&self, hash: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        let (tx, rx) = sync_channel(1);
        let job: Job = Box::new(move || {
            // A panic is caught here so that it costs one answer (a 500), not a pool thread.
            let _ = tx.send(std::panic::catch_unwind(AssertUnwindSafe(hash)));
        });
        let id = self.submit(job)?;
        // The seat is not taken back afterwards: the worker finishes this request seatless and
        // waits for a seat before its next one.
        Seats::leave();
        let outcome = match rx.recv_timeout(self.size.start_timeout) {
            Ok(outcome) => outcome,
            Err(RecvTimeoutError::Timeout) => {
                if self.withdraw(id) {
                    self.metrics.hash_rejected.inc();
                    return Err(busy());
                }
                // Already running: it finishes in one hash's time.
                rx.recv().map_err(|_| ApiError::internal())?
            }
            Err(RecvTimeoutError::Disconnected) => return Err(ApiError::internal()),
        };
        outcome.map_err(|_| {
            tracing::error!("a password hash panicked");
            ApiError::internal()
        })
    }

    fn submit(&self, job: Job) -> Result<u64, ApiError> {
        let mut state = self.lock();
        if state.closed || state.queue.len() >= self.size.queue {
            drop(state);
            self.metrics.hash_rejected.inc();
            return Err(busy());
        }
        self.metrics.hash_jobs.inc();
        let id = state.next_id;
        state.next_id += 1;
        state.queue.push_back((id, Instant::now(), job));
        self.metrics.hash_queue_depth.inc();
        while state.threads < self.size.threads {
            state.threads += 1;
            let i = state.threads;
            let (shared, metrics) = (self.shared.clone(), self.metrics.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("hash-{i}"))
                .spawn(move || work(&shared, &metrics));
            if let Err(e) = spawned {
                // The threads already running serve the queue; the next hash tries again.
                state.threads -= 1;
                tracing::warn!("starting a hashing thread: {e}");
                break;
            }
        }
        drop(state);
        self.shared.work.notify_one();
        Ok(id)
    }

    /// The seats of the server this pool serves: the CPU budget applies while all are busy.
    /// Without seats (the in-process API) hashing is never held back.
    pub fn watch_seats(&self, seats: &Arc<Seats>) {
        self.lock().seats = Some(Arc::downgrade(seats));
    }

    /// Takes the job out of the queue if no thread has started it.
    fn withdraw(&self, id: u64) -> bool {
        let mut state = self.lock();
        let Some(at) = state.queue.iter().position(|(i, _, _)| *i == id) else {
            return false;
        };
        state.queue.remove(at);
        self.metrics.hash_queue_depth.dec();
        true
    }

    /// Occupies every pool thread until the returned gate is dropped: what a pool busy with
    /// long hashes looks like, without the timing. For tests.
    pub fn hold(&self) -> HeldPool {
        let gate = Arc::new(Gate::default());
        self.lock().held = Some(gate.clone());
        HeldPool {
            gate,
            shared: self.shared.clone(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for HashPool {
    /// The threads finish what is queued, then end.
    fn drop(&mut self) {
        self.lock().closed = true;
        self.shared.work.notify_all();
    }
}

fn busy() -> ApiError {
    ApiError::with_message(
        503,
        codes::SERVER_BUSY,
        "Too many password checks at once. Please try again later.",
    )
    .with_header("retry-after", "1")
}

fn work(shared: &Shared, metrics: &Metrics) {
    loop {
        let mut state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
        let next = loop {
            if let Some(gate) = state.held.clone() {
                drop(state);
                gate.wait();
                state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
                continue;
            }
            if !state.queue.is_empty() {
                match held_back(&mut state) {
                    Err(wait) => {
                        let since = Instant::now();
                        // Woken early by a new job, it looks again.
                        state = shared
                            .work
                            .wait_timeout(state, wait)
                            .map_or_else(|p| p.into_inner().0, |r| r.0);
                        metrics.hash_throttled.inc_by(since.elapsed().as_secs_f64());
                        continue;
                    }
                    // The queue is not empty: this is always a job.
                    Ok(start) => break state.queue.pop_front().map(|job| (start, job)),
                }
            }
            if state.closed {
                break None;
            }
            state = shared.work.wait(state).unwrap_or_else(|p| p.into_inner());
        };
        let Some((start, (_, queued, job))) = next else {
            return;
        };
        let running = state.running;
        state.running += 1;
        drop(state);
        metrics.observe_hash_start(start.label(), running);
        metrics.hash_queue_depth.dec();
        metrics.hash_wait.observe(queued.elapsed().as_secs_f64());
        let cpu = thread_cpu_time();
        job();
        let used = thread_cpu_time().saturating_sub(cpu);
        let mut state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
        state.running -= 1;
        if let Some(budget) = state.budget.as_mut() {
            budget.spend(used, Instant::now());
        }
        drop(state);
        // A thread held back because too many hashes were running may start now.
        shared.work.notify_one();
    }
}

/// How many hashes may run at once while the workers are all busy: as many cores as the
/// CPU share covers, rounded up (a share of 0.54 cores: one). Measured on two cores, one
/// hashing thread instead of two at the same CPU share left each session check an eighth
/// cheaper in CPU (36 against 41 µs): the cores the workers run on are not all fought over by
/// hashes, whose every preemption costs a context switch and cold caches (BENCHMARKS.md,
/// Overload).
fn contended_threads(rate: f64, threads: usize) -> usize {
    (rate.ceil() as usize).clamp(1, threads)
}

/// How recently the workers must all have been busy for hashing to count as contended: about
/// one hash's time, the span a hash started now will take the CPU for.
const CONTENDED_WINDOW: Duration = Duration::from_millis(50);

/// Why a hash may start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// The workers have not all been busy lately: idle capacity goes to hashing.
    Free,
    /// The workers are busy, and the share and the cores it covers allow one more.
    Share,
    /// The workers are busy and the share's cores are all hashing, but the running hashes
    /// leave the share unused.
    CatchUp,
}

impl Start {
    fn label(self) -> &'static str {
        match self {
            Start::Free => "free",
            Start::Share => "share",
            Start::CatchUp => "catch_up",
        }
    }
}

/// Whether the next hash may start, and why, or how long it must wait: only while the
/// workers are busy (every seat answering a request at once within [`CONTENDED_WINDOW`]),
/// and then while the budget is in debt or as many hashes run as the share allows at once.
/// The wait is at most [`LONGEST_HOLD`] at a time, so a seat coming free is noticed soon (and
/// a hash ending wakes a held-back thread).
fn held_back(state: &mut State) -> Result<Start, Duration> {
    let contended = state
        .seats
        .as_ref()
        .and_then(Weak::upgrade)
        .is_some_and(|seats| seats.busy_within(CONTENDED_WINDOW));
    if !contended {
        return Ok(Start::Free);
    }
    if state.running >= state.contended_threads {
        // One more only while the running hashes leave the share unused (the kernel gives a
        // lone hashing thread less than its share among many request threads): the share is
        // a guarantee as well as a cap.
        let behind = state.budget.as_mut().is_some_and(|b| b.unused(Instant::now()));
        return if behind { Ok(Start::CatchUp) } else { Err(LONGEST_HOLD) };
    }
    match state.budget.as_mut().and_then(|b| b.wait(Instant::now())) {
        Some(wait) => Err(wait.min(LONGEST_HOLD)),
        None => Ok(Start::Share),
    }
}

/// The longest a held-back hashing thread waits before it looks again.
const LONGEST_HOLD: Duration = Duration::from_millis(50);

/// A held pool ([`HashPool::hold`]); dropping it lets the threads go on.
pub struct HeldPool {
    gate: Arc<Gate>,
    shared: Arc<Shared>,
}

impl Drop for HeldPool {
    fn drop(&mut self) {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner()).held = None;
        self.gate.open();
        self.shared.work.notify_all();
    }
}

#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    fn wait(&self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        while !*open {
            open = self.opened.wait(open).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn open(&self) {
        *self.open.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.opened.notify_all();
    }
}

/// The server's worker seats: `SESAME_WORKERS` of them, and a worker needs one to take the
/// next request. A worker that waits for a hash gives its seat up ([`HashPool::run`]), so
/// another thread takes requests meanwhile; the number of threads competing with the hashing
/// pool for the CPU stays `SESAME_WORKERS` however many hashes are waiting.
///
/// A worker keeps its seat from one request to the next. Giving it back after each request
/// woke a sleeping thread to take it: a context switch per request, and the seats rotated
/// through dozens of threads whose stacks were cold (measured: the kernel's scheduling was
/// the largest single cost of a session check).
#[derive(Debug)]
pub struct Seats {
    free: Mutex<Option<usize>>,
    changed: Condvar,
    closed: AtomicBool,
    seats: usize,
    /// Seats whose worker is answering a request (not waiting for one).
    busy: AtomicUsize,
    /// When every seat was last busy at once, in µs since `epoch` (0: never).
    last_all_busy: AtomicU64,
    epoch: Instant,
}

thread_local! {
    /// The seat this thread holds, if it is a worker holding one, and whether it is answering
    /// a request on it.
    static SEAT: RefCell<Option<(Arc<Seats>, bool)>> = const { RefCell::new(None) };
}

impl Seats {
    pub fn new(n: usize) -> Arc<Seats> {
        Arc::new(Seats {
            free: Mutex::new(Some(n)),
            changed: Condvar::new(),
            closed: AtomicBool::new(false),
            seats: n,
            busy: AtomicUsize::new(0),
            last_all_busy: AtomicU64::new(0),
            epoch: Instant::now(),
        })
    }

    /// Waits for a seat and gives it to this thread (at once if it holds one already); false
    /// once the seats are closed.
    pub fn take(self: &Arc<Seats>) -> bool {
        let held = SEAT.with(|s| s.borrow().as_ref().is_some_and(|(seats, _)| Arc::ptr_eq(seats, self)));
        if held {
            if !self.closed.load(Ordering::SeqCst) {
                return true;
            }
            Seats::leave();
        }
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match *free {
                None => return false,
                Some(n) if n > 0 => {
                    *free = Some(n - 1);
                    SEAT.with(|s| *s.borrow_mut() = Some((self.clone(), false)));
                    return true;
                }
                Some(_) => free = self.changed.wait(free).unwrap_or_else(|p| p.into_inner()),
            }
        }
    }

    /// This thread, holding a seat, has a request to answer: its seat counts as busy until it
    /// leaves it.
    pub fn begin() {
        SEAT.with(|s| {
            if let Some((seats, busy @ false)) = s.borrow_mut().as_mut() {
                *busy = true;
                if seats.busy.fetch_add(1, Ordering::SeqCst) + 1 >= seats.seats {
                    let at = seats.epoch.elapsed().as_micros().max(1);
                    seats
                        .last_all_busy
                        .store(u64::try_from(at).unwrap_or(u64::MAX), Ordering::Relaxed);
                }
            }
        });
    }

    /// This thread's request is answered: it keeps its seat for the next one, not busy.
    pub fn end() {
        SEAT.with(|s| {
            if let Some((seats, busy @ true)) = s.borrow_mut().as_mut() {
                *busy = false;
                seats.busy.fetch_sub(1, Ordering::SeqCst);
            }
        });
    }

    /// Gives this thread's seat back, if it holds one.
    pub fn leave() {
        if let Some((seats, busy)) = SEAT.with(|s| s.borrow_mut().take()) {
            if busy {
                seats.busy.fetch_sub(1, Ordering::SeqCst);
            }
            let mut free = seats.free.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(n) = free.as_mut() {
                *n += 1;
            }
            drop(free);
            seats.changed.notify_one();
        }
    }

    /// Whether a request is being answered on every seat (a worker waiting for the next
    /// request keeps its seat but is not busy): other requests then compete for the CPU.
    pub fn all_busy(&self) -> bool {
        self.busy.load(Ordering::SeqCst) >= self.seats
    }

    /// Whether every seat was busy at once within `window` (or is now). Under a flood the
    /// workers finish a cheap request in microseconds and look idle for as long between two,
    /// so "busy now" alone let a hash start at most moments; a sign-in storm alone fills both
    /// seats at once only rarely, so it stays uncontended.
    pub fn busy_within(&self, window: Duration) -> bool {
        if self.all_busy() {
            return true;
        }
        let last = self.last_all_busy.load(Ordering::Relaxed);
        let now = u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
        last != 0 && now.saturating_sub(last) < u64::try_from(window.as_micros()).unwrap_or(u64::MAX)
    }

    /// Wakes every thread waiting for a seat; they get none from now on.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        *self.free.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{MailStats, StatsCollector, StorageStats};
    use std::sync::mpsc::channel;

    /// A pool whose CPU budget is so small that one hash puts it in debt for hours.
    fn starved_pool() -> HashPool {
        let metrics = Arc::new(Metrics::new(StatsCollector {
            storage: Box::new(StorageStats::default),
            mail: Arc::new(MailStats::default()),
        }));
        HashPool::new(
            PoolSize {
                threads: 1,
                queue: 4,
                start_timeout: Duration::from_millis(100),
                contended_cpu_rate: Some(1e-6),
            },
            metrics,
        )
    }

    /// Uses 2 ms of this thread's CPU, as a hash would (bounded by the CPU clock).
    fn burn() -> bool {
        let start = thread_cpu_time();
        let mut x = 0u64;
        while thread_cpu_time() - start < Duration::from_millis(2) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        true
    }

    /// Three hashes on a pool whose budget is spent by the first: none may be held back.
    fn runs_three_hashes_unthrottled(pool: &HashPool) {
        for _ in 0..3 {
            assert_eq!(pool.run(burn).ok(), Some(true));
        }
        assert_eq!(pool.metrics.hash_throttled.get(), 0.0);
        assert_eq!(started(pool, "free", "0"), 3, "{}", pool.metrics.render());
    }

    /// Hashes counted as started for `reason` with `running` others at work.
    fn started(pool: &HashPool, reason: &'static str, running: &'static str) -> u64 {
        let labels = crate::metrics::HashStartLabels { reason, running };
        pool.metrics.hash_started.get_or_create(&labels).get()
    }

    /// Takes a seat on another thread until the sender drops: answering a request on it (a
    /// busy worker) or waiting for its next request (an idle one).
    fn occupy(seats: &Arc<Seats>, answering: bool) -> std::sync::mpsc::Sender<()> {
        let (release, wait) = channel::<()>();
        let (taken, seated) = channel();
        let seats = seats.clone();
        std::thread::spawn(move || {
            assert!(seats.take());
            if answering {
                Seats::begin();
            }
            taken.send(()).ok();
            let _ = wait.recv();
            Seats::leave();
        });
        seated.recv().expect("the seat was taken");
        release
    }

    #[test]
    fn while_every_seat_is_taken_a_spent_budget_holds_hashes_back_until_they_are_refused() {
        let pool = starved_pool();
        let seats = Seats::new(1);
        pool.watch_seats(&seats);
        let _busy = occupy(&seats, true);
        assert!(seats.all_busy());
        // The bucket starts with its burst; this hash spends it and more.
        assert_eq!(pool.run(burn).ok(), Some(true));
        let err = pool.run(burn).expect_err("held back past its start deadline");
        assert_eq!(err.status, 503);
        assert_eq!(err.code, codes::SERVER_BUSY.code);
        assert!(pool.metrics.hash_throttled.get() > 0.0);
        assert_eq!(pool.metrics.hash_rejected.get(), 1);
        // The first started within the share; the refused one was never counted as started.
        assert_eq!(started(&pool, "share", "0"), 1);
        assert_eq!(started(&pool, "free", "0"), 0);
    }

    #[test]
    fn with_a_free_seat_a_spent_budget_does_not_hold_hashing_back() {
        let pool = starved_pool();
        let seats = Seats::new(2);
        pool.watch_seats(&seats);
        let _busy = occupy(&seats, true);
        assert!(!seats.all_busy());
        runs_three_hashes_unthrottled(&pool);
    }

    #[test]
    fn every_seat_busy_a_moment_ago_still_counts_as_contended_within_the_window() {
        let seats = Seats::new(1);
        assert!(!seats.busy_within(Duration::from_secs(3600)), "never busy yet");
        let busy = occupy(&seats, true);
        assert!(seats.busy_within(Duration::ZERO), "busy now");
        drop(busy);
        // The seat is free again once the occupying thread has left it.
        assert!(seats.take());
        assert!(!seats.all_busy());
        assert!(seats.busy_within(Duration::from_secs(3600)));
        assert!(!seats.busy_within(Duration::ZERO));
    }

    /// The scheduling state of a pool of `threads` with `running` hashes at work, its CPU
    /// rate `rate` (cores) and `spent` CPU-seconds already charged, and a server whose one
    /// seat is busy for as long as the returned sender lives.
    fn contended_state(
        threads: usize,
        running: usize,
        rate: f64,
        spent: f64,
    ) -> (State, std::sync::mpsc::Sender<()>, Arc<Seats>) {
        let seats = Seats::new(1);
        let busy = occupy(&seats, true);
        let mut budget = Budget::new(rate, Instant::now());
        budget.spend(Duration::from_secs_f64(spent), Instant::now());
        let state = State {
            budget: Some(budget),
            running,
            contended_threads: contended_threads(rate, threads),
            seats: Some(Arc::downgrade(&seats)),
            ..State::default()
        };
        (state, busy, seats)
    }

    #[test]
    fn while_contended_hashes_run_one_per_core_of_the_share_unless_the_share_goes_unused() {
        assert_eq!(contended_threads(0.54, 2), 1);
        assert_eq!(contended_threads(2.4, 8), 3);
        assert_eq!(contended_threads(2.4, 2), 2);
        // A share of 0.6 cores on two threads: the first hash may start...
        let (mut state, _busy, _seats) = contended_state(2, 0, 0.6, 0.0);
        assert_eq!(held_back(&mut state), Ok(Start::Share));
        // ...a second one waits while the first uses the share (the bucket is drawn down)...
        let (mut state, _busy, _seats) = contended_state(2, 1, 0.6, 0.25);
        assert!(held_back(&mut state).is_err());
        // ...and starts when the running one leaves it unused (the bucket stays full).
        let (mut state, _busy, _seats) = contended_state(2, 1, 0.6, 0.0);
        assert_eq!(held_back(&mut state), Ok(Start::CatchUp));
        // Without contention (a server whose seat has never been busy) nothing is held back,
        // however many run. The seats must outlive the check: gone, they would mean "no
        // server", a different reason for the same answer.
        let (mut state, _busy, _seats) = contended_state(2, 1, 0.6, 0.25);
        let idle = Seats::new(1);
        state.seats = Some(Arc::downgrade(&idle));
        assert!(!idle.busy_within(Duration::from_secs(3600)));
        assert_eq!(held_back(&mut state), Ok(Start::Free));
    }

    #[test]
    fn a_worker_waiting_for_its_next_request_keeps_its_seat_but_not_busy() {
        // An idle worker holds its seat while it waits in `recv`: that is not contention, and
        // a sign-in storm with nothing else to do must get every hashing thread.
        let pool = starved_pool();
        let seats = Seats::new(1);
        pool.watch_seats(&seats);
        let _idle = occupy(&seats, false);
        assert!(!seats.all_busy());
        runs_three_hashes_unthrottled(&pool);
    }

    #[test]
    fn a_worker_keeps_its_seat_from_one_request_to_the_next_until_the_seats_close() {
        // Each test runs on a thread of its own, which is the worker here.
        let seats = Seats::new(1);
        for _ in 0..3 {
            assert!(seats.take());
            Seats::begin();
            assert!(seats.all_busy());
            Seats::end();
            assert!(!seats.all_busy());
            // Still this thread's: no seat is free for another.
            assert_eq!(*seats.free.lock().unwrap(), Some(0));
        }
        seats.close();
        assert!(!seats.take(), "a closed server's worker stops");
        assert!(SEAT.with(|s| s.borrow().is_none()), "and holds no seat");
    }

    #[test]
    fn without_a_server_the_budget_never_holds_hashing_back() {
        // The in-process API: no seats to watch.
        let pool = starved_pool();
        runs_three_hashes_unthrottled(&pool);
    }
}
