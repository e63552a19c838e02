//! Redirect targets of the GET links emails carry (`/verify-email`, `/reset-password/:token`,
//! `/delete-user/callback`): their own `callbackURL` check (spec §9.1, last paragraph) and the
//! two ways Better Auth adds a query parameter to a target.

use super::origin::TrustedOrigins;
use super::Request;
use crate::error::{codes, ApiError};

/// `403 INVALID_CALLBACK_URL` when `query.callbackURL` is set and neither a safe relative
/// path nor a trusted origin. GET routes skip the router-level URL check, so they call this.
pub fn check_query_callback(trusted: &TrustedOrigins, req: &Request) -> Result<(), ApiError> {
    match req.query_value("callbackURL") {
        Some(cb) if !cb.is_empty() && !trusted.is_allowed_redirect(cb) => {
            Err(ApiError::new(403, codes::INVALID_CALLBACK_URL))
        }
        _ => Ok(()),
    }
}

fn encode_pair(key: &str, value: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair(key, value)
        .finish()
}

/// Better Auth's `appendQueryParams`: adds `key=value` after any existing query and before
/// the fragment, keeping a root-relative target relative (`/done?x=1` → `/done?x=1&error=…`).
pub fn append_query(target: &str, key: &str, value: &str) -> String {
    let pair = encode_pair(key, value);
    if !target.starts_with('/') {
        if let Ok(mut u) = url::Url::parse(target) {
            let query = match u.query() {
                None | Some("") => pair,
                Some(q) if q.ends_with('&') => format!("{q}{pair}"),
                Some(q) => format!("{q}&{pair}"),
            };
            u.set_query(Some(&query));
            return u.to_string();
        }
    }
    let (head, fragment) = match target.split_once('#') {
        Some((h, f)) => (h, Some(f)),
        None => (target, None),
    };
    let mut out = head.to_string();
    match head.split_once('?') {
        None => out.push('?'),
        Some((_, "")) => {}
        Some((_, q)) if q.ends_with('&') => {}
        Some(_) => out.push('&'),
    }
    out.push_str(&pair);
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// `new URL(target, base)` with `searchParams.set(key, value)`: the absolute URL, the first
/// `key` pair replaced in place (others dropped) or the pair appended.
pub fn set_query_param(base: &str, target: &str, key: &str, value: &str) -> String {
    let Ok(mut u) = url::Url::parse(base).and_then(|b| b.join(target)) else {
        return append_query(target, key, value);
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut replaced = false;
    for (k, v) in u.query_pairs() {
        if k == key {
            if !replaced {
                pairs.push((k.into_owned(), value.to_string()));
                replaced = true;
            }
        } else {
            pairs.push((k.into_owned(), v.into_owned()));
        }
    }
    if !replaced {
        pairs.push((key.to_string(), value.to_string()));
    }
    u.query_pairs_mut().clear().extend_pairs(pairs);
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_keeps_relative_targets_relative() {
        assert_eq!(
            append_query("/done", "error", "INVALID_TOKEN"),
            "/done?error=INVALID_TOKEN"
        );
        assert_eq!(
            append_query("/done?x=1", "error", "INVALID_TOKEN"),
            "/done?x=1&error=INVALID_TOKEN"
        );
        assert_eq!(append_query("/done?x=1&", "error", "E"), "/done?x=1&error=E");
        assert_eq!(append_query("/done#top", "error", "E"), "/done?error=E#top");
        assert_eq!(
            append_query("http://localhost:3000/cb?a=b", "error", "TOKEN_EXPIRED"),
            "http://localhost:3000/cb?a=b&error=TOKEN_EXPIRED"
        );
        assert_eq!(
            append_query("http://localhost:3000", "error", "E"),
            "http://localhost:3000/?error=E"
        );
    }

    #[test]
    fn set_resolves_against_the_base_and_replaces() {
        let base = "http://localhost:3000/api/auth";
        assert_eq!(
            set_query_param(base, "/reset", "token", "abc"),
            "http://localhost:3000/reset?token=abc"
        );
        assert_eq!(
            set_query_param(
                base,
                "http://localhost:3000/reset?token=old&x=1&token=2",
                "token",
                "abc"
            ),
            "http://localhost:3000/reset?token=abc&x=1"
        );
        assert_eq!(
            set_query_param(base, "http://localhost:3000/api/auth/error", "error", "INVALID_TOKEN"),
            "http://localhost:3000/api/auth/error?error=INVALID_TOKEN"
        );
    }

    #[test]
    fn query_callback_check() {
        let t = TrustedOrigins::new("http://localhost:3000", &[]);
        let req = |q: &str| Request::get(&format!("/x?{q}"));
        assert!(check_query_callback(&t, &req("callbackURL=%2Fok")).is_ok());
        assert!(check_query_callback(&t, &req("callbackURL=")).is_ok());
        assert!(check_query_callback(&t, &req("token=a")).is_ok());
        for bad in ["https%3A%2F%2Fevil.com", "%2F%2Fevil.com", "javascript%3Aalert(1)"] {
            let e = check_query_callback(&t, &req(&format!("callbackURL={bad}"))).unwrap_err();
            assert_eq!((e.status, e.code.as_ref()), (403, "INVALID_CALLBACK_URL"), "{bad}");
        }
    }
}
