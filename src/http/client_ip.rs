//! The client's address, for rate-limit buckets and `session.ipAddress` (spec §9.4, preface
//! difference 6).
//!
//! Without `SESAME_TRUSTED_PROXIES` the socket peer is the client and `X-Forwarded-For` is
//! ignored: anyone can write that header. With trusted proxies, and only when the peer is one
//! of them, `X-Forwarded-For` is walked from the right, skipping trusted hops; the first
//! untrusted hop is the client. Every hop the walk passes was appended by a proxy we trust, so a
//! client can forge only entries to the left of where the walk stops. A multi-hop header thus
//! never collapses every client into one shared bucket (Better Auth's behaviour).
//!
//! Addresses are normalised as Better Auth does: IPv4-mapped IPv6 becomes IPv4, and other IPv6
//! is masked to its /64 and written out in full, because one host usually owns a whole /64.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{bail, Context};

use super::Request;

/// One trusted network: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Parses `10.0.0.0/8`, `::1`, `fd00::/8` (a bare address is a single host).
    pub fn parse(s: &str) -> anyhow::Result<IpNet> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .with_context(|| format!("{s:?} is not an IP address or CIDR"))?;
        let addr = canonical(addr);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.parse().with_context(|| format!("{s:?} has a bad prefix length"))?,
        };
        if prefix > max {
            bail!("{s:?}: prefix length {prefix} is over {max}");
        }
        Ok(IpNet { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Parses `SESAME_TRUSTED_PROXIES`: addresses or CIDRs, comma separated.
pub fn parse_proxies(s: &str) -> anyhow::Result<Vec<IpNet>> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(IpNet::parse)
        .collect()
}

/// IPv4-mapped IPv6 (`::ffff:1.2.3.4`) as the IPv4 address it is.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// The headers read by default: Better Auth's `ipAddressHeaders` default.
pub const DEFAULT_HEADERS: &[&str] = &["x-forwarded-for"];

/// The client address of a request, or `None` when there is no peer (in-process calls).
pub fn resolve(req: &Request, proxies: &[IpNet]) -> Option<IpAddr> {
    resolve_with(req, proxies, DEFAULT_HEADERS)
}

/// [`resolve`] reading the address headers `headers` (lower-case names; Better Auth's
/// `ipAddressHeaders`, e.g. `x-real-ip` or `cf-connecting-ip`) in order: the first one the
/// request carries decides. They are believed only from a trusted proxy, like
/// `X-Forwarded-For`.
pub fn resolve_with<S: AsRef<str>>(req: &Request, proxies: &[IpNet], headers: &[S]) -> Option<IpAddr> {
    let peer = canonical(req.remote_addr?);
    let trusted = |ip: IpAddr| proxies.iter().any(|n| n.contains(ip));
    if !trusted(peer) {
        return Some(peer);
    }
    // Every line of the first header present, in order, as one list (a proxy may add a line
    // of its own).
    let hops: Vec<&str> = headers
        .iter()
        .map(|name| {
            req.headers
                .iter()
                .filter(|(k, _)| k == name.as_ref())
                .flat_map(|(_, v)| v.split(','))
                .collect::<Vec<&str>>()
        })
        .find(|hops| !hops.is_empty())
        .unwrap_or_default();
    // The nearest hop known to be a trusted proxy; the answer if the walk finds no client.
    let mut nearest = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            // A trusted proxy writes valid addresses, so this entry came from the client side
            // of the nearest trusted proxy: that proxy saw the real client.
            return Some(nearest);
        };
        if !trusted(ip) {
            return Some(ip);
        }
        nearest = ip;
    }
    Some(nearest)
}

/// One `X-Forwarded-For` entry: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = hop.strip_prefix('[') {
        let (inner, _port) = rest.split_once(']')?;
        return inner.parse::<Ipv6Addr>().ok().map(|ip| canonical(IpAddr::V6(ip)));
    }
    let (host, port) = hop.rsplit_once(':')?;
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The address as recorded and bucketed: IPv4 dotted, IPv6 masked to /64 and fully expanded
/// (`2001:0db8:0000:0000:0000:0000:0000:0000`), as Better Auth writes it.
pub fn normalize(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let masked = u128::from(v6) & (u128::MAX << 64);
            Ipv6Addr::from(masked)
                .segments()
                .iter()
                .map(|s| format!("{s:04x}"))
                .collect::<Vec<_>>()
                .join(":")
        }
    }
}

/// [`resolve`] then [`normalize`]; `None` when there is no peer.
pub fn client_key(req: &Request, proxies: &[IpNet]) -> Option<String> {
    resolve(req, proxies).map(normalize)
}

