//! Reading a running binary's metrics: its announced metrics address, a scrape parsed by the
//! official Prometheus client (`tests/metrics_scrape.py`), the raw text, and polling until a
//! sample reaches a value.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::binary::Served;
use super::http_client;

/// `name{label=value,…}` (labels sorted) → value.
pub type Samples = BTreeMap<String, f64>;

/// The address the binary announced for `/metrics` (before its listening line).
pub fn metrics_addr(served: &Served) -> SocketAddr {
    let line = served
        .wait_for_line(|l| l.contains("metrics on http://"), Duration::from_secs(10))
        .expect("the metrics address is logged");
    let rest = line.split("metrics on http://").nth(1).unwrap();
    rest.split('/').next().unwrap().parse().unwrap()
}

/// One scrape, parsed by Python's `prometheus_client` (OpenMetrics parser).
pub fn scrape(addr: SocketAddr) -> Samples {
    let out = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/metrics_scrape.py"))
        .arg(format!("http://{addr}/metrics"))
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "scrape failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The exposition text as served.
pub fn raw(addr: SocketAddr) -> String {
    let resp = http_client::send(addr, "GET", "/metrics", &[], b"");
    assert_eq!(resp.status, 200);
    String::from_utf8(resp.body).unwrap()
}

/// A sample's value, 0 when absent.
pub fn get(samples: &Samples, key: &str) -> f64 {
    samples.get(key).copied().unwrap_or(0.0)
}

/// The value of the unlabelled sample `name` in raw exposition text.
fn raw_value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Polls the raw text (cheap, so a short-lived state is seen) until the sample `name` (exact
/// text before the value, e.g. `sesame_db_pool_waiting` or
/// `sesame_db_pool_connections{state="in_use"}`) equals `value`; panics after `timeout`.
pub fn wait_for_sample(addr: SocketAddr, name: &str, value: f64, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let text = raw(addr);
        if raw_value(&text, name) == Some(value) {
            return;
        }
        assert!(Instant::now() < deadline, "{name} never reached {value}:\n{text}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
