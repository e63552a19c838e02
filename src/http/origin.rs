//! Trusted origins, the CSRF (Origin/Referer) check and callback-URL validation
//! (spec §9.1–9.2). Pure functions over the configuration and request headers, so each rule
//! is unit-tested here and the pipeline only decides when to call them.

use serde_json::Value;

use super::js::truthy;
use super::Request;
use crate::error::{codes, ApiError, ErrorCode};

/// The origins requests and redirect targets may come from: the base URL's origin plus
/// `BETTER_AUTH_TRUSTED_ORIGINS` patterns.
#[derive(Debug, Clone)]
pub struct TrustedOrigins {
    patterns: Vec<String>,
    /// The patterns that are bare `http(s)://host[:port]` origins written as the URL parser
    /// writes them: an `Origin` header equal to one of them is trusted without parsing it
    /// (CORS looks at every request's `Origin`, and parsing it twice cost a tenth of `/ok`).
    bare: Vec<String>,
}

impl TrustedOrigins {
    pub fn new(base_origin: &str, extra: &[String]) -> TrustedOrigins {
        let mut patterns = vec![base_origin.to_string()];
        patterns.extend(extra.iter().map(|p| p.trim_end_matches('/').to_string()));
        let bare = patterns
            .iter()
            .filter(|p| !p.contains('*') && !p.contains('?') && origin_of(p).as_deref() == Some(p.as_str()))
            .cloned()
            .collect();
        TrustedOrigins { patterns, bare }
    }

    /// Whether `origin` is, byte for byte, one of the trusted bare origins. Such an origin is
    /// one [`TrustedOrigins::is_trusted`] accepts and that is its own serialisation, so `true`
    /// answers both questions the parser would; `false` says nothing.
    pub fn is_exact_bare_origin(&self, origin: &str) -> bool {
        self.bare.iter().any(|b| b == origin)
    }

    /// Whether an absolute URL (or a bare origin) is trusted.
    pub fn is_trusted(&self, url: &str) -> bool {
        self.patterns.iter().any(|p| matches_pattern(url, p))
    }

    /// Checks a redirect target: empty and safe relative paths pass, absolute URLs must be
    /// trusted.
    pub fn is_allowed_redirect(&self, url: &str) -> bool {
        if url.is_empty() {
            return true;
        }
        // The URL parser silently drops tabs and newlines, so `https://trusted/\r\nSet-Cookie:…`
        // would pass as trusted and then split the response in a `Location` header.
        if url.chars().any(char::is_control) {
            return false;
        }
        if url.starts_with('/') {
            return is_safe_relative(url);
        }
        self.is_trusted(url)
    }
}

fn origin_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    match parsed.scheme() {
        "http" | "https" => Some(parsed.origin().ascii_serialization()),
        _ => None,
    }
}

fn matches_pattern(url: &str, pattern: &str) -> bool {
    if pattern.contains('*') || pattern.contains('?') {
        let Ok(parsed) = url::Url::parse(url) else { return false };
        if pattern.contains("://") {
            let origin = match parsed.scheme() {
                "http" | "https" => parsed.origin().ascii_serialization(),
                scheme => format!("{scheme}://{}", parsed.host_str().unwrap_or_default()),
            };
            return glob(pattern.as_bytes(), origin.as_bytes());
        }
        return parsed
            .host_str()
            .is_some_and(|h| glob(pattern.as_bytes(), h.as_bytes()));
    }
    match origin_of(url) {
        Some(origin) => origin == pattern,
        // Custom schemes (`myapp://`): the URL must start with the pattern.
        None => !pattern.is_empty() && url::Url::parse(url).is_ok() && url.starts_with(pattern),
    }
}

/// `*` matches any run of characters except `/`; `?` one character except `/`.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => {
            let mut i = 0;
            loop {
                if glob(rest, &text[i..]) {
                    return true;
                }
                match text.get(i) {
                    Some(b'/') | None => return false,
                    Some(_) => i += 1,
                }
            }
        }
        Some((b'?', rest)) => matches!(text.first(), Some(c) if *c != b'/') && glob(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && glob(rest, &text[1..]),
    }
}

