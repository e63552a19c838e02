//! CORS for the trusted origins, so a web app on another origin (a React app on
//! `http://localhost:5173`, `https://app.example.com`) can call Sesame from the browser with
//! `credentials: "include"`. Better Auth leaves CORS to the web framework it is mounted in; a
//! standalone server has to answer it itself.
//!
//! The allowed origins are exactly the trusted origins of the Origin check (the base URL's
//! origin and `BETTER_AUTH_TRUSTED_ORIGINS`, wildcards included), so CORS never lets a page read
//! what the CSRF rules would not let it send. An untrusted or absent `Origin` gets no CORS
//! header at all, and its preflight is refused before routing, so no handler runs. CORS only
//! governs what a browser lets a page read: the CSRF rules still decide what is accepted.

use super::origin::TrustedOrigins;
use super::{Method, Request, Response};
use crate::error::{codes, ApiError};

/// Headers a page may read from an answer: the bearer plugin's session token and the jwt
/// plugin's token.
pub const EXPOSE_HEADERS: &str = "set-auth-token, set-auth-jwt";
/// Methods Sesame's endpoints use.
pub const ALLOW_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
/// Seconds a browser may cache a preflight answer.
pub const MAX_AGE_SECS: u32 = 600;
/// Request headers a preflight may ask for (names), and the longest list accepted.
const MAX_REQUESTED_HEADERS: usize = 32;
const MAX_REQUESTED_HEADERS_LEN: usize = 2048;

/// The request's `Origin` when it is a trusted origin: a bare `scheme://host[:port]` (what
/// browsers send) matching the trusted list. Anything else, `null` included, is `None`.
pub fn allowed_origin<'r>(trusted: &TrustedOrigins, req: &'r Request) -> Option<&'r str> {
    let origin = req.header("origin")?;
    if trusted.is_exact_bare_origin(origin) {
        return Some(origin);
    }
    let parsed = url::Url::parse(origin).ok()?;
    let is_bare_origin = matches!(parsed.scheme(), "http" | "https") && parsed.origin().ascii_serialization() == origin;
    (is_bare_origin && trusted.is_trusted(origin)).then_some(origin)
}

/// A CORS preflight: `OPTIONS` with `Access-Control-Request-Method`.
pub fn is_preflight(req: &Request) -> bool {
    req.method == Method::Options && req.header("access-control-request-method").is_some()
}

/// Answers a preflight without running anything else: 204 with the CORS headers for a trusted
/// origin, 403 (Better Auth's `MISSING_OR_NULL_ORIGIN` / `INVALID_ORIGIN`) otherwise, and 400
/// when the requested method or headers are not valid tokens or the list is too long.
pub fn preflight(trusted: &TrustedOrigins, req: &Request) -> Result<Response, ApiError> {
    let Some(origin) = allowed_origin(trusted, req) else {
        return Err(match req.header("origin") {
            None | Some("") | Some("null") => ApiError::new(403, codes::MISSING_OR_NULL_ORIGIN),
            Some(_) => ApiError::new(403, codes::INVALID_ORIGIN),
        });
    };
    let bad = |what: &str| {
        ApiError::with_message(
            400,
            codes::INVALID_CORS_REQUEST,
            format!("Invalid CORS preflight: {what}"),
        )
    };
    let method = req.header("access-control-request-method").unwrap_or_default();
    if !is_token(method) {
        return Err(bad("Access-Control-Request-Method is not a method"));
    }
    let requested = requested_headers(req).ok_or_else(|| {
        bad(&format!(
            "Access-Control-Request-Headers must be at most {MAX_REQUESTED_HEADERS} header names"
        ))
    })?;
    let mut resp = Response {
        status: 204,
        headers: Vec::new(),
        cookies: Vec::new(),
        body: Vec::new(),
    };
    allow(&mut resp, origin);
    resp.headers.extend([
        ("access-control-allow-methods".to_string(), ALLOW_METHODS.to_string()),
        ("access-control-max-age".to_string(), MAX_AGE_SECS.to_string()),
    ]);
    if !requested.is_empty() {
        resp.headers
            .push(("access-control-allow-headers".to_string(), requested.join(", ")));
    }
    Ok(resp)
}

