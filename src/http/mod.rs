//! Sesame's own HTTP types, independent of the transport: the server converts tiny_http's
//! request into [`Request`], and the in-process API builds one directly.

pub mod body;
pub mod client_ip;
pub mod cookies;
pub mod cors;
pub mod html;
pub mod input_guard;
pub mod js;
pub mod location;
pub mod origin;
pub mod redirect;
pub mod request;
pub mod request_id;
pub mod response;
pub mod security_headers;

pub use request::Request;
pub use response::Response;

/// HTTP methods; anything unusual is kept as `Other` so the router can answer 405/404.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
    Options,
    Other(String),
}

impl Method {
    pub fn parse(s: &str) -> Method {
        match s {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "HEAD" => Method::Head,
            "OPTIONS" => Method::Options,
            other => Method::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
            Method::Other(s) => s,
        }
    }
}
