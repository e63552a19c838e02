//! `GET /metrics` on its own address (`SESAME_METRICS_ADDR`), apart from the API: operators
//! expose it to their Prometheus only, and a scrape never competes with the API's workers or
//! rate limits. One thread; anything but `GET /metrics` gets 404.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;

use crate::app::App;

/// The running listener.
pub struct MetricsListener {
    pub addr: SocketAddr,
    server: Arc<tiny_http::Server>,
    stopping: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl MetricsListener {
    pub fn start(app: Arc<App>, addr: SocketAddr) -> anyhow::Result<MetricsListener> {
        let server =
            tiny_http::Server::http(addr).map_err(|e| anyhow::anyhow!("binding the metrics address {addr}: {e}"))?;
        let addr = server
            .server_addr()
            .to_ip()
            .context("metrics server has no IP address")?;
        let server = Arc::new(server);
        let stopping = Arc::new(AtomicBool::new(false));
        let (srv, stop) = (server.clone(), stopping.clone());
        let thread = std::thread::Builder::new()
            .name("metrics".to_string())
            .spawn(move || serve(&srv, &app, &stop))
            .context("spawning the metrics thread")?;
        Ok(MetricsListener {
            addr,
            server,
            stopping,
            thread,
        })
    }

    pub fn stop(self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.server.unblock();
        let _ = self.thread.join();
    }
}

fn serve(server: &tiny_http::Server, app: &App, stopping: &AtomicBool) {
    loop {
        let rq = match server.recv() {
            Ok(rq) => rq,
            Err(_) if stopping.load(Ordering::SeqCst) => return,
            Err(e) => {
                tracing::warn!("metrics listener: accept failed: {e}");
                continue;
            }
        };
        let path = rq.url().split('?').next().unwrap_or_default();
        let found = rq.method() == &tiny_http::Method::Get && path == "/metrics";
        let response = if found {
            let header = tiny_http::Header::from_bytes("content-type", crate::metrics::CONTENT_TYPE);
            let mut r = tiny_http::Response::from_string(app.metrics.render());
            if let Ok(h) = header {
                r.add_header(h);
            }
            r
        } else {
            tiny_http::Response::from_string("not found\n").with_status_code(404)
        };
        if let Err(e) = rq.respond(response) {
            tracing::debug!("metrics listener: respond failed: {e}");
        }
    }
}
