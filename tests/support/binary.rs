//! The real `sesame` binary as a child process: started with a chosen environment, its
//! stderr collected line by line (the log), its addresses read from its start-up lines, and
//! killed when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_sesame");

/// A `sesame` command with an environment holding nothing of the caller's but `PATH`, so a
/// stray `SESAME_*` variable cannot change a test.
pub fn command(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd
}

type Lines = Arc<(Mutex<(Vec<String>, bool)>, Condvar)>;

/// A running `sesame serve`.
pub struct Served {
    pub child: Child,
    pub addr: SocketAddr,
    lines: Lines,
    _dir: Option<tempdir::Dir>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `sesame serve` on memory storage and 127.0.0.1:0 with `env` added, and waits
/// (bounded) for its listening line.
pub fn serve(env: &[(&str, &str)]) -> Served {
    let dir = tempdir::Dir::new();
    let mut cmd = command(dir.path());
    cmd.arg("serve")
        .env("PORT", "0")
        .env("HOST", "127.0.0.1")
        .env("DATABASE_URL", "memory")
        .env("BETTER_AUTH_SECRET", "binary-test-secret-0123456789abcdefghij")
        .env("SESAME_BCRYPT_COST", "4")
        .env("SESAME_WORKERS", "2")
        .env("SESAME_HASH_THREADS", "1")
        .env("SESAME_RATE_LIMIT", "false")
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let lines: Lines = Arc::default();
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let (lock, cv) = &*sink;
            lock.lock().unwrap().0.push(line);
            cv.notify_all();
        }
        let (lock, cv) = &*sink;
        lock.lock().unwrap().1 = true;
        cv.notify_all();
    });
    let mut served = Served {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        lines,
        _dir: Some(dir),
    };
    let line = served.wait_for_line(|l| l.contains("listening on http://"), Duration::from_secs(30));
    let Some(line) = line else {
        panic!("server did not print its address; stderr: {:#?}", served.lines());
    };
    let rest = line.split("listening on http://").nth(1).unwrap();
    served.addr = rest.split_whitespace().next().unwrap().parse().unwrap();
    served
}

impl Served {
    /// Every stderr line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.0.lock().unwrap().0.clone()
    }

    /// The first stderr line (past or future) that `pred` accepts, waiting up to `timeout`.
    pub fn wait_for_line(&self, pred: impl Fn(&str) -> bool, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let (lock, cv) = &*self.lines;
        let mut guard = lock.lock().unwrap();
        loop {
            if let Some(l) = guard.0.iter().find(|l| pred(l)) {
                return Some(l.clone());
            }
            let now = Instant::now();
            if guard.1 || now >= deadline {
                return None;
            }
            guard = cv.wait_timeout(guard, deadline - now).unwrap().0;
        }
    }

    /// Waits up to `timeout` until at least `n` stderr lines (past or future) satisfy `pred`;
    /// whether they did.
    pub fn wait_for_lines(&self, pred: impl Fn(&str) -> bool, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (lock, cv) = &*self.lines;
        let mut guard = lock.lock().unwrap();
        loop {
            if guard.0.iter().filter(|l| pred(l)).count() >= n {
                return true;
            }
            let now = Instant::now();
            if guard.1 || now >= deadline {
                return false;
            }
            guard = cv.wait_timeout(guard, deadline - now).unwrap().0;
        }
    }

    /// Waits (until `deadline`) for the reader to reach the end of stderr, so [`Served::lines`]
    /// holds everything the process wrote.
    fn wait_for_eof(&self, deadline: Instant) {
        let (lock, cv) = &*self.lines;
        let mut guard = lock.lock().unwrap();
        while !guard.1 {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            guard = cv.wait_timeout(guard, deadline - now).unwrap().0;
        }
    }

    /// Sends SIGTERM and waits (bounded) for the exit status and the end of its stderr.
    pub fn terminate(&mut self) -> Option<i32> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(code) = self.child.try_wait().unwrap() {
                self.wait_for_eof(deadline);
                return code.code();
            }
            assert!(Instant::now() < deadline, "server did not stop within 15 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Runs the binary to completion with a bounded wait; `None` if it had to be killed.
pub fn run_bounded(mut cmd: Command, timeout: Duration) -> Option<std::process::Output> {
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(out) => Some(out.unwrap()),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            let _ = rx.recv_timeout(Duration::from_secs(5));
            None
        }
    }
}

pub mod tempdir {
    use std::path::{Path, PathBuf};

    /// A fresh empty directory under the system temp dir, removed when dropped.
    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new() -> Dir {
            let path = std::env::temp_dir().join(format!("sesame-bin-{}", sesame::crypto::random_string(12)));
            std::fs::create_dir_all(&path).unwrap();
            Dir(path)
        }
        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