/// Better Auth 1.7.25's `isSafeRelativeURL` (the reference server; the spec's stricter regex is
/// 1.7.1's): root-relative, not `//`, no backslash or control character anywhere, no encoded
/// `/` or `\` in the path, and resolving it against a placeholder origin keeps that origin.
pub fn is_safe_relative(url: &str) -> bool {
    let control = |c: char| matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}');
    if !url.starts_with('/') || url.starts_with("//") || url.contains('\\') || url.chars().any(control) {
        return false;
    }
    let path = url.split(['?', '#']).next().unwrap_or_default().to_ascii_lowercase();
    if path.contains("%2f") || path.contains("%5c") {
        return false;
    }
    const PLACEHOLDER: &str = "https://better-auth.invalid";
    url::Url::parse(PLACEHOLDER)
        .and_then(|base| base.join(url))
        .is_ok_and(|u| u.origin().ascii_serialization() == PLACEHOLDER)
}

/// The router-level Origin check for a state-changing request that carries cookies.
pub fn check_request_origin(trusted: &TrustedOrigins, req: &Request) -> Result<(), ApiError> {
    let origin = req.header("origin").filter(|o| !o.is_empty());
    // A browser that sends `Origin: null` but `Sec-Fetch-Site: same-origin` is on this server's
    // own origin; Better Auth then checks the origin the request was addressed to.
    let inferred = (origin == Some("null") && req.header("sec-fetch-site") == Some("same-origin"))
        .then(|| addressed_origin(trusted, req))
        .flatten();
    let source = inferred.or_else(|| origin.or_else(|| req.header("referer")).map(str::to_string));
    match source.as_deref() {
        None | Some("null") | Some("") => Err(ApiError::new(403, codes::MISSING_OR_NULL_ORIGIN)),
        Some(o) if trusted.is_trusted(o) => Ok(()),
        Some(_) => Err(ApiError::new(403, codes::INVALID_ORIGIN)),
    }
}

/// The origin a request was sent to: the `Host` header, with the public URL's scheme (a proxy
/// in front may have terminated TLS).
fn addressed_origin(trusted: &TrustedOrigins, req: &Request) -> Option<String> {
    let host = req.header("host").filter(|h| !h.is_empty())?;
    let scheme = trusted.patterns.first()?.split_once("://")?.0;
    Some(format!("{scheme}://{host}"))
}

/// The URL fields checked before validation, with the code each failure gets.
const URL_FIELDS: &[(&str, &str, ErrorCode)] = &[
    ("callbackURL", "callbackURL", codes::INVALID_CALLBACK_URL),
    ("redirectTo", "redirectURL", codes::INVALID_REDIRECT_URL),
    (
        "errorCallbackURL",
        "errorCallbackURL",
        codes::INVALID_ERROR_CALLBACK_URL,
    ),
    (
        "newUserCallbackURL",
        "newUserCallbackURL",
        codes::INVALID_NEW_USER_CALLBACK_URL,
    ),
];

/// Checks the redirect-URL fields of a raw body (and `query.callbackURL`).
pub fn check_url_fields(trusted: &TrustedOrigins, body: Option<&Value>, req: &Request) -> Result<(), ApiError> {
    for (field, label, code) in URL_FIELDS {
        let mut value = body.and_then(|b| b.get(*field)).filter(|v| truthy(v)).cloned();
        if value.is_none() && *field == "callbackURL" {
            value = req
                .query_value("callbackURL")
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_string()));
        }
        match value {
            None => {}
            Some(Value::String(s)) if trusted.is_allowed_redirect(&s) => {}
            Some(Value::String(_)) => return Err(ApiError::new(403, *code)),
            Some(_) => {
                return Err(ApiError::with_message(
                    400,
                    codes::INVALID_URL_FIELD,
                    format!("Invalid {label}: expected a string"),
                ));
            }
        }
    }
    Ok(())
}

