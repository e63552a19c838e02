//! Sesame patch: per-connection limits (see SESAME_PATCHES.md at the crate root).
//!
//! Upstream tiny_http spawns a thread per connection, sets no socket timeouts, reads header
//! lines of any length, lets worker threads read request bodies at the client's pace, and stops
//! accepting for good after one failed `accept()`. [`ConnectionLimits`] bounds each of these.
//! `Server::from_listener` keeps upstream behaviour (`ConnectionLimits::default()`);
//! `Server::from_listener_with_limits` applies the limits.

use std::collections::HashMap;
use std::io::{self, Read};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Renders a response tiny_http writes by itself (400, 408, 417, 431): `(headers, body)`.
pub type ErrorBody = fn(u16) -> (Vec<(&'static str, &'static str)>, Vec<u8>);

/// Says whether a peer address is exempt from `max_connections_per_ip`.
pub type PeerFilter = Arc<dyn Fn(IpAddr) -> bool + Send + Sync>;

/// Limits applied to every connection of a server.
#[derive(Clone)]
pub struct ConnectionLimits {
    /// Connections served at once; a connection accepted beyond it gets `busy_response` and is
    /// closed at once. `0`: no cap.
    pub max_connections: usize,
    /// Connections one client address holds at once (IPv6 addresses counted per /64, since one
    /// host usually owns a whole /64); beyond it, `busy_response` and an immediate close, so one
    /// client cannot hold every one of `max_connections`. `0`: no cap.
    pub max_connections_per_ip: usize,
    /// Peers `max_connections_per_ip` does not apply to (a trusted reverse proxy carries many
    /// clients on its connections). `None`: none.
    pub per_ip_exempt: Option<PeerFilter>,
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
            max_connections_per_ip: 0,
            per_ip_exempt: None,
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

/// The address a per-IP count is kept under: IPv4 as is (an IPv4-mapped IPv6 address too),
/// IPv6 masked to its /64.
fn peer_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
        v4 => v4,
    }
}

/// Live connections per client address; entries go when their count reaches zero, so the map
/// never holds more than the live connections.
#[derive(Default)]
pub(crate) struct PerIp {
    counts: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection counted against its address; dropped with the connection (a drop guard, so
/// also on panic).
pub(crate) struct PerIpConnection {
    table: Arc<PerIp>,
    key: IpAddr,
}

impl PerIp {
    /// Registers a connection from `ip` unless `max` are already live (`max == 0`: no cap).
    pub(crate) fn try_new(table: &Arc<PerIp>, ip: IpAddr, max: usize) -> Option<PerIpConnection> {
        let key = peer_key(ip);
        // A poisoned lock only means another connection thread panicked mid-update of a plain
        // counter: the counts are still meaningful.
        let mut counts = table.counts.lock().unwrap_or_else(|p| p.into_inner());
        let n = counts.entry(key).or_insert(0);
        if max != 0 && *n >= max {
            if *n == 0 {
                counts.remove(&key);
            }
            return None;
        }
        *n += 1;
        Some(PerIpConnection {
            table: table.clone(),
            key,
        })
    }
}

impl Drop for PerIpConnection {
    fn drop(&mut self) {
        let mut counts = self.table.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = counts.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.key);
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_ip_counts_by_address_and_ipv6_prefix() {
        let table = Arc::new(PerIp::default());
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let a1 = PerIp::try_new(&table, ip("10.0.0.1"), 2).unwrap();
        let a2 = PerIp::try_new(&table, ip("::ffff:10.0.0.1"), 2).unwrap();
        assert!(PerIp::try_new(&table, ip("10.0.0.1"), 2).is_none());
        let _b = PerIp::try_new(&table, ip("10.0.0.2"), 2).unwrap();
        let _v6 = PerIp::try_new(&table, ip("2001:db8::1"), 1).unwrap();
        assert!(
            PerIp::try_new(&table, ip("2001:db8::ffff:1"), 1).is_none(),
            "same /64"
        );
        assert!(
            PerIp::try_new(&table, ip("2001:db8:0:1::1"), 1).is_some(),
            "another /64"
        );
        drop(a1);
        let _a3 = PerIp::try_new(&table, ip("10.0.0.1"), 2).unwrap();
        drop(a2);
        assert!(
            PerIp::try_new(&table, ip("10.0.0.1"), 0).is_some(),
            "0: no cap"
        );
        assert_eq!(
            table.counts.lock().unwrap().len(),
            3,
            "freed addresses leave the map"
        );
    }
}