/// Adds the CORS headers to an actual answer (any status): the allow headers for a trusted
/// origin, and `Vary: Origin` on every answer, since whether they are there depends on it.
pub fn decorate(resp: &mut Response, origin: Option<&str>) {
    if let Some(origin) = origin {
        if resp.header("access-control-allow-origin").is_none() {
            allow(resp, origin);
            resp.headers
                .push(("access-control-expose-headers".to_string(), EXPOSE_HEADERS.to_string()));
        }
    }
    add_vary_origin(resp);
}

fn allow(resp: &mut Response, origin: &str) {
    resp.headers.extend([
        ("access-control-allow-origin".to_string(), origin.to_string()),
        ("access-control-allow-credentials".to_string(), "true".to_string()),
    ]);
}

fn add_vary_origin(resp: &mut Response) {
    match resp.headers.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case("vary")) {
        Some((_, v)) if v.split(',').any(|p| p.trim().eq_ignore_ascii_case("origin")) => {}
        Some((_, v)) => v.push_str(", Origin"),
        None => resp.headers.push(("vary".to_string(), "Origin".to_string())),
    }
}

/// The names in `Access-Control-Request-Headers`, lower-cased; `None` when the list is too long
/// or holds something that is not a header name.
fn requested_headers(req: &Request) -> Option<Vec<String>> {
    let Some(raw) = req.header("access-control-request-headers") else {
        return Some(Vec::new());
    };
    if raw.len() > MAX_REQUESTED_HEADERS_LEN {
        return None;
    }
    let names: Vec<String> = raw
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    (names.len() <= MAX_REQUESTED_HEADERS && names.iter().all(|n| is_token(n))).then_some(names)
}

