//! The server's log lines: `LEVEL message` on stderr, one line each. Everything Sesame logs goes
//! through here so that tests can read it ([`tap`]) and check that no password, token, cookie
//! or query string is ever written. Callers pass only what is safe to print: request ids, route
//! patterns, statuses, error chains from storage. [`sanitize`] makes client-supplied text
//! printable and bounded; and whatever a caller passes, every line is written as one line
//! (control characters escaped), so no value can forge another line.

use std::sync::{Arc, Mutex, RwLock};

type Lines = Arc<Mutex<Vec<String>>>;

/// Active taps; each receives a copy of every line while it lives.
static TAPS: RwLock<Vec<(u64, Lines)>> = RwLock::new(Vec::new());
static NEXT_TAP: Mutex<u64> = Mutex::new(0);

/// The message as one line: control characters (CR, LF, ESC, …) and Unicode line separators
/// are written escaped (`\r`, `\n`, `\u{1b}`), so text that came from a client or a provider
/// can never start a forged line or drive a terminal, whatever the caller forgot to sanitise.
fn escape(message: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() || c == '\u{2028}' || c == '\u{2029}';
    if !message.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(message);
    }
    let mut out = String::with_capacity(message.len() + 8);
    for c in message.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

fn write(level: &str, message: &str) {
    let line = format!("{level} {}", escape(message));
    eprintln!("{line}");
    if let Ok(taps) = TAPS.read() {
        for (_, lines) in taps.iter() {
            if let Ok(mut l) = lines.lock() {
                l.push(line.clone());
            }
        }
    }
}

pub fn debug(message: &str) {
    write("DEBUG", message);
}

pub fn info(message: &str) {
    write("INFO", message);
}

pub fn warn(message: &str) {
    write("WARN", message);
}

pub fn error(message: &str) {
    write("ERROR", message);
}

/// Client-supplied text made safe for a log line: control and non-ASCII characters become `?`,
/// and at most `max` characters are kept.
pub fn sanitize(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .take(max)
        .map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' })
        .collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}

/// Collects every line logged (by any thread) while it is alive; for tests.
pub struct Tap {
    id: u64,
    lines: Lines,
}

/// Starts collecting log lines.
pub fn tap() -> Tap {
    let id = match NEXT_TAP.lock() {
        Ok(mut n) => {
            *n += 1;
            *n
        }
        Err(_) => 0,
    };
    let lines = Lines::default();
    if let Ok(mut taps) = TAPS.write() {
        taps.push((id, lines.clone()));
    }
    Tap { id, lines }
}

impl Tap {
    /// The lines collected so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        if let Ok(mut taps) = TAPS.write() {
            taps.retain(|(id, _)| *id != self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taps_see_lines_while_alive() {
        let t = tap();
        info("hello from the log test");
        assert!(t.lines().iter().any(|l| l == "INFO hello from the log test"));
        drop(t);
        let t2 = tap();
        assert!(!t2.lines().iter().any(|l| l.contains("hello from the log test")));
    }

    #[test]
    fn every_line_is_one_line() {
        let t = tap();
        warn("provider said bad\r\nERROR forged\u{1b}[2J\u{2028}x");
        let lines = t.lines();
        let line = lines.iter().find(|l| l.contains("provider said")).unwrap();
        assert_eq!(line, "WARN provider said bad\\r\\nERROR forged\\u{1b}[2J\\u{2028}x");
        assert_eq!(escape("plain é text"), "plain é text");
    }

    #[test]
    fn sanitize_bounds_and_escapes() {
        assert_eq!(sanitize("/a\x1b[31mb\nc", 100), "/a?[31mb?c");
        assert_eq!(sanitize("abcdef", 3), "abc…");
    }
}
