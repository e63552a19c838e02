//! Headers every HTTP answer gets on its way out of the pipeline ([`crate::App::handle_http`]):
//! `X-Content-Type-Options: nosniff` always, and `Cache-Control: no-store` on any answer that
//! carries a credential (a `Set-Cookie`, or a JSON body with a token or a session), so no
//! browser or shared cache keeps one. Deciding here, not per endpoint, covers endpoints added
//! later (plugins, OAuth) without anyone remembering to.

use serde_json::Value;

use super::Response;

/// JSON keys whose presence makes a body a credential.
const CREDENTIAL_KEYS: &[&str] = &["token", "session", "sessions", "accessToken", "refreshToken", "idToken"];

pub fn apply(resp: &mut Response) {
    if resp.header("x-content-type-options").is_none() {
        resp.headers
            .push(("x-content-type-options".to_string(), "nosniff".to_string()));
    }
    if resp.header("cache-control").is_none() && carries_credentials(resp) {
        resp.headers.push(("cache-control".to_string(), "no-store".to_string()));
    }
}

fn carries_credentials(resp: &Response) -> bool {
    if !resp.cookies.is_empty() {
        return true;
    }
    let is_json = resp
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json"));
    if !is_json {
        return false;
    }
    match resp.body_json() {
        Some(body) => has_credential(&body, 3),
        None => false,
    }
}

/// Whether a credential key appears within `depth` levels (objects and arrays of them).
fn has_credential(v: &Value, depth: u8) -> bool {
    if depth == 0 {
        return false;
    }
    match v {
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| (CREDENTIAL_KEYS.contains(&k.as_str()) && !v.is_null()) || has_credential(v, depth - 1)),
        Value::Array(a) => a.iter().any(|v| has_credential(v, depth - 1)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn applied(mut r: Response) -> Response {
        apply(&mut r);
        r
    }

    #[test]
    fn nosniff_always_no_store_on_credentials() {
        let r = applied(Response::json(&json!({"ok": true})));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("cache-control"), None);

        let r = applied(Response::json(&json!({"token": "abc", "user": {}})));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        let r = applied(Response::json(&json!({"session": {"token": "t"}, "user": {}})));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        let r = applied(Response::json(&json!([{"token": "t"}])));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        // sign-up with verification required answers token:null: nothing to protect
        let r = applied(Response::json(&json!({"token": null, "user": {}})));
        assert_eq!(r.header("cache-control"), None);

        let mut r = Response::json(&json!({"ok": true}));
        r.add_cookie(crate::http::cookies::SetCookie {
            name: "a".into(),
            value: "b".into(),
            max_age: None,
            secure: false,
            domain: None,
            same_site: crate::config::cookies::SameSite::Lax,
        });
        assert_eq!(applied(r).header("cache-control"), Some("no-store"));
    }

    #[test]
    fn an_existing_cache_control_is_kept() {
        let r = applied(Response::html(200, "x".into()).with_header("cache-control", "no-store, private"));
        assert_eq!(r.header("cache-control"), Some("no-store, private"));
        assert_eq!(r.headers.iter().filter(|(k, _)| k == "cache-control").count(), 1);
    }
}