/// [`resolve_with`] then [`normalize`].
pub fn client_key_with<S: AsRef<str>>(req: &Request, proxies: &[IpNet], headers: &[S]) -> Option<String> {
    resolve_with(req, proxies, headers).map(normalize)
}

/// Parses `SESAME_IP_ADDRESS_HEADERS`: header names, comma separated, lower-cased.
pub fn parse_headers(s: &str) -> anyhow::Result<Vec<String>> {
    let names: Vec<String> = s
        .split(',')
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        bail!("names no header");
    }
    for n in &names {
        if !n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            bail!("{n:?} is not a header name");
        }
    }
    Ok(names)
}

/// The one warning for a likely misconfiguration: requests carry `X-Forwarded-For` from a peer
/// that is not a trusted proxy, so the header is ignored and every client behind that proxy is
/// the proxy's address (rate-limit buckets, `session.ipAddress`). Logged once per server: a
/// client forging the header can trigger it, but only once, and the line holds nothing it wrote.
#[derive(Debug, Default)]
pub struct UntrustedForwardedFor {
    warned: AtomicBool,
}

impl UntrustedForwardedFor {
    /// Checks one request, logging the first time the header arrives from an untrusted peer.
    pub fn check(&self, req: &Request, proxies: &[IpNet]) {
        if self.warned.load(Ordering::Relaxed) || !req.headers.iter().any(|(k, _)| k == "x-forwarded-for") {
            return;
        }
        let Some(peer) = req.remote_addr.map(canonical) else {
            return;
        };
        if proxies.iter().any(|n| n.contains(peer)) || self.warned.swap(true, Ordering::Relaxed) {
            return;
        }
        tracing::warn!(
            "requests carry X-Forwarded-For from {peer}, which is not a trusted proxy: the header is \
             ignored and clients are recorded (rate limits, session ipAddress) as {peer}. If {peer} \
             is your reverse proxy, list it in SESAME_TRUSTED_PROXIES (logged once)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_from_an_untrusted_peer_is_reported_once() {
        let tap = crate::log::tap();
        let warned = |lines: &[String]| {
            lines
                .iter()
                .filter(|l| l.contains(" WARN ") && l.contains("SESAME_TRUSTED_PROXIES"))
                .filter(|l| {
                    ["203.0.113.7", "198.51.100.1", "10.0.0.2"]
                        .iter()
                        .any(|ip| l.contains(ip))
                })
                .count()
        };
        let check = UntrustedForwardedFor::default();
        let p = nets("10.0.0.0/8");
        // No header, no peer (in-process), or a trusted peer: nothing to say.
        check.check(&req("203.0.113.7", &[]), &p);
        check.check(&Request::get("/x").with_header("x-forwarded-for", "1.1.1.1"), &p);
        check.check(&req("10.0.0.2", &["1.1.1.1"]), &p);
        assert_eq!(warned(&tap.lines()), 0);
        check.check(&req("::ffff:203.0.113.7", &["1.1.1.1"]), &p);
        check.check(&req("198.51.100.1", &["1.1.1.1"]), &[]);
        let lines = tap.lines();
        assert_eq!(warned(&lines), 1, "{lines:?}");
        let line = lines.iter().find(|l| l.contains("SESAME_TRUSTED_PROXIES")).unwrap();
        assert!(line.contains("from 203.0.113.7,"), "{line}");
        assert!(!line.contains("1.1.1.1"), "the header's value is not logged: {line}");
    }

    fn req(peer: &str, xff: &[&str]) -> Request {
        let mut r = Request::get("/x").with_remote_addr(peer.parse().unwrap());
        for v in xff {
            r = r.with_header("x-forwarded-for", v);
        }
        r
    }

    fn nets(s: &str) -> Vec<IpNet> {
        parse_proxies(s).unwrap()
    }

    #[test]
    fn without_proxies_the_peer_wins_and_the_header_is_ignored() {
        let r = req("203.0.113.7", &["1.1.1.1"]);
        assert_eq!(client_key(&r, &[]).as_deref(), Some("203.0.113.7"));
        let r = req("::ffff:198.51.100.2", &["1.1.1.1, 2.2.2.2"]);
        assert_eq!(client_key(&r, &[]).as_deref(), Some("198.51.100.2"));
        assert_eq!(client_key(&Request::get("/x"), &[]), None);
    }

    #[test]
    fn untrusted_peer_cannot_forge() {
        let r = req("203.0.113.7", &["1.1.1.1"]);
        assert_eq!(client_key(&r, &nets("10.0.0.0/8")).as_deref(), Some("203.0.113.7"));
    }

    #[test]
    fn walks_from_the_right_skipping_trusted_hops() {
        let p = nets("10.0.0.0/8, 192.168.1.1");
        // client-forged entries on the left are never reached
        let r = req("10.0.0.2", &["6.6.6.6, 198.51.100.9, 192.168.1.1"]);
        assert_eq!(client_key(&r, &p).as_deref(), Some("198.51.100.9"));
        // several header lines are one list
        let r = req("10.0.0.2", &["6.6.6.6", "198.51.100.10", "10.1.1.1"]);
        assert_eq!(client_key(&r, &p).as_deref(), Some("198.51.100.10"));
        // two clients behind the same multi-hop chain get different buckets
        let a = req("10.0.0.2", &["203.0.113.1, 10.0.0.9"]);
        let b = req("10.0.0.2", &["203.0.113.2, 10.0.0.9"]);
        assert_ne!(client_key(&a, &p), client_key(&b, &p));
    }

    #[test]
    fn configured_headers_are_read_in_order_and_only_from_trusted_proxies() {
        let p = nets("10.0.0.0/8");
        let headers = parse_headers("X-Real-IP, cf-connecting-ip").unwrap();
        assert_eq!(headers, ["x-real-ip", "cf-connecting-ip"]);
        let r = req("10.0.0.2", &["6.6.6.6"])
            .with_header("cf-connecting-ip", "198.51.100.7")
            .with_header("x-real-ip", "203.0.113.9");
        // The first configured header present wins; X-Forwarded-For is no longer read.
        assert_eq!(client_key_with(&r, &p, &headers).as_deref(), Some("203.0.113.9"));
        let r = req("10.0.0.2", &["6.6.6.6"]).with_header("cf-connecting-ip", "198.51.100.7");
        assert_eq!(client_key_with(&r, &p, &headers).as_deref(), Some("198.51.100.7"));
        let r = req("10.0.0.2", &["6.6.6.6"]);
        assert_eq!(client_key_with(&r, &p, &headers).as_deref(), Some("10.0.0.2"));
        // From an untrusted peer the header is ignored, as X-Forwarded-For is.
        let r = req("203.0.113.50", &[]).with_header("x-real-ip", "1.1.1.1");
        assert_eq!(client_key_with(&r, &p, &headers).as_deref(), Some("203.0.113.50"));
        assert!(parse_headers("x-real-ip, bad header").is_err());
        assert!(parse_headers(" , ").is_err());
    }

    #[test]
    fn odd_hops() {
        let p = nets("10.0.0.0/8");
        assert_eq!(client_key(&req("10.0.0.2", &[]), &p).as_deref(), Some("10.0.0.2"));
        assert_eq!(
            client_key(&req("10.0.0.2", &["10.0.0.3, 10.0.0.4"]), &p).as_deref(),
            Some("10.0.0.3")
        );
        // malformed hop: stop at the nearest trusted proxy, never a shared bucket
        assert_eq!(
            client_key(&req("10.0.0.2", &["1.2.3.4, garbage, 10.0.0.5"]), &p).as_deref(),
            Some("10.0.0.5")
        );
        assert_eq!(client_key(&req("10.0.0.2", &[""]), &p).as_deref(), Some("10.0.0.2"));
        assert_eq!(
            client_key(&req("10.0.0.2", &["198.51.100.1:4711"]), &p).as_deref(),
            Some("198.51.100.1")
        );
        assert_eq!(
            client_key(&req("10.0.0.2", &["[2001:db8:1:2:3::9]:443"]), &p).as_deref(),
            Some("2001:0db8:0001:0002:0000:0000:0000:0000")
        );
        assert_eq!(
            client_key(&req("10.0.0.2", &["::ffff:203.0.113.5"]), &p).as_deref(),
            Some("203.0.113.5")
        );
    }

    #[test]
    fn ipv6_is_grouped_by_64() {
        assert_eq!(
            normalize("2001:db8::1".parse().unwrap()),
            "2001:0db8:0000:0000:0000:0000:0000:0000"
        );
        assert_eq!(
            normalize("2001:db8::1".parse().unwrap()),
            normalize("2001:db8::ffff:1234".parse().unwrap())
        );
        assert_ne!(
            normalize("2001:db8:0:1::1".parse().unwrap()),
            normalize("2001:db8:0:2::1".parse().unwrap())
        );
    }

    #[test]
    fn cidr_parsing() {
        assert!(IpNet::parse("10.0.0.0/33").is_err());
        assert!(IpNet::parse("nope").is_err());
        assert!(IpNet::parse("10.0.0.0/x").is_err());
        let n = IpNet::parse("0.0.0.0/0").unwrap();
        assert!(n.contains("8.8.8.8".parse().unwrap()));
        assert!(!n.contains("::1".parse().unwrap()));
        let n = IpNet::parse("::1").unwrap();
        assert!(n.contains("::1".parse().unwrap()));
        assert!(IpNet::parse("::ffff:10.0.0.1")
            .unwrap()
            .contains("10.0.0.1".parse().unwrap()));
    }
}
