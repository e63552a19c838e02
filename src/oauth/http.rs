//! The one HTTP client every provider call goes through: a shared `ureq` agent with connect,
//! read and overall timeouts and no redirects (token endpoints must not be redirected, as
//! Better Auth's `fetchRefusingRedirects`). Error bodies are read and logged by their OAuth
//! `error` / `error_description` fields only, never with tokens, secrets or query strings.

use std::io::Read;
use std::time::Duration;

use serde_json::{Map, Value};

/// A provider answer larger than this is refused (token, profile and JWKS documents are small).
const MAX_BODY: u64 = 1 << 20;

/// Why a provider call failed.
#[derive(Debug)]
pub enum FetchError {
    /// The provider answered with an error status; its body (JSON if it was JSON).
    Status(u16, Value),
    /// Connection refused, timeout, TLS failure…
    Transport(String),
    /// The answer was not JSON (nor form-encoded).
    Parse,
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Status(code, body) => {
                write!(f, "provider answered {code}")?;
                if let Some(e) = body.get("error").and_then(Value::as_str) {
                    write!(f, " error={e}")?;
                }
                if let Some(d) = body.get("error_description").and_then(Value::as_str) {
                    write!(f, " error_description={d:?}")?;
                }
                Ok(())
            }
            FetchError::Transport(e) => write!(f, "provider unreachable: {e}"),
            FetchError::Parse => f.write_str("provider answer is not JSON"),
        }
    }
}

impl std::error::Error for FetchError {}

pub struct Client {
    agent: ureq::Agent,
}

/// Where a URL points, for logs: origin and path, never the query or credentials.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!("{}{}", u.origin().ascii_serialization(), u.path()),
        Err(_) => "<invalid url>".to_string(),
    }
}

impl Client {
    pub fn new(timeout_ms: u64) -> Client {
        let t = Duration::from_millis(timeout_ms);
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(t)
            .timeout_read(t)
            .timeout_write(t)
            .timeout(t)
            .redirects(0)
            .user_agent(concat!("sesame/", env!("CARGO_PKG_VERSION")))
            .build();
        Client { agent }
    }

    /// POSTs a form (token endpoints) and parses the JSON answer. `basic` sends HTTP Basic
    /// client credentials.
    pub fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<Value, FetchError> {
        let mut req = self
            .agent
            .post(url)
            .set("accept", "application/json")
            .set("content-type", "application/x-www-form-urlencoded");
        if let Some((id, secret)) = basic {
            use base64::Engine;
            let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let raw = format!("{}:{}", enc(id), enc(secret));
            let value = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw));
            req = req.set("authorization", &value);
        }
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter())
            .finish();
        finish(url, req.send_string(&body))
    }

    /// GETs a JSON document, with a bearer token when given.
    pub fn get_json(&self, url: &str, bearer: Option<&str>, headers: &[(&str, &str)]) -> Result<Value, FetchError> {
        let mut req = self.agent.get(url).set("accept", "application/json");
        if let Some(token) = bearer {
            req = req.set("authorization", &format!("Bearer {token}"));
        }
        for (k, v) in headers {
            req = req.set(k, v);
        }
        finish(url, req.call())
    }
}

fn read_body(resp: ureq::Response) -> Option<Value> {
    let mut buf = Vec::new();
    resp.into_reader().take(MAX_BODY).read_to_end(&mut buf).ok()?;
    if let Ok(v) = serde_json::from_slice::<Value>(&buf) {
        return Some(v);
    }
    // Some token endpoints (older GitHub/Facebook styles) answer form-encoded.
    let text = std::str::from_utf8(&buf).ok()?;
    if !text.contains('=') || text.trim_start().starts_with('<') {
        return None;
    }
    let map: Map<String, Value> = url::form_urlencoded::parse(text.trim().as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    Some(Value::Object(map))
}

fn finish(url: &str, result: Result<ureq::Response, ureq::Error>) -> Result<Value, FetchError> {
    let err = match result {
        Ok(resp) if (300..400).contains(&resp.status()) => FetchError::Status(resp.status(), Value::Null),
        Ok(resp) => return read_body(resp).ok_or(FetchError::Parse),
        Err(ureq::Error::Status(code, resp)) => FetchError::Status(code, read_body(resp).unwrap_or(Value::Null)),
        Err(ureq::Error::Transport(t)) => FetchError::Transport(t.kind().to_string()),
    };
    tracing::warn!("oauth call to {} failed: {err}", redact(url));
    Err(err)
}

#[cfg(test)]
mod tests {
    #[test]
    fn redact_keeps_origin_and_path_only() {
        assert_eq!(
            super::redact("https://u:p@graph.example.com:8443/me?access_token=secret"),
            "https://graph.example.com:8443/me"
        );
        assert_eq!(super::redact("nonsense"), "<invalid url>");
    }
}
