//! Server area: where Sesame listens, how many threads answer, and the per-connection limits
//! (enforced by the patched tiny_http, see `server/mod.rs`).

use std::net::IpAddr;

use super::var::{number, positive, Default, Reader, Spec, Var};
use crate::http::client_ip::{self, IpNet};

pub const TITLE: &str = "Server";

pub const HOST: Var<IpAddr> = Var::new("HOST", Default::Value("127.0.0.1"), "Address to listen on", number);
pub const PORT: Var<u16> = Var::new("PORT", Default::Value("3000"), "Port to listen on", number);
pub const WORKERS: Var<usize> = Var::new(
    "SESAME_WORKERS",
    Default::Computed("cores (at least 2)"),
    "Worker threads answering requests",
    positive,
);
pub const HASH_THREADS: Var<usize> = Var::new(
    "SESAME_HASH_THREADS",
    Default::Computed("cores"),
    "Threads that hash and verify passwords (sign-in, sign-up, …); the rest of those requests runs on the workers",
    positive,
);
pub const HASH_SHARE: Var<f64> = Var::new(
    "SESAME_HASH_SHARE",
    Default::Value("0.27"),
    "Share of the CPU (0 to 1) password hashing gets, and may not exceed, while the workers are busy; idle CPU goes to hashing beyond it. 1: no cap",
    share,
);
pub const HASH_QUEUE: Var<usize> = Var::new(
    "SESAME_HASH_QUEUE",
    Default::Value("32"),
    "Password hashes that may wait for those threads; beyond it: 503 SERVER_BUSY",
    positive,
);
pub const HASH_START_TIMEOUT_MS: Var<u64> = Var::new(
    "SESAME_HASH_START_TIMEOUT_MS",
    Default::Value("2000"),
    "Milliseconds a password hash may wait for a hashing thread; then: 503 SERVER_BUSY",
    positive,
);
pub const MAX_BODY_BYTES: Var<usize> = Var::new(
    "SESAME_MAX_BODY_BYTES",
    Default::Value("1048576"),
    "Largest accepted request body; larger gets 413",
    number,
);
pub const TRUSTED_PROXIES: Var<Vec<IpNet>> = Var::new(
    "SESAME_TRUSTED_PROXIES",
    Default::None,
    "Proxy IPs/CIDRs whose X-Forwarded-For is believed, comma separated. Unset: the socket peer is the client",
    proxies,
);
pub const IP_ADDRESS_HEADERS: Var<Vec<String>> = Var::new(
    "SESAME_IP_ADDRESS_HEADERS",
    Default::Value("x-forwarded-for"),
    "Headers holding the client address, read in order, believed only from SESAME_TRUSTED_PROXIES (Better Auth's ipAddressHeaders; e.g. x-real-ip, cf-connecting-ip)",
    ip_headers,
);
pub const READ_TIMEOUT_SECS: Var<u64> = Var::new(
    "SESAME_READ_TIMEOUT_SECS",
    Default::Value("10"),
    "Seconds a client has to send a request's headers, and again its body; also the keep-alive idle time",
    positive,
);
pub const MAX_CONNECTIONS: Var<usize> = Var::new(
    "SESAME_MAX_CONNECTIONS",
    Default::Value("512"),
    "Open connections served at once; more are answered 503 and closed",
    positive,
);
pub const MAX_CONNECTIONS_PER_IP: Var<usize> = Var::new(
    "SESAME_MAX_CONNECTIONS_PER_IP",
    Default::Value("64"),
    "Open connections one client address may hold (IPv6: per /64; SESAME_TRUSTED_PROXIES exempt); more are answered 503 and closed",
    positive,
);
pub const MAX_HEADER_BYTES: Var<usize> = Var::new(
    "SESAME_MAX_HEADER_BYTES",
    Default::Value("16384"),
    "Largest request line plus headers; larger gets 431",
    header_bytes,
);

pub const VARIABLES: &[&Spec] = &[
    &HOST.spec,
    &PORT.spec,
    &WORKERS.spec,
    &HASH_THREADS.spec,
    &HASH_SHARE.spec,
    &HASH_QUEUE.spec,
    &HASH_START_TIMEOUT_MS.spec,
    &MAX_BODY_BYTES.spec,
    &TRUSTED_PROXIES.spec,
    &IP_ADDRESS_HEADERS.spec,
    &READ_TIMEOUT_SECS.spec,
    &MAX_CONNECTIONS.spec,
    &MAX_CONNECTIONS_PER_IP.spec,
    &MAX_HEADER_BYTES.spec,
];

