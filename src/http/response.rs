//! A response as plain data: status, headers, typed cookies, body. Cookies are added through
//! [`Response::add_cookie`], which keeps Better Auth's rule that deleting a cookie removes any
//! earlier value for the same name in the same response; they become `Set-Cookie` lines only
//! at the edge ([`Response::header_lines`]).

use serde_json::Value;

use super::cookies::SetCookie;
use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Every header but `Set-Cookie`.
    pub headers: Vec<(String, String)>,
    pub cookies: Vec<SetCookie>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(value: &Value) -> Response {
        Response::json_status(200, value)
    }

    /// A 200 whose body is JSON already written (get-session's, `endpoint::answer_json`).
    pub fn json_bytes(body: Vec<u8>) -> Response {
        Response {
            status: 200,
            headers: vec![("content-type".to_string(), "application/json".to_string())],
            cookies: Vec::new(),
            body,
        }
    }

    pub fn json_status(status: u16, value: &Value) -> Response {
        Response {
            status,
            headers: vec![("content-type".to_string(), "application/json".to_string())],
            cookies: Vec::new(),
            body: value.to_string().into_bytes(),
        }
    }

    /// A 302 to `location`. The body is empty.
    pub fn redirect(location: &str) -> Response {
        Response {
            status: 302,
            headers: vec![("location".to_string(), location.to_string())],
            cookies: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn html(status: u16, html: String) -> Response {
        Response {
            status,
            headers: vec![("content-type".to_string(), "text/html; charset=utf-8".to_string())],
            cookies: Vec::new(),
            body: html.into_bytes(),
        }
    }

    pub fn from_error(err: &ApiError) -> Response {
        let mut r = Response::json_status(err.status, &err.body_json());
        r.headers.extend(err.headers.iter().cloned());
        for c in &err.cookies {
            r.add_cookie(c.clone());
        }
        r
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every cookie as its `Set-Cookie` line, in order.
    pub fn set_cookies(&self) -> Vec<String> {
        self.cookies.iter().map(SetCookie::render).collect()
    }

    /// Adds a cookie. A deletion drops earlier values for the same name, so a valid value never
    /// leaks alongside its deletion.
    pub fn add_cookie(&mut self, cookie: SetCookie) {
        if cookie.is_deletion() {
            self.cookies.retain(|c| c.name != cookie.name);
        }
        self.cookies.push(cookie);
    }

    /// The headers as they go on the wire: every header, then one `Set-Cookie` per cookie.
    pub fn header_lines(&self) -> Vec<(String, String)> {
        let mut lines = self.headers.clone();
        lines.extend(self.cookies.iter().map(|c| ("set-cookie".to_string(), c.render())));
        lines
    }

    pub fn body_json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}
