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
/// Written digit by digit: a session answer formats five dates, and `format!`'s padded
/// integers cost about a fifteenth of a get-session (BENCHMARKS.md, Profile notes).
pub fn iso(t: OffsetDateTime) -> String {
    match iso_digits(t) {
        Some(out) => out.iter().map(|&b| char::from(b)).collect(),
        None => iso_padded(t),
    }
}

/// [`iso`] for a year outside 0–9999 (a sign or a fifth digit), which the fixed-width form
/// cannot hold.
fn iso_padded(t: OffsetDateTime) -> String {
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

/// [`iso`]'s 24 ASCII bytes on the stack; `None` for a year outside 0–9999.
fn iso_digits(t: OffsetDateTime) -> Option<[u8; 24]> {
    let t = t.to_offset(time::UtcOffset::UTC);
    let year = t.year();
    if !(0..=9999).contains(&year) {
        return None;
    }
    let mut out = [0u8; 24];
    let mut put = |at: usize, width: usize, mut n: u32| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, year.unsigned_abs());
    put(5, 2, u32::from(u8::from(t.month())));
    put(8, 2, u32::from(t.day()));
    put(11, 2, u32::from(t.hour()));
    put(14, 2, u32::from(t.minute()));
    put(17, 2, u32::from(t.second()));
    put(20, 3, u32::from(t.millisecond()));
    for (at, c) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (23, b'Z'),
    ] {
        out[at] = c;
    }
    Some(out)
}

/// A date serialised as [`iso`] writes it, without building a `String` (answers written
/// straight to JSON bytes, such as get-session's).
#[derive(Debug, Clone, Copy)]
pub struct IsoDate(pub OffsetDateTime);

impl serde::Serialize for IsoDate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match iso_digits(self.0) {
            Some(digits) => match std::str::from_utf8(&digits) {
                Ok(text) => s.serialize_str(text),
                Err(_) => s.serialize_str(&iso(self.0)),
            },
            None => s.serialize_str(&iso_padded(self.0)),
        }
    }
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
    fn iso_writes_what_the_padded_format_wrote() {
        // The general format, which `iso` writes itself for the years 0–9999.
        let padded = iso_padded;
        let mut t = datetime!(0000-01-01 0:00 UTC);
        let end = datetime!(9999-12-31 23:59:59.999 UTC);
        while t < end {
            assert_eq!(iso(t), padded(t));
            let step = time::Duration::seconds(86_400 * 97 + 3_601) + time::Duration::milliseconds(7);
            let Some(next) = t.checked_add(step) else { break };
            t = next;
        }
        for t in [end, datetime!(2026-06-01 1:30 +02:00), datetime!(-0001-01-01 0:00 UTC)] {
            assert_eq!(iso(t), padded(t));
        }
    }

    #[test]
    fn iso_date_serialises_as_the_iso_string() {
        for t in [
            datetime!(2026-11-26 19:42:01.429 UTC),
            datetime!(2026-06-01 1:30 +02:00),
            datetime!(0000-01-01 0:00 UTC),
            datetime!(-0001-01-01 0:00 UTC),
        ] {
            let written = serde_json::to_string(&IsoDate(t)).unwrap();
            assert_eq!(written, serde_json::Value::String(iso(t)).to_string());
        }
    }

    #[test]
    fn fixed_clock_advances() {
        let c = FixedClock::new(datetime!(2026-01-01 0:00 UTC));
        c.advance(time::Duration::hours(1));
        assert_eq!(c.now(), datetime!(2026-01-01 1:00 UTC));
    }
}