/// The extra Fetch-Metadata CSRF rules of sign-in and sign-up (spec §9.1, form-CSRF).
pub fn check_login_csrf(trusted: &TrustedOrigins, req: &Request) -> Result<(), ApiError> {
    if req.header("cookie").is_some() {
        return check_request_origin(trusted, req);
    }
    let site = req.header("sec-fetch-site");
    let mode = req.header("sec-fetch-mode");
    let present = |v: Option<&str>| v.is_some_and(|v| !v.trim().is_empty());
    let has_metadata = present(site) || present(mode) || present(req.header("sec-fetch-dest"));
    if has_metadata {
        if site == Some("cross-site") && mode == Some("navigate") {
            return Err(ApiError::new(403, codes::CROSS_SITE_NAVIGATION_LOGIN_BLOCKED));
        }
        return check_request_origin(trusted, req);
    }
    if req.header("origin").is_some() || req.header("referer").is_some() {
        return check_request_origin(trusted, req);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted() -> TrustedOrigins {
        TrustedOrigins::new(
            "http://localhost:3000",
            &[
                "https://*.example.com".into(),
                "app.test".into(),
                "myapp://".into(),
                "*.wild.io".into(),
            ],
        )
    }

    #[test]
    fn exact_and_wildcard_origins() {
        let t = trusted();
        assert!(t.is_trusted("http://localhost:3000/x"));
        assert!(!t.is_trusted("http://localhost:3001"));
        assert!(!t.is_trusted("https://localhost:3000"));
        // Web origins compare whole: a trusted origin is no prefix of another host or port.
        assert!(!t.is_trusted("http://localhost:3000.evil.io/x"));
        assert!(!t.is_trusted("http://localhost:30001"));
        assert!(!t.is_trusted("http://localhost:3000@evil.io"));
        assert!(t.is_trusted("https://a.example.com/cb"));
        assert!(t.is_trusted("https://a.b.example.com"));
        assert!(!t.is_trusted("http://a.example.com"));
        assert!(!t.is_trusted("https://example.com.evil.io"));
        assert!(t.is_trusted("https://x.wild.io"));
        assert!(t.is_trusted("myapp://callback"));
        assert!(!t.is_trusted("evil://x"));
    }

    #[test]
    fn relative_rule() {
        for ok in [
            "/",
            "/dashboard",
            "/a/b?x=1&y=%20",
            "/@me",
            "/a.b-c+d",
            "/a b",
            "/a#frag",
            "/a%20b",
            "/a?next=%2Fx",
        ] {
            assert!(is_safe_relative(ok), "{ok}");
        }
        for bad in [
            "//evil.com",
            "/\\evil.com",
            "/a\\b",
            "/%2fevil.com",
            "/%5Cevil",
            "/a/%2Fb",
            "/a\tb",
            "dash",
            "",
        ] {
            assert!(!is_safe_relative(bad), "{bad}");
        }
    }

    #[test]
    fn url_fields() {
        let t = trusted();
        let req = Request::post("/x");
        let body = serde_json::json!({"callbackURL": "https://evil.com"});
        assert_eq!(
            check_url_fields(&t, Some(&body), &req).unwrap_err().code,
            "INVALID_CALLBACK_URL"
        );
        let body = serde_json::json!({"redirectTo": "//evil.com"});
        assert_eq!(
            check_url_fields(&t, Some(&body), &req).unwrap_err().code,
            "INVALID_REDIRECT_URL"
        );
        let body = serde_json::json!({"callbackURL": 5});
        let e = check_url_fields(&t, Some(&body), &req).unwrap_err();
        assert_eq!(
            (e.status, e.message.as_ref()),
            (400, "Invalid callbackURL: expected a string")
        );
        let body = serde_json::json!({"callbackURL": "", "errorCallbackURL": "/err"});
        assert!(check_url_fields(&t, Some(&body), &req).is_ok());
        for bad in [
            "http://localhost:3000/\r\nSet-Cookie: x=1",
            "http://localhost:3000/\tx",
            "/a\u{0}",
        ] {
            assert!(!t.is_allowed_redirect(bad), "{bad:?}");
        }
    }

    #[test]
    fn origin_and_login_csrf() {
        let t = trusted();
        let req = Request::post("/x").with_header("cookie", "a=b");
        assert_eq!(
            check_request_origin(&t, &req).unwrap_err().code,
            "MISSING_OR_NULL_ORIGIN"
        );
        let req = req.with_header("origin", "http://evil.com");
        assert_eq!(check_request_origin(&t, &req).unwrap_err().code, "INVALID_ORIGIN");
        let req = Request::post("/x").with_header("referer", "http://localhost:3000/page");
        assert!(check_request_origin(&t, &req).is_ok());

        assert!(check_login_csrf(&t, &Request::post("/x")).is_ok());
        let req = Request::post("/x")
            .with_header("sec-fetch-site", "cross-site")
            .with_header("sec-fetch-mode", "navigate");
        assert_eq!(
            check_login_csrf(&t, &req).unwrap_err().code,
            "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED"
        );
        let req = Request::post("/x").with_header("sec-fetch-site", "same-origin");
        assert_eq!(check_login_csrf(&t, &req).unwrap_err().code, "MISSING_OR_NULL_ORIGIN");
        let req = Request::post("/x").with_header("origin", "http://evil.com");
        assert_eq!(check_login_csrf(&t, &req).unwrap_err().code, "INVALID_ORIGIN");
    }

    fn post() -> Request {
        Request::post("/x")
    }

    fn code(r: Result<(), ApiError>) -> String {
        r.err().map_or("ok".into(), |e| e.code.into_owned())
    }

    #[test]
    fn a_null_origin_from_the_same_origin_is_checked_against_the_host() {
        let t = trusted();
        let same = |host: &str| {
            post()
                .with_header("cookie", "a=b")
                .with_header("origin", "null")
                .with_header("sec-fetch-site", "same-origin")
                .with_header("host", host)
        };
        assert_eq!(code(check_request_origin(&t, &same("localhost:3000"))), "ok");
        assert_eq!(code(check_request_origin(&t, &same("evil.com"))), "INVALID_ORIGIN");
        // Both conditions are needed: a real origin is never replaced by the Host, and a null
        // origin from another site stays null.
        let untrusted = post()
            .with_header("origin", "http://evil.com")
            .with_header("sec-fetch-site", "same-origin")
            .with_header("host", "localhost:3000");
        assert_eq!(code(check_request_origin(&t, &untrusted)), "INVALID_ORIGIN");
        let cross = post()
            .with_header("origin", "null")
            .with_header("sec-fetch-site", "cross-site")
            .with_header("host", "localhost:3000");
        assert_eq!(code(check_request_origin(&t, &cross)), "MISSING_OR_NULL_ORIGIN");
        // The scheme is the public URL's, not the request's: `https://localhost:3000` is not
        // trusted, so a host checked under another scheme would fail here.
        let https = TrustedOrigins::new("https://auth.test", &[]);
        assert_eq!(code(check_request_origin(&https, &same("auth.test"))), "ok");
        // Without a Host there is nothing to infer: the null origin stands.
        assert_eq!(code(check_request_origin(&t, &same(""))), "MISSING_OR_NULL_ORIGIN");
        let no_host = post()
            .with_header("origin", "null")
            .with_header("sec-fetch-site", "same-origin");
        assert_eq!(code(check_request_origin(&t, &no_host)), "MISSING_OR_NULL_ORIGIN");
        // A base URL without a scheme separator cannot name the scheme either.
        let schemeless = TrustedOrigins::new("localhost:3000", &[]);
        assert_eq!(
            code(check_request_origin(&schemeless, &same("localhost:3000"))),
            "MISSING_OR_NULL_ORIGIN"
        );
    }

    #[test]
    fn the_query_callback_url_is_checked_when_the_body_has_none() {
        let t = trusted();
        let evil = Request::post("/x?callbackURL=https%3A%2F%2Fevil.com");
        assert_eq!(code(check_url_fields(&t, None, &evil)), "INVALID_CALLBACK_URL");
        let body = serde_json::json!({"redirectTo": "/ok"});
        assert_eq!(code(check_url_fields(&t, Some(&body), &evil)), "INVALID_CALLBACK_URL");
        // A body callbackURL takes precedence over the query's.
        let body = serde_json::json!({"callbackURL": "/dashboard"});
        assert_eq!(code(check_url_fields(&t, Some(&body), &evil)), "ok");
        let empty = Request::post("/x?callbackURL=");
        assert_eq!(code(check_url_fields(&t, None, &empty)), "ok");
        let trusted_query = Request::post("/x?callbackURL=%2Fdashboard");
        assert_eq!(code(check_url_fields(&t, None, &trusted_query)), "ok");
        // Only `callbackURL` is read from the query.
        let other = Request::post("/x?redirectTo=https%3A%2F%2Fevil.com");
        assert_eq!(code(check_url_fields(&t, None, &other)), "ok");
    }

    #[test]
    fn each_url_field_fails_with_its_own_code() {
        let t = trusted();
        for (field, expected) in [
            ("callbackURL", "INVALID_CALLBACK_URL"),
            ("redirectTo", "INVALID_REDIRECT_URL"),
            ("errorCallbackURL", "INVALID_ERROR_CALLBACK_URL"),
            ("newUserCallbackURL", "INVALID_NEW_USER_CALLBACK_URL"),
        ] {
            let body = serde_json::json!({ field: "https://evil.com" });
            assert_eq!(code(check_url_fields(&t, Some(&body), &post())), expected, "{field}");
            let body = serde_json::json!({ field: "https://a.example.com/cb" });
            assert_eq!(code(check_url_fields(&t, Some(&body), &post())), "ok", "{field}");
        }
        // Falsy values count as absent, as in Better Auth.
        for falsy in [serde_json::json!(false), serde_json::json!(0), serde_json::json!(null)] {
            let body = serde_json::json!({ "redirectTo": falsy });
            assert_eq!(code(check_url_fields(&t, Some(&body), &post())), "ok", "{falsy}");
        }
        let body = serde_json::json!({"redirectTo": true});
        let e = check_url_fields(&t, Some(&body), &post()).unwrap_err();
        assert_eq!(
            (e.status, e.code.as_ref(), e.message.as_ref()),
            (400, "INVALID_URL_FIELD", "Invalid redirectURL: expected a string")
        );
    }

    #[test]
    fn login_csrf_checks_the_origin_once_any_fetch_metadata_or_origin_is_sent() {
        let t = trusted();
        // Any one Fetch-Metadata header makes it a browser request, which needs an origin.
        for header in ["sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest"] {
            let req = post().with_header(header, "cors");
            assert_eq!(code(check_login_csrf(&t, &req)), "MISSING_OR_NULL_ORIGIN", "{header}");
            let req = req.with_header("origin", "http://localhost:3000");
            assert_eq!(code(check_login_csrf(&t, &req)), "ok", "{header}");
        }
        // Blank metadata is no metadata: a plain server-to-server call passes.
        let blank = post()
            .with_header("sec-fetch-site", " ")
            .with_header("sec-fetch-mode", "");
        assert_eq!(code(check_login_csrf(&t, &blank)), "ok");
        // Only a cross-site navigation is blocked outright; other cross-site or navigating
        // requests go through the origin check.
        let cors = post()
            .with_header("sec-fetch-site", "cross-site")
            .with_header("sec-fetch-mode", "cors")
            .with_header("origin", "http://localhost:3000");
        assert_eq!(code(check_login_csrf(&t, &cors)), "ok");
        let same_site_nav = post()
            .with_header("sec-fetch-site", "same-site")
            .with_header("sec-fetch-mode", "navigate")
            .with_header("origin", "http://localhost:3000");
        assert_eq!(code(check_login_csrf(&t, &same_site_nav)), "ok");
        // Without metadata, a Referer alone is checked too.
        let referer = post().with_header("referer", "http://evil.com/page");
        assert_eq!(code(check_login_csrf(&t, &referer)), "INVALID_ORIGIN");
        // A request with cookies always needs a trusted origin.
        let cookie = post().with_header("cookie", "a=b");
        assert_eq!(code(check_login_csrf(&t, &cookie)), "MISSING_OR_NULL_ORIGIN");
    }

    #[test]
    fn a_question_mark_matches_exactly_one_character_but_not_a_slash() {
        let t = TrustedOrigins::new("http://localhost:3000", &["?.q.io".into(), "https://a?c.test".into()]);
        assert!(t.is_trusted("https://a.q.io"));
        assert!(!t.is_trusted("https://ab.q.io"));
        assert!(!t.is_trusted("https://.q.io"));
        assert!(t.is_trusted("https://abc.test"));
        assert!(!t.is_trusted("https://ac.test"));
        assert!(!t.is_trusted("https://abbc.test"));
        assert!(glob(b"a?c", b"abc"));
        assert!(!glob(b"a?c", b"a/c"));
        assert!(!glob(b"a?", b"a"));
    }
}
