//! Time as an injected dependency: handlers read `ctx.now`, taken once per request from the
//! app's clock, so tests can fix and advance time.

use std::sync::Mutex;

use time::OffsetDateTime;

pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that stands still until advanced.
pub struct FixedClock(Mutex<OffsetDateTime>);

impl FixedClock {
    pub fn new(at: OffsetDateTime) -> Self {
        FixedClock(Mutex::new(at))
    }

    pub fn advance(&self, by: time::Duration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t += by;
    }

    pub fn set(&self, at: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// ISO-8601 UTC with milliseconds, as Better Auth writes dates (`2026-11-26T19:42:01.429Z`).
pub fn iso(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Truncates to milliseconds, the precision every storage keeps.
pub fn millis(t: OffsetDateTime) -> OffsetDateTime {
    let ns = t.nanosecond() / 1_000_000 * 1_000_000;
    t.replace_nanosecond(ns).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn iso_has_milliseconds_and_z() {
        assert_eq!(iso(datetime!(2026-11-26 19:42:01.429 UTC)), "2026-11-26T19:42:01.429Z");
        assert_eq!(iso(datetime!(2026-01-02 03:04:05 UTC)), "2026-01-02T03:04:05.000Z");
    }

    #[test]
    fn fixed_clock_advances() {
        let c = FixedClock::new(datetime!(2026-01-01 0:00 UTC));
        c.advance(time::Duration::hours(1));
        assert_eq!(c.now(), datetime!(2026-01-01 1:00 UTC));
    }
}
