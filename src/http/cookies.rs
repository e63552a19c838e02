//! Cookies: parsing the `Cookie` header, Better Auth's signed-value format, and rendering
//! `Set-Cookie` with the default attributes (spec §4.2–4.3).
//!
//! A signed value is `encodeURIComponent(value + "." + base64(HMAC-SHA256(secret, value)))`.
//! On read the signature must be exactly 44 characters ending in `=`, and is compared in
//! constant time; anything else is treated as no cookie.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::config::Config;
use crate::crypto;

/// The characters JavaScript's `encodeURIComponent` leaves alone.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

pub fn encode_uri_component(s: &str) -> String {
    utf8_percent_encode(s, URI_COMPONENT).to_string()
}

/// The value of the first cookie called `name` in a `Cookie` header: surrounding quotes
/// stripped, percent-decoded when it contains `%` (kept as-is if decoding fails).
pub fn get(header: &str, name: &str) -> Option<String> {
    for part in header.split(';') {
        let Some((k, v)) = part.split_once('=') else { continue };
        if k.trim() != name {
            continue;
        }
        let v = v.trim();
        let v = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(v);
        if v.contains('%') {
            return Some(
                percent_encoding::percent_decode_str(v)
                    .decode_utf8()
                    .map(|c| c.into_owned())
                    .unwrap_or_else(|_| v.to_string()),
            );
        }
        return Some(v.to_string());
    }
    None
}

/// The names of every cookie in a `Cookie` header, in order.
pub fn names(header: &str) -> impl Iterator<Item = &str> {
    header
        .split(';')
        .filter_map(|part| part.split_once('=').map(|(k, _)| k.trim()))
}

/// `value.signature` for a cookie, not yet percent-encoded.
pub fn sign(secret: &str, value: &str) -> String {
    format!("{value}.{}", crypto::hmac_base64(secret, value))
}

/// Checks a decoded `value.signature` and returns the value when the signature is right.
pub fn verify(secret: &str, signed: &str) -> Option<String> {
    let dot = signed.rfind('.')?;
    if dot == 0 {
        return None;
    }
    let (value, sig) = (&signed[..dot], &signed[dot + 1..]);
    if sig.len() != 44 || !sig.ends_with('=') {
        return None;
    }
    let expected = crypto::hmac_base64(secret, value);
    if crypto::constant_time_eq(expected.as_bytes(), sig.as_bytes()) {
        Some(value.to_string())
    } else {
        None
    }
}

/// Names and attributes of Sesame's cookies, derived from the configuration.
#[derive(Debug, Clone)]
pub struct CookieJar {
    prefix: String,
    secure: bool,
}

impl CookieJar {
    pub fn new(config: &Config) -> CookieJar {
        let prefix = if config.secure_cookies() {
            format!("__Secure-{}", config.cookie_prefix)
        } else {
            config.cookie_prefix.clone()
        };
        CookieJar {
            prefix,
            secure: config.secure_cookies(),
        }
    }

    /// The full name of a cookie, e.g. `better-auth.session_token`.
    pub fn name(&self, short: &str) -> String {
        format!("{}.{}", self.prefix, short)
    }

    /// `Set-Cookie` for a value; `max_age: None` makes a browser-session cookie.
    pub fn render(&self, short: &str, value: &str, max_age: Option<i64>) -> String {
        let mut s = format!("{}={}", self.name(short), value);
        if let Some(age) = max_age {
            s.push_str(&format!("; Max-Age={}", age.max(0)));
        }
        s.push_str("; Path=/; HttpOnly");
        if self.secure {
            s.push_str("; Secure");
        }
        s.push_str("; SameSite=Lax");
        s
    }

    /// `Set-Cookie` for a signed value.
    pub fn render_signed(&self, secret: &str, short: &str, value: &str, max_age: Option<i64>) -> String {
        self.render(short, &encode_uri_component(&sign(secret, value)), max_age)
    }

    /// `Set-Cookie` that deletes a cookie.
    pub fn expire(&self, short: &str) -> String {
        self.render(short, "", Some(0))
    }

    /// Reads and verifies a signed cookie from a `Cookie` header.
    pub fn read_signed(&self, secret: &str, header: Option<&str>, short: &str) -> Option<String> {
        let raw = get(header?, &self.name(short))?;
        verify(secret, &raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_uri_component_matches_js() {
        assert_eq!(encode_uri_component("a+b/c=d.e"), "a%2Bb%2Fc%3Dd.e");
        assert_eq!(encode_uri_component("héllo wörld"), "h%C3%A9llo%20w%C3%B6rld");
    }

    #[test]
    fn sign_and_verify_round_trip() {
        let signed = sign("s3cret", "tok");
        assert_eq!(verify("s3cret", &signed), Some("tok".to_string()));
        assert_eq!(verify("other", &signed), None);
        assert_eq!(verify("s3cret", "tok"), None);
        assert_eq!(verify("s3cret", ".abc"), None);
        assert_eq!(verify("s3cret", "tok.short="), None);
    }

    #[test]
    fn get_first_occurrence_quotes_and_percent() {
        let h = "a=1; b=\"x%2By\"; a=2; c=%E0%A4%A";
        assert_eq!(get(h, "a").as_deref(), Some("1"));
        assert_eq!(get(h, "b").as_deref(), Some("x+y"));
        assert_eq!(get(h, "c").as_deref(), Some("%E0%A4%A"));
        assert_eq!(get(h, "d"), None);
    }

    #[test]
    fn render_attributes() {
        let config = Config::for_tests();
        let jar = CookieJar::new(&config);
        assert_eq!(
            jar.render("session_token", "v", Some(604800)),
            "better-auth.session_token=v; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax"
        );
        assert_eq!(
            jar.expire("dont_remember"),
            "better-auth.dont_remember=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"
        );
    }
}
