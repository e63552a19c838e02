//! An owned, transport-free request: method, path, query, headers, body and peer address.

use std::borrow::Cow;
use std::net::IpAddr;

use super::Method;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// The path as received, percent-encoded, without the query string.
    pub path: String,
    /// Decoded query pairs in order; repeated keys are kept.
    pub query: Vec<(String, String)>,
    /// Header names lower-cased; repeated headers are kept in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub remote_addr: Option<IpAddr>,
    /// Path parameters bound by the router (`:provider` → `("provider", value)`).
    pub params: Vec<(&'static str, String)>,
}

impl Request {
    pub fn new(method: Method, target: &str) -> Request {
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, parse_query(q)),
            None => (target, Vec::new()),
        };
        Request {
            method,
            path: path.to_string(),
            query,
            headers: Vec::new(),
            body: Vec::new(),
            remote_addr: None,
            params: Vec::new(),
        }
    }

    pub fn get(target: &str) -> Request {
        Request::new(Method::Get, target)
    }

    pub fn post(target: &str) -> Request {
        Request::new(Method::Post, target)
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    pub fn with_json(mut self, body: &serde_json::Value) -> Request {
        self.body = body.to_string().into_bytes();
        self.with_header("content-type", "application/json")
    }

    pub fn with_body(mut self, content_type: &str, body: &[u8]) -> Request {
        self.body = body.to_vec();
        self.with_header("content-type", content_type)
    }

    pub fn with_remote_addr(mut self, addr: IpAddr) -> Request {
        self.remote_addr = Some(addr);
        self
    }

    /// The first header with this (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The first query value with this key.
    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    /// The `Cookie` header value(s) joined, as a browser would send them. Borrowed when there
    /// is one header (browsers send one; read several times per request).
    pub fn cookie_header(&self) -> Option<Cow<'_, str>> {
        let mut parts = self
            .headers
            .iter()
            .filter(|(k, _)| k == "cookie")
            .map(|(_, v)| v.as_str());
        let first = parts.next()?;
        let Some(second) = parts.next() else {
            return Some(Cow::Borrowed(first));
        };
        let mut joined = [first, second].join("; ");
        for part in parts {
            joined.push_str("; ");
            joined.push_str(part);
        }
        Some(Cow::Owned(joined))
    }
}

/// Splits and percent-decodes `a=1&b=2` (`+` is a space, as in forms).
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_headers_are_joined_and_one_is_borrowed() {
        assert_eq!(Request::get("/").cookie_header(), None);
        let one = Request::get("/").with_header("cookie", "a=1; b=2");
        assert!(matches!(one.cookie_header(), Some(Cow::Borrowed("a=1; b=2"))));
        let three = Request::get("/")
            .with_header("cookie", "a=1")
            .with_header("x-other", "z")
            .with_header("Cookie", "b=2")
            .with_header("cookie", "c=3");
        assert_eq!(three.cookie_header().as_deref(), Some("a=1; b=2; c=3"));
    }
}
