//! The HTTP server, the only code that touches tiny_http: N worker threads share one
//! `tiny_http::Server`, each looping on `recv()`. A request is converted into Sesame's own
//! [`Request`] (body read through a cap), answered by [`App::handle_http`], converted back,
//! and logged in one access-log line. SIGINT/SIGTERM stop accepting work; in-flight requests
//! finish, then the workers are joined.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::app::App;
use crate::error::{codes, ApiError};
use crate::http::{request_id, Method, Request, Response};

/// A running server: its address and the means to stop it.
pub struct Running {
    pub addr: SocketAddr,
    server: Arc<tiny_http::Server>,
    stopping: Arc<AtomicBool>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Stops accepting requests, lets in-flight ones finish, and joins the workers.
    pub fn stop(self) {
        self.stopping.store(true, Ordering::SeqCst);
        for _ in &self.workers {
            self.server.unblock();
        }
        for w in self.workers {
            let _ = w.join();
        }
    }

    /// Blocks until SIGINT or SIGTERM, then stops.
    pub fn wait_for_signal(self) -> anyhow::Result<()> {
        let mut signals =
            signal_hook::iterator::Signals::new([signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM])
                .context("installing signal handlers")?;
        if let Some(sig) = signals.forever().next() {
            eprintln!("INFO received signal {sig}, finishing in-flight requests");
        }
        self.stop();
        eprintln!("INFO stopped");
        Ok(())
    }
}

/// Binds `addr` and starts `app.config.workers` workers.
pub fn start(app: Arc<App>, addr: SocketAddr) -> anyhow::Result<Running> {
    let listener = bind(addr).with_context(|| format!("binding {addr}"))?;
    let server =
        tiny_http::Server::from_listener(listener, None).map_err(|e| anyhow::anyhow!("starting server: {e}"))?;
    let addr = server.server_addr().to_ip().context("server has no IP address")?;
    let server = Arc::new(server);
    let stopping = Arc::new(AtomicBool::new(false));
    let workers = (0..app.config.workers)
        .map(|i| {
            let (server, app, stopping) = (server.clone(), app.clone(), stopping.clone());
            std::thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || worker(&server, &app, &stopping))
                .context("spawning worker")
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Running {
        addr,
        server,
        stopping,
        workers,
    })
}

/// A listening socket whose accepted connections inherit a read timeout, so a client that
/// stops sending mid-request cannot hold a connection thread forever.
fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_read_timeout(Some(Duration::from_secs(30)))?;
    // Accepted sockets inherit this on Linux. Without it, an answer whose head outgrows
    // tiny_http's write buffer (a long `set-auth-jwt`) leaves in two segments and waits
    // ~40 ms for the client's delayed ACK (Nagle).
    socket.set_nodelay(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

fn worker(server: &tiny_http::Server, app: &App, stopping: &AtomicBool) {
    loop {
        match server.recv() {
            Ok(rq) => serve(app, rq),
            Err(_) if stopping.load(Ordering::SeqCst) => return,
            Err(e) => eprintln!("WARN accept failed: {e}"),
        }
    }
}

fn serve(app: &App, mut rq: tiny_http::Request) {
    let started = Instant::now();
    let id = request_id::generate();
    let method = rq.method().as_str().to_string();
    let path = log_path(app, rq.url());
    let response = request_id::scope(&id, || match convert(app, &mut rq) {
        Ok(req) => app.handle_http(req),
        Err(err) => Response::from_error(&err),
    });
    let status = response.status;
    let mut out = tiny_http::Response::from_data(response.body).with_status_code(status);
    for (k, v) in &response.headers {
        if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            out.add_header(h);
        }
    }
    if let Err(e) = rq.respond(out) {
        // Almost always the client went away; nothing to do but note it.
        eprintln!("DEBUG request_id={id} respond failed: {e}");
    }
    eprintln!(
        "INFO {method} {path} {status} {:.1}ms request_id={id}",
        started.elapsed().as_secs_f64() * 1000.0
    );
}

/// The path for the access log: no query string, and a route's `:param` segments (such as the
/// password reset token) shown by name.
fn log_path(app: &App, url: &str) -> String {
    let path = url.split('?').next().unwrap_or_default();
    let base = app.config.base_path.as_str();
    match path.strip_prefix(base).and_then(|rest| app.router.pattern(rest)) {
        Some(pattern) if pattern.contains(':') => format!("{base}{pattern}"),
        _ => path.to_string(),
    }
}

/// Reads a tiny_http request into Sesame's own type, enforcing the body limit.
fn convert(app: &App, rq: &mut tiny_http::Request) -> Result<Request, ApiError> {
    let limit = app.config.max_body_bytes;
    let too_large = || ApiError::new(413, codes::PAYLOAD_TOO_LARGE);
    if rq.body_length().is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    rq.as_reader()
        .take(limit as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|_| ApiError::with_message(400, codes::BAD_REQUEST, "Could not read the request body"))?;
    if body.len() > limit {
        return Err(too_large());
    }
    let mut req = Request::new(Method::parse(rq.method().as_str()), rq.url());
    req.headers = rq
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_ascii_lowercase(),
                h.value.as_str().to_string(),
            )
        })
        .collect();
    req.body = body;
    req.remote_addr = rq.remote_addr().map(|a| a.ip());
    Ok(req)
}
