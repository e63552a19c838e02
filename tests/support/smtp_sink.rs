//! The aiosmtpd sink (`tests/smtp_sink.py`) as a child process: a real SMTP server on
//! 127.0.0.1 that writes each message it receives to a file, and can be stopped and started
//! again on the same port (a mail server that is down for a while).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The sink process; killed (and its directory removed) when dropped.
pub struct SmtpSink {
    pub child: Child,
    pub port: u16,
    pub dir: PathBuf,
    /// Whether dropping removes `dir` (a restarted sink shares it with the first).
    owns_dir: bool,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.owns_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Whether python3 with aiosmtpd is there; outside CI a missing one skips the test (with a
/// message), in CI it fails it.
fn available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("aiosmtpd is required in CI: pip install aiosmtpd");
        }
        eprintln!("SKIPPED: the SMTP test needs python3 with aiosmtpd (pip install aiosmtpd)");
    }
    ok
}

/// Starts the sink on a free port, or `None` (with a message) when aiosmtpd is not installed
/// outside CI.
pub fn start_smtp_sink(user: &str, password: &str) -> Option<SmtpSink> {
    if !available() {
        return None;
    }
    let dir = std::env::temp_dir().join(format!(
        "sesame-smtp-{}-{}",
        std::process::id(),
        sesame::crypto::random_string(8)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    Some(spawn(user, password, dir, None, true))
}

/// A free port of 127.0.0.1 nobody listens on (yet): a mail server that is down. It is picked
/// below the kernel's ephemeral range (32768 and up), so no server another test starts on port
/// 0 can take it while this test keeps it free for the sink it starts later; uniformly, and
/// never twice in this process, so two tests running in parallel never share one.
pub fn free_port() -> u16 {
    use rand::Rng;
    static HANDED_OUT: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..10_000 {
        let port = rand::thread_rng().gen_range(20_000..32_000);
        if !handed_out.contains(&port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            handed_out.insert(port);
            return port;
        }
    }
    panic!("no free port below the ephemeral range");
}

/// Starts the sink on `port`, writing into `dir` (numbering after the files already there), or
/// `None` when aiosmtpd is not installed outside CI. Dropping it leaves `dir`.
pub fn start_smtp_sink_at(user: &str, password: &str, port: u16, dir: &Path) -> Option<SmtpSink> {
    if !available() {
        return None;
    }
    std::fs::create_dir_all(dir).unwrap();
    Some(spawn(user, password, dir.to_path_buf(), Some(port), false))
}

fn spawn(user: &str, password: &str, dir: PathBuf, port: Option<u16>, owns_dir: bool) -> SmtpSink {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_sink.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script).arg(&dir).args([user, password]);
    if let Some(port) = port {
        cmd.arg(port.to_string());
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the SMTP sink");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("SMTP sink became ready");
    let port = line
        .trim()
        .strip_prefix("READY ")
        .and_then(|p| p.parse().ok())
        .expect("READY <port>");
    SmtpSink {
        child,
        port,
        dir,
        owns_dir,
    }
}

/// Every message the sink has written so far, in order.
pub fn messages(dir: &Path) -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

/// Waits (bounded: 20 s) for the sink to have written `n` messages and returns them in order.
pub fn wait_for_messages(dir: &Path, n: usize) -> Vec<Value> {
    wait_for_messages_within(dir, n, Duration::from_secs(20))
}

/// [`wait_for_messages`] with its own bound.
pub fn wait_for_messages_within(dir: &Path, n: usize, timeout: Duration) -> Vec<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let found = messages(dir);
        if found.len() >= n {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "the SMTP sink received {} of {n} message(s)",
            found.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
