//! A fake OAuth 2 / OpenID Connect provider on 127.0.0.1:0 (tiny_http), so the tests exercise
//! Sesame's real ureq path. Each path answers a canned response the test sets (files under
//! `fixtures/oauth/`, `{base}` replaced by the server's URL), optionally after a delay; every
//! request is recorded for assertions. ID tokens are signed with the test-only keys in
//! `fixtures/oauth/` (`jwks.json` holds their public halves).

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::Value;

#[derive(Clone)]
struct Canned {
    status: u16,
    body: String,
    delay_ms: u64,
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    /// The form body as pairs.
    pub fn form(&self) -> HashMap<String, String> {
        url::form_urlencoded::parse(self.body.as_bytes()).into_owned().collect()
    }
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Canned>,
    log: Vec<Recorded>,
}

pub struct FakeProvider {
    pub base: String,
    state: Arc<Mutex<State>>,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

pub fn fixture(name: &str) -> String {
    let path = format!("{}/fixtures/oauth/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

impl FakeProvider {
    pub fn start() -> FakeProvider {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("fake provider binds"));
        let port = server.server_addr().to_ip().expect("ip address").port();
        let state = Arc::new(Mutex::new(State::default()));
        let (srv, st) = (server.clone(), state.clone());
        let thread = std::thread::spawn(move || {
            // Ends when `unblock` makes recv fail.
            while let Ok(rq) = srv.recv() {
                let st = st.clone();
                std::thread::spawn(move || answer(rq, &st));
            }
        });
        FakeProvider {
            base: format!("http://127.0.0.1:{port}"),
            state,
            server,
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Answers `path` (without query) with `status` and `body`; `{base}` in the body is
    /// replaced by the fake's URL.
    pub fn respond(&self, path: &str, status: u16, body: &str) {
        let body = body.replace("{base}", &self.base);
        self.state.lock().unwrap().routes.insert(
            path.to_string(),
            Canned {
                status,
                body,
                delay_ms: 0,
            },
        );
    }

    pub fn respond_json(&self, path: &str, status: u16, body: &Value) {
        self.respond(path, status, &body.to_string());
    }

    pub fn respond_fixture(&self, path: &str, name: &str) {
        self.respond(path, 200, &fixture(name));
    }

    /// Delays the answer of `path` (to trip Sesame's timeout).
    pub fn delay(&self, path: &str, ms: u64) {
        if let Some(c) = self.state.lock().unwrap().routes.get_mut(path) {
            c.delay_ms = ms;
        }
    }

    pub fn requests(&self, path: &str) -> Vec<Recorded> {
        self.state
            .lock()
            .unwrap()
            .log
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn answer(mut rq: tiny_http::Request, state: &Mutex<State>) {
    let mut body = String::new();
    let _ = rq.as_reader().take(1 << 20).read_to_string(&mut body);
    let (path, query) = match rq.url().split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (rq.url().to_string(), String::new()),
    };
    let canned = {
        let mut st = state.lock().unwrap();
        st.log.push(Recorded {
            method: rq.method().as_str().to_string(),
            path: path.clone(),
            query,
            headers: rq
                .headers()
                .iter()
                .map(|h| {
                    (
                        h.field.as_str().as_str().to_ascii_lowercase(),
                        h.value.as_str().to_string(),
                    )
                })
                .collect(),
            body,
        });
        st.routes.get(&path).cloned()
    };
    let canned = canned.unwrap_or(Canned {
        status: 404,
        body: r#"{"error":"not_found"}"#.to_string(),
        delay_ms: 0,
    });
    if canned.delay_ms > 0 {
        std::thread::sleep(Duration::from_millis(canned.delay_ms));
    }
    let header = tiny_http::Header::from_bytes("content-type", "application/json").unwrap();
    let _ = rq.respond(
        tiny_http::Response::from_string(canned.body)
            .with_status_code(canned.status)
            .with_header(header),
    );
}

/// Which test key signs a token.
#[derive(Debug, Clone, Copy)]
pub enum TestKey {
    /// RS256, `kid` test-rsa (in jwks.json).
    Rsa,
    /// ES256, `kid` test-ec (in jwks.json).
    Ec,
    /// RS256 with a key that is not in jwks.json, under the given kid.
    Other(&'static str),
}

/// Signs `claims` as a compact JWS with a test key.
pub fn sign(claims: &Value, key: TestKey) -> String {
    let (alg, kid, pem, ec) = match key {
        TestKey::Rsa => (Algorithm::RS256, "test-rsa", "rsa-key.pem", false),
        TestKey::Ec => (Algorithm::ES256, "test-ec", "ec-key.pem", true),
        TestKey::Other(kid) => (Algorithm::RS256, kid, "rsa-other-key.pem", false),
    };
    let pem = fixture(pem);
    let enc = if ec {
        EncodingKey::from_ec_pem(pem.as_bytes()).unwrap()
    } else {
        EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap()
    };
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, &enc).unwrap()
}
