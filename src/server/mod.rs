//! The HTTP server, the only code that touches tiny_http: N worker threads share one
//! `tiny_http::Server`, each looping on `recv()`. A request is converted into Sesame's own
//! [`Request`], answered by [`App::handle_http`], converted back, and logged in one access-log
//! line. SIGINT/SIGTERM stop accepting work; in-flight requests finish, then the workers are
//! joined.
//!
//! Connections are bounded by the patched tiny_http in `vendor/tiny_http` (see its
//! SESAME_PATCHES.md): at most `SESAME_MAX_CONNECTIONS` at once and
//! `SESAME_MAX_CONNECTIONS_PER_IP` per client address (more get a 503 and are closed by the
//! accept thread), socket read/write timeouts, a total deadline for a request's
//! headers and again for its body (`SESAME_READ_TIMEOUT_SECS`), `SESAME_MAX_HEADER_BYTES`
//! (431), and bodies read in full — up to `SESAME_MAX_BODY_BYTES`, else 413 — on the
//! connection's own thread, so a slow client never holds one of the few workers.
//!
//! A worker needs a seat to take a request: `SESAME_WORKERS` seats, and more threads than
//! seats. A worker keeps its seat from one request to the next; one whose request waits for a
//! password hash (`auth/hash_pool.rs`) gives its seat up, so a sign-in storm never leaves
//! session checks without a worker, and the threads competing with the hashing pool for the
//! CPU stay `SESAME_WORKERS`.

mod metrics_listener;

use std::io::Read;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::app::App;
use crate::auth::hash_pool::Seats;
use crate::error::{codes, ApiError};
use crate::http::{request_id, Method, Request, Response};

/// A running server: its address, its app, and the means to stop it. [`Running::stop`], or
/// dropping it, stops accepting requests, lets the requests already read finish, and joins
/// every thread the server started; the port is closed when it returns.
pub struct Running {
    pub addr: SocketAddr,
    /// Where `/metrics` is served (`SESAME_METRICS_ADDR`), if anywhere.
    pub metrics_addr: Option<SocketAddr>,
    app: Arc<App>,
    metrics: Option<metrics_listener::MetricsListener>,
    server: Option<Arc<tiny_http::Server>>,
    stopping: Arc<AtomicBool>,
    workers: Vec<std::thread::JoinHandle<()>>,
    seats: Arc<Seats>,
}

impl Running {
    /// The app being served, for in-process calls next to the HTTP ones.
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// The endpoints' base URL on the bound address (`http://127.0.0.1:41234/api/auth`).
    pub fn url(&self) -> String {
        format!("http://{}{}", self.addr, self.app.config.base_path)
    }

    /// Stops accepting requests, lets in-flight ones finish, and joins the workers.
    pub fn stop(mut self) {
        self.shutdown();
    }