fn proxies(s: &str) -> Result<Vec<IpNet>, String> {
    client_ip::parse_proxies(s).map_err(|e| format!("{e:#}"))
}

fn ip_headers(s: &str) -> Result<Vec<String>, String> {
    client_ip::parse_headers(s).map_err(|e| format!("{e:#}"))
}

fn header_bytes(s: &str) -> Result<usize, String> {
    let n: usize = number(s)?;
    if n < 1024 {
        return Err("must be at least 1024".to_string());
    }
    Ok(n)
}

pub struct Server {
    pub host: IpAddr,
    pub port: u16,
    pub workers: usize,
    pub hash_threads: usize,
    pub hash_queue: usize,
    pub hash_start_timeout_ms: u64,
    pub hash_cpu_rate: Option<f64>,
    pub max_body_bytes: usize,
    pub trusted_proxies: Vec<IpNet>,
    pub ip_address_headers: Vec<String>,
    pub read_timeout_secs: u64,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub max_header_bytes: usize,
}

pub fn read(r: &Reader) -> Server {
    r.area(TITLE);
    let (host, port) = (r.get(&HOST), r.get(&PORT));
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    // One per core: measured against 2 and 4 per core, on memory and on PostgreSQL with the
    // session cache, for get-session and /ok, it answers the most (BENCHMARKS.md, Workers);
    // hashing has its own threads and a worker waiting for a hash gives up its seat. At
    // least 2, so one slow database round trip does not stop every other request.
    let workers = r.get_or(&WORKERS, || cores.max(2));
    r.note_default(&WORKERS, workers);
    // One per core, held to SESAME_HASH_SHARE while the workers are busy: a single thread
    // got a fifth of a core under a flood of session checks (the kernel favours the many
    // short request threads), all of them uncapped took the session checks' CPU, and a storm
    // of sign-ins alone needs them all (BENCHMARKS.md, Overload).
    let hash_threads = r.get_or(&HASH_THREADS, || cores.max(1));
    r.note_default(&HASH_THREADS, hash_threads);
    Server {
        host,
        port,
        workers,
        hash_threads,
        hash_queue: r.get(&HASH_QUEUE),
        hash_cpu_rate: contended_cpu_rate(r.get(&HASH_SHARE), cores),
        hash_start_timeout_ms: r.get(&HASH_START_TIMEOUT_MS),
        max_body_bytes: r.get(&MAX_BODY_BYTES),
        trusted_proxies: r.opt(&TRUSTED_PROXIES).unwrap_or_default(),
        ip_address_headers: r.get(&IP_ADDRESS_HEADERS),
        read_timeout_secs: r.get(&READ_TIMEOUT_SECS),
        max_connections: r.get(&MAX_CONNECTIONS),
        max_connections_per_ip: r.get(&MAX_CONNECTIONS_PER_IP),
        max_header_bytes: r.get(&MAX_HEADER_BYTES),
    }
}

/// CPU-seconds per second hashing may use while the workers are busy; a share of 1 is no cap.
fn contended_cpu_rate(share: f64, cores: usize) -> Option<f64> {
    (share < 1.0).then_some(share * cores as f64)
}

/// A share of the CPU: a number above 0 and at most 1.
fn share(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x > 0.0 && x <= 1.0 => Ok(x),
        _ => Err("expected a number above 0 and at most 1 (e.g. 0.3)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_share_is_a_fraction_of_the_cores_and_one_means_no_cap() {
        assert_eq!(share("0.3"), Ok(0.3));
        assert_eq!(share(" 1 "), Ok(1.0));
        for bad in ["0", "-0.2", "1.5", "30%", "NaN", "inf", ""] {
            assert!(share(bad).is_err(), "{bad}");
        }
        assert_eq!(contended_cpu_rate(0.3, 2), Some(0.6));
        assert_eq!(contended_cpu_rate(1.0, 8), None);
    }
}
