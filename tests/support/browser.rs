//! A minimal browser over a real socket: requests go to a running Sesame server through
//! [`super::http_client`], and the `Set-Cookie` answers are kept in a jar and sent back, so a
//! test can walk a whole redirect flow (social sign-in, emailed links) exactly as a client would.

use std::net::SocketAddr;

use serde_json::Value;

use super::http_client::{self, RawResponse};
use super::ORIGIN;

pub struct Browser {
    addr: SocketAddr,
    /// `(name, value)` of every live cookie, in the order first set.
    jar: Vec<(String, String)>,
}

impl Browser {
    pub fn new(addr: SocketAddr) -> Browser {
        Browser { addr, jar: Vec::new() }
    }

    /// The `Cookie` header this browser sends (empty without cookies).
    pub fn cookie_header(&self) -> String {
        self.jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Forgets every cookie (a different browser, or cleared storage).
    pub fn clear(&mut self) {
        self.jar.clear();
    }

    fn keep(&mut self, resp: &RawResponse) {
        for line in resp.set_cookies() {
            let Some((name, value)) = line.split(';').next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            self.jar.retain(|(k, _)| k != name);
            if !line.contains("Max-Age=0") {
                self.jar.push((name.to_string(), value.to_string()));
            }
        }
    }

    fn send(&mut self, method: &str, target: &str, content_type: Option<&str>, body: &[u8]) -> RawResponse {
        let cookies = self.cookie_header();
        let mut headers: Vec<(&str, &str)> = vec![("origin", ORIGIN)];
        if let Some(ct) = content_type {
            headers.push(("content-type", ct));
        }
        if !cookies.is_empty() {
            headers.push(("cookie", &cookies));
        }
        let resp = http_client::send(self.addr, method, target, &headers, body);
        self.keep(&resp);
        resp
    }

    /// `GET target` (a path with query, e.g. `/api/auth/callback/github?…`).
    pub fn get(&mut self, target: &str) -> RawResponse {
        self.send("GET", target, None, b"")
    }

    /// `POST target` with a JSON body, from the app's origin.
    pub fn post(&mut self, target: &str, body: &Value) -> RawResponse {
        self.send("POST", target, Some("application/json"), body.to_string().as_bytes())
    }
}

/// The `Location` of a redirect answer.
pub fn location(resp: &RawResponse) -> String {
    assert_eq!(
        resp.status,
        302,
        "expected a redirect: {}",
        String::from_utf8_lossy(&resp.body)
    );
    resp.header("location").unwrap_or_default().to_string()
}

/// The path and query of an absolute URL on the app's origin (what the browser requests next).
pub fn target_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        },
        Err(_) => url.to_string(),
    }
}
