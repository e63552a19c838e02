//! The hashing pool's CPU budget: the weighted half of its scheduler.
//!
//! The pool has a thread per core, so a hash is never starved of CPU by the kernel's
//! preference for the many short-lived request threads (with one thread, measured, hashing
//! got a fifth of a core under a flood of session checks: BENCHMARKS.md, Overload). Left
//! alone those threads would take every core during a sign-in storm, so while the workers are
//! busy (other requests are waiting for the CPU; `hash_pool.rs` says how that is judged)
//! hashing may use at most its share (`SESAME_HASH_SHARE` of the cores), counted in the CPU
//! time the hashes really used. When the workers have a free seat the cap does not apply:
//! idle capacity goes to hashing.
//!
//! A token bucket in CPU-seconds: it fills at `share × cores` per second up to a burst of
//! half a second's worth, each finished hash takes out its CPU time, and a new hash starts
//! under contention only while the bucket is not in debt. Half a burst saved up means the
//! running hashes are not getting their share, and the pool may run one more.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Budget {
    /// CPU-seconds hashing may use per second under contention.
    rate: f64,
    /// Most CPU-seconds the bucket holds, and most debt it carries.
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl Budget {
    pub fn new(rate: f64, now: Instant) -> Budget {
        let burst = rate * 0.5;
        Budget {
            rate,
            burst,
            tokens: burst,
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.at = now;
    }

    /// How long a hash must wait before it may start under contention; `None`: start now.
    pub fn wait(&mut self, now: Instant) -> Option<Duration> {
        self.refill(now);
        // A debt below a nanosecond's worth is rounding, not debt (its wait would be zero).
        (self.tokens < -1e-9).then(|| Duration::from_secs_f64(-self.tokens / self.rate))
    }

    /// Whether at least half the burst is saved up: hashing has used less than its share lately.
    pub fn unused(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.burst * 0.5
    }

    /// Takes out the CPU time a hash used. The debt is capped, so a burst of hashes while
    /// the workers were idle does not hold hashing back for long once they are busy.
    pub fn spend(&mut self, cpu: Duration, now: Instant) {
        self.refill(now);
        self.tokens = (self.tokens - cpu.as_secs_f64()).max(-self.burst);
    }
}

/// CPU time the calling thread has used so far (not wall time: a hash preempted by other
/// threads is charged only for what it ran).
pub fn thread_cpu_time() -> Duration {
    match nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID) {
        Ok(t) => Duration::new(t.tv_sec().max(0) as u64, t.tv_nsec().clamp(0, 999_999_999) as u32),
        // Not on Linux's list of failures for this clock; charging nothing only lets hashing
        // run uncapped.
        Err(_) => Duration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn half_a_burst_saved_up_means_the_share_is_going_unused() {
        let t0 = Instant::now();
        let mut b = Budget::new(0.6, t0);
        assert!(b.unused(t0));
        b.spend(ms(300), t0);
        assert!(!b.unused(t0));
        // 0.15 s of share (half the burst) is saved up again 250 ms later.
        assert!(!b.unused(t0 + ms(249)));
        assert!(b.unused(t0 + ms(251)));
    }

    #[test]
    fn a_full_bucket_lets_a_hash_start_at_once() {
        let t0 = Instant::now();
        let mut b = Budget::new(0.6, t0);
        assert_eq!(b.wait(t0), None);
    }

    #[test]
    fn a_hash_that_overdraws_the_bucket_makes_the_next_wait_for_the_debt_to_refill() {
        let t0 = Instant::now();
        // 0.6 CPU-s per second (30 % of two cores): burst 0.3 s.
        let mut b = Budget::new(0.6, t0);
        b.spend(ms(360), t0);
        // 60 ms of debt at 0.6 per second: 100 ms.
        let wait = b.wait(t0).expect("in debt");
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-9, "{wait:?}");
        assert!(b.wait(t0 + ms(99)).is_some());
        assert_eq!(b.wait(t0 + ms(101)), None);
    }

    #[test]
    fn the_share_is_the_long_run_rate_of_cpu_time_admitted() {
        // Hashes of 50 ms CPU, started whenever the bucket allows: over 100 s at 0.6 CPU-s/s
        // about 60 s of hashing is admitted (plus the first burst), never more.
        let t0 = Instant::now();
        let mut b = Budget::new(0.6, t0);
        let (mut now, mut used) = (t0, Duration::ZERO);
        let end = t0 + Duration::from_secs(100);
        for _ in 0..100_000 {
            if now >= end {
                break;
            }
            match b.wait(now) {
                Some(w) => now += w,
                None => {
                    b.spend(ms(50), now);
                    used += ms(50);
                }
            }
        }
        assert!(now >= end, "the simulation ended early");
        let used = used.as_secs_f64();
        assert!((60.0..=60.4).contains(&used), "{used}");
    }

    #[test]
    fn the_bucket_holds_at_most_half_a_second_of_share_and_carries_at_most_as_much_debt() {
        let t0 = Instant::now();
        let mut b = Budget::new(0.6, t0);
        // An hour idle fills it only to the burst: 0.3 s of hashing, then a wait.
        let later = t0 + Duration::from_secs(3600);
        b.spend(ms(300), later);
        assert_eq!(b.wait(later), None);
        b.spend(ms(1), later);
        assert!(b.wait(later).is_some());
        // Ten seconds of hashing while uncontended leave at most 0.3 s of debt: 0.5 s wait.
        b.spend(Duration::from_secs(10), later);
        let wait = b.wait(later).expect("in debt");
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-9, "{wait:?}");
    }

    #[test]
    fn thread_cpu_time_counts_work_not_sleep() {
        let before = thread_cpu_time();
        std::thread::sleep(ms(30));
        let slept = thread_cpu_time() - before;
        let mut x = 0u64;
        let start = thread_cpu_time();
        while thread_cpu_time() - start < ms(20) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        assert!(slept < ms(20), "sleeping counted {slept:?}");
        assert!(thread_cpu_time() - start >= ms(20));
    }
}
