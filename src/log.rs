//! Logging: Sesame emits `tracing` events; [`init`] installs the subscriber that writes them
//! to stderr, one line each, with an RFC 3339 UTC timestamp, filtered by `SESAME_LOG`
//! (`info`, `sesame::oauth=debug`, …) and shaped by `SESAME_LOG_FORMAT` (`text`, or `json`:
//! one JSON object per line). Every request runs inside a `request` span carrying its
//! `request_id`, so each line logged while answering it names the request.
//!
//! What is never written: a password, token, cookie or query string. Callers log only what is
//! safe (route patterns, statuses, error chains from storage) and pass client-supplied text
//! through [`sanitize`]. Whatever a caller does, the writer escapes control characters
//! ([`Escaping`]), so one event is always one line and no terminal escape reaches the log.
//! Tests read the log through [`tap`], a second formatting layer with the same format whose
//! lines go to the taps alive at the time.
//!
//! A program that embeds Sesame as a library installs its own subscriber, or calls [`init`].

use std::io::Write;
use std::sync::{Arc, Mutex, RwLock};

use anyhow::Context;
use tracing_subscriber::filter::{filter_fn, EnvFilter};
use tracing_subscriber::fmt::time::UtcTime;
use tracing_subscriber::layer::{Layer, Layered, SubscriberExt};
use tracing_subscriber::Registry;

/// How lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `2026-01-02T03:04:05.678Z  INFO request{request_id=…}: sesame::access: answered …`
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `message` and the event's
    /// fields at the top level, and the request span under `span`.
    Json,
}

/// Checks a `SESAME_LOG` filter (`EnvFilter` directives).
pub fn check_filter(filter: &str) -> Result<(), String> {
    EnvFilter::builder()
        .parse(filter)
        .map(|_| ())
        .map_err(|e| format!("not a log filter ({e}); e.g. `info` or `info,sesame::oauth=debug`"))
}

type Base = Layered<EnvFilter, Registry>;
type BoxedLayer = Box<dyn Layer<Base> + Send + Sync>;

fn layer<W>(format: LogFormat, writer: W) -> BoxedLayer
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let timer = UtcTime::rfc_3339();
    match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_timer(timer)
            .with_writer(writer)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_timer(timer)
            .with_writer(writer)
            .boxed(),
    }
}

/// The subscriber: the filter, then the stderr layer and the tap layer (which formats only
/// while a tap is alive).
fn subscriber(filter: &str, format: LogFormat) -> anyhow::Result<impl tracing::Subscriber + Send + Sync> {
    let filter = EnvFilter::builder()
        .parse(filter)
        .with_context(|| format!("SESAME_LOG={filter:?} is not a log filter"))?;
    let stderr = layer(format, || Escaping(std::io::stderr()));
    let taps = layer(format, || Escaping(TapSink))
        .with_filter(filter_fn(|_| taps_alive()))
        .boxed();
    Ok(tracing_subscriber::registry().with(filter).with(vec![stderr, taps]))
}

/// Installs the process-wide subscriber. Fails if one is installed already.
pub fn init(filter: &str, format: LogFormat) -> anyhow::Result<()> {
    tracing::subscriber::set_global_default(subscriber(filter, format)?)
        .context("a log subscriber is installed already")
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

/// A writer that escapes every control character (`\n`, `\u{1b}`, …) and Unicode line
/// separator except the newline that ends a formatted event, so text that came from a client
/// or a provider can never start a forged line or drive a terminal, whatever the caller forgot
/// to sanitise.
pub struct Escaping<W>(pub W);

impl<W: Write> Write for Escaping<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let (body, newline) = match text.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (text.as_ref(), ""),
        };
        let mut out = String::with_capacity(text.len());
        for c in body.chars() {
            if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
                out.extend(c.escape_default());
            } else {
                out.push(c);
            }
        }
        out.push_str(newline);
        self.0.write_all(out.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

type Lines = Arc<Mutex<Vec<String>>>;

/// Active taps; each receives a copy of every line while it lives.
static TAPS: RwLock<Vec<(u64, Lines)>> = RwLock::new(Vec::new());
static NEXT_TAP: Mutex<u64> = Mutex::new(0);

fn taps_alive() -> bool {
    TAPS.read().map(|t| !t.is_empty()).unwrap_or(false)
}

/// Where the tap layer writes: every live tap gets the line.
struct TapSink;

impl Write for TapSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let line = String::from_utf8_lossy(buf).trim_end_matches('\n').to_string();
        if let Ok(taps) = TAPS.read() {
            for (_, lines) in taps.iter() {
                if let Ok(mut l) = lines.lock() {
                    l.push(line.clone());
                }
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Collects every line logged (by any thread) while it is alive; for tests.
pub struct Tap {
    id: u64,
    lines: Lines,
}

/// Starts collecting log lines. Installs the default subscriber (`info`, text) when none is.
pub fn tap() -> Tap {
    static DEFAULT: std::sync::Once = std::sync::Once::new();
    DEFAULT.call_once(|| {
        let _ = init("info", LogFormat::Text);
    });
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
        tracing::info!("hello from the log test");
        let lines = t.lines();
        let line = lines.iter().find(|l| l.contains("hello from the log test")).unwrap();
        assert!(line.contains(" INFO "), "{line}");
        assert!(line.contains("sesame::log::tests"), "the target is the module: {line}");
        drop(t);
        let t2 = tap();
        assert!(!t2.lines().iter().any(|l| l.contains("hello from the log test")));
    }

    #[test]
    fn sanitize_bounds_and_escapes() {
        assert_eq!(sanitize("/a\x1b[31mb\nc", 100), "/a?[31mb?c");
        assert_eq!(sanitize("abcdef", 3), "abc…");
    }

    #[test]
    fn control_characters_are_escaped_and_an_event_stays_one_line() {
        let mut out = Vec::new();
        Escaping(&mut out).write_all(b"a\nb\x1b[31m\rc\t\x7f\n").unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "a\\nb\\u{1b}[31m\\rc\\t\\u{7f}\n");
        let mut out = Vec::new();
        Escaping(&mut out)
            .write_all("plain é text\u{2028}x\n".as_bytes())
            .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "plain é text\\u{2028}x\n");
    }

    #[test]
    fn every_line_is_one_line() {
        let t = tap();
        tracing::warn!("provider said bad\r\nERROR forged\u{1b}[2J\u{2028}x");
        let lines = t.lines();
        let line = lines.iter().find(|l| l.contains("provider said")).unwrap();
        // tracing-subscriber escapes ESC itself (as `\x1b`); the writer escapes the rest.
        assert!(line.contains("provider said bad\\r\\nERROR forged\\"), "{line}");
        assert!(line.ends_with("[2J\\u{2028}x"), "{line}");
        assert!(!line.chars().any(|c| c.is_control()), "{line:?}");
    }

    #[test]
    fn filters_are_checked() {
        assert!(check_filter("info").is_ok());
        assert!(check_filter("warn,sesame::oauth=debug").is_ok());
        assert!(check_filter("sesame::oauth=loud").is_err());
    }
}
