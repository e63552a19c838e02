//! A response as plain data: status, headers, body. Cookies are added through
//! [`Response::set_cookie`], which keeps Better Auth's rule that expiring a cookie removes any
//! earlier `Set-Cookie` for the same name in the same response.

use serde_json::Value;

use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(value: &Value) -> Response {
        Response::json_status(200, value)
    }

    pub fn json_status(status: u16, value: &Value) -> Response {
        Response {
            status,
            headers: vec![("content-type".to_string(), "application/json".to_string())],
            body: value.to_string().into_bytes(),
        }
    }

    /// A 302 to `location`. The body is empty.
    pub fn redirect(location: &str) -> Response {
        Response {
            status: 302,
            headers: vec![("location".to_string(), location.to_string())],
            body: Vec::new(),
        }
    }

    pub fn html(status: u16, html: String) -> Response {
        Response {
            status,
            headers: vec![("content-type".to_string(), "text/html; charset=utf-8".to_string())],
            body: html.into_bytes(),
        }
    }

    pub fn from_error(err: &ApiError) -> Response {
        let mut r = Response::json_status(err.status, &err.body_json());
        for (k, v) in &err.headers {
            if k == "set-cookie" {
                r.add_set_cookie(v.clone());
            } else {
                r.headers.push((k.clone(), v.clone()));
            }
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

    /// Every `Set-Cookie` value, in order.
    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == "set-cookie")
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Adds a rendered `Set-Cookie`. An expiring cookie (`Max-Age=0`) drops earlier entries for
    /// the same name, so a valid value never leaks alongside its deletion.
    pub fn add_set_cookie(&mut self, rendered: String) {
        let name = rendered.split('=').next().unwrap_or_default().to_string();
        if rendered.contains("; Max-Age=0;") || rendered.ends_with("; Max-Age=0") {
            self.headers
                .retain(|(k, v)| !(k == "set-cookie" && v.split('=').next() == Some(name.as_str())));
        }
        self.headers.push(("set-cookie".to_string(), rendered));
    }

    pub fn body_json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}