/// An HTTP token (method or header name): RFC 9110 `tchar`s, at least one.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted() -> TrustedOrigins {
        TrustedOrigins::new(
            "http://localhost:3000",
            &["http://localhost:5173".to_string(), "https://*.example.com".to_string()],
        )
    }

    fn preflight_from(origin: &str) -> Request {
        Request::new(Method::Options, "/api/auth/sign-in/email")
            .with_header("origin", origin)
            .with_header("access-control-request-method", "POST")
            .with_header("access-control-request-headers", "Content-Type, X-Custom")
    }

    #[test]
    fn only_bare_trusted_origins_are_allowed() {
        let t = trusted();
        let from = |o: &str| Request::get("/x").with_header("origin", o);
        assert_eq!(
            allowed_origin(&t, &from("http://localhost:5173")),
            Some("http://localhost:5173")
        );
        assert_eq!(
            allowed_origin(&t, &from("https://app.example.com")),
            Some("https://app.example.com")
        );
        for o in [
            "http://app.example.com",
            "https://example.com.evil.com",
            "http://localhost:5173/",
            "http://localhost:5173/path",
            "null",
            "",
            "HTTP://LOCALHOST:5173",
        ] {
            assert_eq!(allowed_origin(&t, &from(o)), None, "{o}");
        }
        assert_eq!(allowed_origin(&t, &Request::get("/x")), None);
    }

    /// `allowed_origin` as it was before the exact-match shortcut: always through the parser.
    fn parsed_answer<'r>(trusted: &TrustedOrigins, req: &'r Request) -> Option<&'r str> {
        let origin = req.header("origin")?;
        let parsed = url::Url::parse(origin).ok()?;
        let is_bare_origin =
            matches!(parsed.scheme(), "http" | "https") && parsed.origin().ascii_serialization() == origin;
        (is_bare_origin && trusted.is_trusted(origin)).then_some(origin)
    }

    #[test]
    fn the_exact_match_shortcut_answers_as_the_parser() {
        // Canonical, non-canonical (default port, upper case, trailing slash, path) and glob
        // patterns, and a custom scheme.
        let t = TrustedOrigins::new(
            "http://localhost:3000",
            &[
                "https://app.example.com:443".to_string(),
                "http://LOCAL.test".to_string(),
                "https://b.example.org/".to_string(),
                "https://c.example.org/path".to_string(),
                "https://*.example.net".to_string(),
                "myapp://callback".to_string(),
            ],
        );
        let origins = [
            "http://localhost:3000",
            "http://localhost:3000/",
            "http://localhost:03000",
            "http://LOCALHOST:3000",
            "https://app.example.com",
            "https://app.example.com:443",
            "http://local.test",
            "http://LOCAL.test",
            "https://b.example.org",
            "https://c.example.org",
            "https://x.example.net",
            "myapp://callback",
            "null",
            "",
        ];
        let mut shortcut = 0;
        for o in origins {
            let req = Request::get("/x").with_header("origin", o);
            assert_eq!(allowed_origin(&t, &req), parsed_answer(&t, &req), "{o}");
            shortcut += usize::from(t.is_exact_bare_origin(o));
        }
        // Only the canonical bare patterns take the shortcut: the base origin and the one
        // whose trailing slash was trimmed.
        assert_eq!(shortcut, 2);
    }

    #[test]
    fn preflight_for_a_trusted_origin() {
        let resp = preflight(&trusted(), &preflight_from("http://localhost:5173")).unwrap();
        assert_eq!(resp.status, 204);
        assert_eq!(
            resp.header("access-control-allow-origin"),
            Some("http://localhost:5173")
        );
        assert_eq!(resp.header("access-control-allow-credentials"), Some("true"));
        assert_eq!(resp.header("access-control-allow-methods"), Some(ALLOW_METHODS));
        assert_eq!(
            resp.header("access-control-allow-headers"),
            Some("content-type, x-custom")
        );
        assert_eq!(resp.header("access-control-max-age"), Some("600"));
        assert!(resp.body.is_empty());
    }

    #[test]
    fn preflight_refusals() {
        let t = trusted();
        let err = preflight(&t, &preflight_from("http://evil.com")).unwrap_err();
        assert_eq!((err.status, err.code.as_ref()), (403, codes::INVALID_ORIGIN.code));
        let err = preflight(&t, &preflight_from("null")).unwrap_err();
        assert_eq!(
            (err.status, err.code.as_ref()),
            (403, codes::MISSING_OR_NULL_ORIGIN.code)
        );
        let long = vec!["x-a"; MAX_REQUESTED_HEADERS + 1].join(",");
        let mut req = preflight_from("http://localhost:5173");
        req.headers.retain(|(k, _)| k != "access-control-request-headers");
        let err = preflight(&t, &req.clone().with_header("access-control-request-headers", &long)).unwrap_err();
        assert_eq!((err.status, err.code.as_ref()), (400, codes::INVALID_CORS_REQUEST.code));
        let err = preflight(&t, &req.clone().with_header("access-control-request-headers", "a b")).unwrap_err();
        assert_eq!(err.status, 400);
        req.headers.retain(|(k, _)| k != "access-control-request-method");
        let err = preflight(&t, &req.with_header("access-control-request-method", "PO ST")).unwrap_err();
        assert_eq!(err.status, 400);
    }

    #[test]
    fn decorate_adds_vary_always_and_allow_headers_for_trusted() {
        let mut resp = Response::json(&serde_json::json!({}));
        decorate(&mut resp, None);
        assert_eq!(resp.header("vary"), Some("Origin"));
        assert_eq!(resp.header("access-control-allow-origin"), None);
        let mut resp = Response::json(&serde_json::json!({})).with_header("vary", "Accept");
        decorate(&mut resp, Some("http://localhost:5173"));
        assert_eq!(resp.header("vary"), Some("Accept, Origin"));
        assert_eq!(
            resp.header("access-control-allow-origin"),
            Some("http://localhost:5173")
        );
        assert_eq!(resp.header("access-control-allow-credentials"), Some("true"));
        assert_eq!(resp.header("access-control-expose-headers"), Some(EXPOSE_HEADERS));
    }
}