    /// Once: the workers leave after the requests already queued (and the hashes they wait
    /// for), then the last handle on the tiny_http server goes, which closes the listening socket.
    fn shutdown(&mut self) {
        let Some(server) = self.server.take() else {
            return;
        };
        self.stopping.store(true, Ordering::SeqCst);
        // Threads waiting for a seat end; those holding one are woken from `recv` (a thread
        // busy with a request finds its wake-up when it next calls `recv`).
        self.seats.close();
        for _ in &self.workers {
            server.unblock();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        if let Some(m) = self.metrics.take() {
            m.stop();
        }
        // The workers' clones are gone too: dropping the server joins its accept thread.
        drop(server);
    }

    /// Blocks until SIGINT or SIGTERM, then stops. Install the handlers with
    /// [`ShutdownSignals::install`] before announcing the server, so a signal sent right after
    /// start-up is not lost to the default action (dying without finishing requests).
    pub fn wait_for_signal(self, signals: ShutdownSignals) -> anyhow::Result<()> {
        let mut signals = signals.0;
        if let Some(sig) = signals.forever().next() {
            tracing::info!("received signal {sig}, finishing in-flight requests");
        }
        self.stop();
        tracing::info!("stopped");
        Ok(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl App {
    /// Serves this app over HTTP on `addr` (`"127.0.0.1:0"` picks a free port; the handle's
    /// `addr` says which), with `config.workers` workers, until the handle is stopped or
    /// dropped. The binary's `sesame serve` runs the same server. An `Arc<App>` shared with
    /// other code is served with [`start`].
    pub fn serve(self, addr: impl ToSocketAddrs) -> anyhow::Result<Running> {
        let app = Arc::new(self);
        let mut last = None;
        for at in addr.to_socket_addrs().context("resolving the address to serve on")? {
            match start(app.clone(), at) {
                Ok(running) => return Ok(running),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("no address to serve on")))
    }
}

/// SIGINT and SIGTERM, caught from the moment of [`ShutdownSignals::install`].
pub struct ShutdownSignals(signal_hook::iterator::Signals);

impl ShutdownSignals {
    pub fn install() -> anyhow::Result<ShutdownSignals> {
        signal_hook::iterator::Signals::new([signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM])
            .map(ShutdownSignals)
            .context("installing signal handlers")
    }
}

/// Binds `addr` and starts `app.config.workers` workers.
pub fn start(app: Arc<App>, addr: SocketAddr) -> anyhow::Result<Running> {
    let listener = bind(addr).with_context(|| format!("binding {addr}"))?;
    let server = tiny_http::Server::from_listener_with_limits(listener, None, limits(&app.config))
        .map_err(|e| anyhow::anyhow!("starting server: {e}"))?;
    let addr = server.server_addr().to_ip().context("server has no IP address")?;
    let server = Arc::new(server);
    let stopping = Arc::new(AtomicBool::new(false));
    let seats = Seats::new(app.config.workers);
    app.hash_pool.watch_seats(&seats);
    let mut running = Running {
        addr,
        metrics_addr: None,
        app: app.clone(),
        metrics: None,
        server: Some(server.clone()),
        stopping: stopping.clone(),
        workers: Vec::new(),
        seats: seats.clone(),
    };
    let mut spawned = Ok(());
    for i in 0..worker_threads(&app.config) {
        let (server, app, stopping, seats) = (server.clone(), app.clone(), stopping.clone(), seats.clone());
        match std::thread::Builder::new()
            .name(format!("worker-{i}"))
            .spawn(move || worker(&server, &app, &stopping, &seats))
        {
            Ok(worker) => running.workers.push(worker),
            Err(e) => {
                spawned = Err(e).context("spawning worker");
                break;
            }
        }
    }
    // `running` holds the last handles now, so a failure from here on drops it, which stops
    // (and joins) what was started.
    drop(server);
    spawned?;
    if let Some(at) = app.config.metrics_addr {
        let metrics = metrics_listener::MetricsListener::start(app.clone(), at)?;
        running.metrics_addr = Some(metrics.addr);
        running.metrics = Some(metrics);
    }
    Ok(running)
}

/// Enough threads that every seat stays taken while as many requests as the hashing pool
/// admits (its threads and its queue) wait for their hash, plus a seat's worth finishing a
/// request after its hash. The extra threads sleep until a seat is free.
fn worker_threads(config: &crate::config::Config) -> usize {
    config.workers * 2 + config.hash_threads + config.hash_queue
}

/// The per-connection limits handed to tiny_http.
fn limits(config: &crate::config::Config) -> tiny_http::ConnectionLimits {
    let timeout = Some(Duration::from_secs(config.read_timeout_secs));
    let proxies = config.trusted_proxies.clone();
    tiny_http::ConnectionLimits {
        max_connections: config.max_connections,
        max_connections_per_ip: config.max_connections_per_ip,
        // A trusted reverse proxy carries many clients on its connections.
        per_ip_exempt: Some(std::sync::Arc::new(move |ip| proxies.iter().any(|p| p.contains(ip)))),
        read_timeout: timeout,
        write_timeout: timeout,
        request_timeout: timeout,
        max_header_bytes: config.max_header_bytes,
        max_body_bytes: Some(config.max_body_bytes),
        // Enough to swallow a modestly oversized upload so its client reads the 413.
        max_drain_bytes: config.max_body_bytes.saturating_mul(4).max(8 << 20),
        busy_response: busy_response(),
        error_body: Some(error_body),
    }
}

/// The answers tiny_http writes by itself, in Sesame's error shape.
fn error_body(status: u16) -> (Vec<(&'static str, &'static str)>, Vec<u8>) {
    let code = match status {
        408 => codes::REQUEST_TIMEOUT,
        413 => codes::PAYLOAD_TOO_LARGE,
        417 => codes::EXPECTATION_FAILED,
        431 => codes::REQUEST_HEADER_FIELDS_TOO_LARGE,
        _ => codes::MALFORMED_REQUEST,
    };
    let headers = vec![
        ("content-type", "application/json"),
        ("x-content-type-options", "nosniff"),
    ];
    (
        headers,
        ApiError::new(status, code).body_json().to_string().into_bytes(),
    )
}

/// What a connection over `SESAME_MAX_CONNECTIONS` gets before it is closed.
fn busy_response() -> Vec<u8> {
    let body = ApiError::new(503, codes::SERVER_BUSY).body_json().to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
retry-after: 1\r\nx-content-type-options: nosniff\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The listening socket. Timeouts are set on each accepted connection by tiny_http.
fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    // Accepted sockets inherit this on Linux. Without it, an answer whose head outgrows
    // tiny_http's write buffer (a long `set-auth-jwt`) leaves in two segments and waits
    // ~40 ms for the client's delayed ACK (Nagle). (Timeouts are set per connection.)
    socket.set_nodelay(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

fn worker(server: &tiny_http::Server, app: &App, stopping: &AtomicBool, seats: &Arc<Seats>) {
    while seats.take() {
        match server.recv() {
            Ok(rq) => {
                Seats::begin();
                serve(app, rq);
                // The seat stays this thread's for its next request (unless the request waited
                // for a hash: the seat went then, and `take` waits for one).
                Seats::end();
            }
            Err(_) if stopping.load(Ordering::SeqCst) => {
                Seats::leave();
                return;
            }
            Err(e) => tracing::warn!("accept failed: {e}"),
        }
    }
    Seats::leave();
}

/// Answers one request. Everything logged meanwhile (by any layer) is inside the request's
/// span, which carries its id.
fn serve(app: &App, mut rq: tiny_http::Request) {
    let started = Instant::now();
    let span = tracing::info_span!("request", request_id = %request_id::generate());
    let _entered = span.enter();
    let method = crate::log::sanitize(rq.method().as_str(), 16);
    // The access line's route is worked out only when that line is written (logs at `info`).
    let path = tracing::enabled!(target: "sesame::access", tracing::Level::INFO).then(|| log_path(app, rq.url()));
    let route = metric_route(app, rq.url());
    let response = match convert(app, &mut rq) {
        Ok(req) => app.handle_http(req),
        Err(err) => {
            let mut r = Response::from_error(&err);
            crate::http::security_headers::apply(&mut r);
            r
        }
    };
    let status = response.status;
    let lines = response.header_lines();
    let mut out = tiny_http::Response::from_data(response.body).with_status_code(status);
    for h in wire_headers(&lines) {
        out.add_header(h);
    }
    if let Err(e) = rq.respond(out) {
        // Almost always the client went away; nothing to do but note it.
        tracing::debug!("respond failed: {e}");
    }
    let elapsed = started.elapsed().as_secs_f64();
    app.metrics
        .observe_request(crate::metrics::method_label(&method), &route, status, elapsed);
    let elapsed_ms = (elapsed * 10_000.0).round() / 10.0;
    if let Some(path) = path {
        tracing::info!(target: "sesame::access", %method, route = %path, status, elapsed_ms, "answered");
    }
}

/// Response headers as tiny_http writes them. A value holding CR, LF or NUL is dropped (and
/// logged by name): it would end the header early and split the response, whatever produced it.
fn wire_headers(headers: &[(String, String)]) -> Vec<tiny_http::Header> {
    headers
        .iter()
        .filter(|(k, v)| {
            let unsafe_value = v.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0);
            if unsafe_value {
                tracing::warn!("dropped a {} header holding CR/LF/NUL", crate::log::sanitize(k, 40));
            }
            !unsafe_value
        })
        .filter_map(|(k, v)| tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).ok())
        .collect()
}

/// The path as logged: never the query string; a route's `:param` segments (such as the
/// password reset token) shown by name. A path no route matches may still carry a token
/// (`/reset-password/<token>/`, a trailing slash): it is logged as the base path plus its
/// first segment when that segment begins some route (`/api/auth/reset-password/…`), else as
/// `/api/auth/…` or `/…`.
fn log_path(app: &App, url: &str) -> String {
    let path = url.split('?').next().unwrap_or_default();
    let base = app.config.base_path.as_str();
    let rest = path.strip_prefix(base).filter(|r| r.is_empty() || r.starts_with('/'));
    if let Some(pattern) = rest.and_then(|r| app.router.pattern(r)) {
        return format!("{base}{pattern}");
    }
    let Some(rest) = rest else {
        return "/…".to_string();
    };
    let trimmed = rest.trim_start_matches('/');
    let (first, more) = match trimmed.split_once('/') {
        Some((first, _)) => (first, true),
        None => (trimmed, false),
    };
    let known = !first.is_empty()
        && app
            .router
            .routes()
            .iter()
            .any(|r| r.path.trim_start_matches('/').split('/').next() == Some(first));
    match (known, more) {
        (true, true) => format!("{base}/{first}/…"),
        (true, false) => format!("{base}/{first}"),
        (false, _) => format!("{base}/…"),
    }
}

/// The route as a metric label: the base path plus the route pattern, or `unmatched` (a label
/// per unknown path would let any client grow the metrics without bound).
fn metric_route(app: &App, url: &str) -> String {
    let path = url.split('?').next().unwrap_or_default();
    let base = app.config.base_path.as_str();
    match path.strip_prefix(base).and_then(|rest| app.router.pattern(rest)) {
        Some(pattern) => format!("{base}{pattern}"),
        None => "unmatched".to_string(),
    }
}

/// Reads a tiny_http request into Sesame's own type, enforcing the body limit.
fn convert(app: &App, rq: &mut tiny_http::Request) -> Result<Request, ApiError> {
    let limit = app.config.max_body_bytes;
    let too_large = || ApiError::new(413, codes::PAYLOAD_TOO_LARGE);
    if rq.body_too_large() || rq.body_length().is_some_and(|n| n > limit) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_that_would_split_the_response_are_dropped() {
        let headers = vec![
            ("location".to_string(), "/ok\r\nSet-Cookie: pwned=1".to_string()),
            ("x-a".to_string(), "nul\0".to_string()),
            ("x-b".to_string(), "lf\n".to_string()),
            ("content-type".to_string(), "application/json".to_string()),
        ];
        let out = wire_headers(&headers);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].value.as_str(), "application/json");
    }
}
