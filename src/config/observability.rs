//! Logs and metrics area: the log filter and format (`log.rs`), and where Prometheus metrics
//! are served (`metrics.rs`, `server/metrics_listener.rs`).

use std::net::SocketAddr;

use super::var::{Default, Reader, Spec, Var};
use crate::log::LogFormat;

pub const TITLE: &str = "Logs and metrics";

pub const LOG: Var<String> = Var::new(
    "SESAME_LOG",
    Default::Value("info"),
    "Log filter: a level (`error`, `warn`, `info`, `debug`, `trace`) and per-module levels, e.g. `info,sesame::oauth=debug`",
    log_filter,
);
pub const LOG_FORMAT: Var<LogFormat> = Var::new(
    "SESAME_LOG_FORMAT",
    Default::Value("text"),
    "`text` (one readable line per event) or `json` (one JSON object per line)",
    log_format,
);
pub const METRICS_ADDR: Var<SocketAddr> = Var::new(
    "SESAME_METRICS_ADDR",
    Default::None,
    "Serve Prometheus metrics at `http://ADDR/metrics` on this separate address, e.g. `127.0.0.1:9464`. Unset: no metrics listener",
    socket_addr,
);

pub const VARIABLES: &[&Spec] = &[&LOG.spec, &LOG_FORMAT.spec, &METRICS_ADDR.spec];

fn log_filter(s: &str) -> Result<String, String> {
    crate::log::check_filter(s)?;
    Ok(s.to_string())
}

fn log_format(s: &str) -> Result<LogFormat, String> {
    match s {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err("must be text or json".to_string()),
    }
}

fn socket_addr(s: &str) -> Result<SocketAddr, String> {
    s.parse()
        .map_err(|_| "must be an IP address and port, e.g. 127.0.0.1:9464".to_string())
}

pub struct Observability {
    pub log_filter: String,
    pub log_format: LogFormat,
    pub metrics_addr: Option<SocketAddr>,
}

pub fn read(r: &Reader) -> Observability {
    r.area(TITLE);
    Observability {
        log_filter: r.get(&LOG),
        log_format: r.get(&LOG_FORMAT),
        metrics_addr: r.opt(&METRICS_ADDR),
    }
}
