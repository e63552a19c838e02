//! Sesame patch: per-connection limits (see SESAME_PATCHES.md at the crate root).
//!
//! Upstream tiny_http spawns a thread per connection, sets no socket timeouts, reads header
//! lines of any length, lets worker threads read request bodies at the client's pace, and stops
//! accepting for good after one failed `accept()`. [`ConnectionLimits`] bounds each of these.
//! `Server::from_listener` keeps upstream behaviour (`ConnectionLimits::default()`);
//! `Server::from_listener_with_limits` applies the limits.

use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Renders a response tiny_http writes by itself (400, 408, 417, 431): `(headers, body)`.
pub type ErrorBody = fn(u16) -> (Vec<(&'static str, &'static str)>, Vec<u8>);

/// Limits applied to every connection of a server.
#[derive(Clone)]
pub struct ConnectionLimits {
    /// Connections served at once; a connection accepted beyond it gets `busy_response` and is
    /// closed at once. `0`: no cap.
    pub max_connections: usize,
    /// Socket read timeout: the longest wait for any one read, so also the keep-alive idle time.
    pub read_timeout: Option<Duration>,
    /// Socket write timeout: a client that does not read its responses is dropped.
    pub write_timeout: Option<Duration>,
    /// Total time a client has to send a request line and headers, counted from its first byte
    /// (and again for its body, when bodies are buffered).
    pub request_timeout: Option<Duration>,
    /// Largest request line plus headers, in bytes: more gets 431 and the connection closes.
    pub max_header_bytes: usize,
    /// `Some(n)`: bodies up to `n` bytes are read completely on the connection's own thread,
    /// before the request is handed to `recv()`, so a slow client never holds a worker. A
    /// larger body is not read: the request arrives with an empty body and
    /// `Request::body_too_large()`, and the connection closes after its response.
    pub max_body_bytes: Option<usize>,
    /// After a refused body, at most this many bytes are read and dropped (on the connection's
    /// thread, within `request_timeout`) so the client can see the response before the close.
    pub max_drain_bytes: usize,
    /// Raw bytes written to a connection refused by `max_connections`.
    pub busy_response: Vec<u8>,
    /// Bodies for the responses tiny_http writes by itself; `None`: empty bodies (upstream).
    pub error_body: Option<ErrorBody>,
}

impl Default for ConnectionLimits {
    /// Upstream tiny_http's behaviour: no limits.
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 0,
            read_timeout: None,
            write_timeout: None,
            request_timeout: None,
            max_header_bytes: usize::MAX,
            max_body_bytes: None,
            max_drain_bytes: 0,
            busy_response: Vec::new(),
            error_body: None,
        }
    }
}

/// Counts live connections; dropped when the connection's thread is done with it (also on
/// panic, since it is a drop guard).
pub(crate) struct LiveConnection {
    live: Arc<AtomicUsize>,
}

impl LiveConnection {
    /// Registers a connection unless `max` are already live.
    pub(crate) fn try_new(live: &Arc<AtomicUsize>, max: usize) -> Option<LiveConnection> {
        let mut current = live.load(Ordering::Acquire);
        loop {
            if max != 0 && current >= max {
                return None;
            }
            match live.compare_exchange(current, current + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Some(LiveConnection { live: live.clone() }),
                Err(now) => current = now,
            }
        }
    }
}

impl Drop for LiveConnection {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A deadline that starts with the first byte of a request (not while the connection idles).
pub(crate) struct Deadline {
    limit: Option<Duration>,
    at: Option<Instant>,
}

impl Deadline {
    pub(crate) fn new(limit: Option<Duration>) -> Deadline {
        Deadline { limit, at: None }
    }

    /// Records progress; `Err(TimedOut)` once the deadline has passed.
    pub(crate) fn tick(&mut self) -> io::Result<()> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        let now = Instant::now();
        match self.at {
            None => {
                self.at = Some(now + limit);
                Ok(())
            }
            Some(at) if now > at => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "request not received in time",
            )),
            Some(_) => Ok(()),
        }
    }
}

/// The outcome of reading a body with a cap.
pub(crate) enum Body {
    Complete(Vec<u8>),
    TooLarge,
}

/// Reads `reader` to its end, refusing more than `max` bytes and stopping at the deadline.
/// The deadline starts now (the headers have arrived).
pub(crate) fn read_capped<R: Read>(
    mut reader: R,
    max: usize,
    timeout: Option<Duration>,
) -> io::Result<Body> {
    let mut deadline = Deadline::new(timeout);
    deadline.tick()?;
    let mut body = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = reader.read(&mut chunk)?;
        deadline.tick()?;
        if n == 0 {
            return Ok(Body::Complete(body));
        }
        if body.len() + n > max {
            return Ok(Body::TooLarge);
        }
        body.extend_from_slice(&chunk[..n]);
    }
}

/// Reads and drops up to `max` bytes, for at most `timeout`; errors end it quietly.
pub(crate) fn drain<R: Read>(mut reader: R, max: usize, timeout: Option<Duration>) {
    let mut deadline = Deadline::new(timeout);
    let mut left = max;
    let mut chunk = [0u8; 8192];
    while left > 0 && deadline.tick().is_ok() {
        let want = left.min(chunk.len());
        match reader.read(&mut chunk[..want]) {
            Ok(0) | Err(_) => return,
            Ok(n) => left -= n,
        }
    }
}
