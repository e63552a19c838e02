//! Cookies: parsing the `Cookie` header, Better Auth's signed-value format, and [`SetCookie`],
//! the typed cookie a response carries until it is rendered as a `Set-Cookie` line at the edge
//! (the server, or the in-process API's headers), with Better Auth's default attributes.
//!
//! A signed value is `encodeURIComponent(value + "." + base64(HMAC-SHA256(secret, value)))`.
//! On read the signature must be exactly 44 characters ending in `=`, and is compared in
//! constant time; anything else is treated as no cookie.

use super::js::encode_uri_component;
use crate::config::cookies::SameSite;
use crate::config::Config;
use crate::crypto;

/// One cookie to set (or delete) on the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie {
    /// The full name, e.g. `better-auth.session_token`.
    pub name: String,
    /// Already encoded for the header (signed values are percent-encoded).
    pub value: String,
    /// `None` makes a browser-session cookie; `Some(0)` deletes the cookie.
    pub max_age: Option<i64>,
    pub secure: bool,
    /// The `Domain` attribute (`SESAME_COOKIE_DOMAIN`); `None`: a host-only cookie.
    pub domain: Option<String>,
    pub same_site: SameSite,
}

impl SetCookie {
    /// Whether this deletes the cookie (`Max-Age=0`).
    pub fn is_deletion(&self) -> bool {
        self.max_age == Some(0)
    }

    /// The `Set-Cookie` line: Better Auth's attributes, `Path=/; HttpOnly; SameSite=Lax`,
    /// `Secure` on an https base URL, and the configured `Domain` and `SameSite`.
    pub fn render(&self) -> String {
        let mut s = format!("{}={}", self.name, self.value);
        if let Some(age) = self.max_age {
            s.push_str(&format!("; Max-Age={}", age.max(0)));
        }
        if let Some(domain) = &self.domain {
            s.push_str(&format!("; Domain={domain}"));
        }
        s.push_str("; Path=/; HttpOnly");
        if self.secure {
            s.push_str("; Secure");
        }
        s.push_str("; SameSite=");
        s.push_str(self.same_site.as_str());
        s
    }
}

/// The value of the first cookie called `name` in a `Cookie` header: surrounding quotes
/// stripped, percent-decoded when it contains `%` (kept as-is if decoding fails).
pub fn get(header: &str, name: &str) -> Option<String> {
    get_by(header, |k| k == name)
}

/// [`get`] for the first cookie whose name `is_name` accepts.
fn get_by(header: &str, is_name: impl Fn(&str) -> bool) -> Option<String> {
    for part in header.split(';') {
        let Some((k, v)) = part.split_once('=') else { continue };
        if !is_name(k.trim()) {
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
    domain: Option<String>,
    same_site: SameSite,
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
            // Browsers drop `SameSite=None` cookies that are not `Secure`.
            secure: config.secure_cookies() || config.cookie_same_site == SameSite::None,
            domain: config.cookie_domain.clone(),
            same_site: config.cookie_same_site,
        }
    }

    /// The full name of a cookie, e.g. `better-auth.session_token`.
    pub fn name(&self, short: &str) -> String {
        format!("{}.{}", self.prefix, short)
    }

    /// A cookie with this (already encoded) value; `max_age: None` makes a browser-session
    /// cookie.
    pub fn cookie(&self, short: &str, value: &str, max_age: Option<i64>) -> SetCookie {
        SetCookie {
            name: self.name(short),
            value: value.to_string(),
            max_age,
            secure: self.secure,
            domain: self.domain.clone(),
            same_site: self.same_site,
        }
    }

    /// A cookie holding a signed value.
    pub fn signed(&self, secret: &str, short: &str, value: &str, max_age: Option<i64>) -> SetCookie {
        self.cookie(short, &encode_uri_component(&sign(secret, value)), max_age)
    }

    /// The deletion of a cookie.
    pub fn expire(&self, short: &str) -> SetCookie {
        self.cookie(short, "", Some(0))
    }

    /// Reads and verifies a signed cookie from a `Cookie` header.
    pub fn read_signed(&self, secret: &str, header: Option<&str>, short: &str) -> Option<String> {
        // Compared piecewise: formatting the full name cost an allocation per cookie read.
        let is_name = |k: &str| k.strip_prefix(self.prefix.as_str()).and_then(|r| r.strip_prefix('.')) == Some(short);
        let raw = get_by(header?, is_name)?;
        verify(secret, &raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn names_lists_every_cookie_in_order() {
        let found: Vec<&str> = names("a=1; b = 2;c=; junk; a=3").collect();
        assert_eq!(found, ["a", "b", "c", "a"]);
        assert_eq!(names("").count(), 0);
    }

    #[test]
    fn read_signed_reads_the_jars_cookie_and_checks_its_signature() {
        let jar = CookieJar::new(&Config::for_tests());
        let set = jar.signed("s3cret", "session_token", "tok", None);
        let header = format!("other=1; {}={}", set.name, set.value);
        assert_eq!(
            jar.read_signed("s3cret", Some(&header), "session_token").as_deref(),
            Some("tok")
        );
        assert_eq!(jar.read_signed("other", Some(&header), "session_token"), None);
        assert_eq!(jar.read_signed("s3cret", Some(&header), "dont_remember"), None);
        assert_eq!(jar.read_signed("s3cret", None, "session_token"), None);
        let unsigned = format!("{}=tok", set.name);
        assert_eq!(jar.read_signed("s3cret", Some(&unsigned), "session_token"), None);
        // Only the exact name: near misses carrying a correctly signed value are not it.
        for near in [
            format!("{}x", set.name),
            format!("x{}", set.name),
            set.name.replacen('.', "_", 1),
            "session_token".to_string(),
            format!("{}.session_token", set.name),
        ] {
            let header = format!("{near}={}", set.value);
            assert_eq!(
                jar.read_signed("s3cret", Some(&header), "session_token"),
                None,
                "{near}"
            );
        }
    }

    #[test]
    fn render_attributes() {
        let config = Config::for_tests();
        let jar = CookieJar::new(&config);
        assert_eq!(
            jar.cookie("session_token", "v", Some(604800)).render(),
            "better-auth.session_token=v; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax"
        );
        let deletion = jar.expire("dont_remember");
        assert!(deletion.is_deletion());
        assert_eq!(
            deletion.render(),
            "better-auth.dont_remember=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"
        );
        assert!(!jar.cookie("state", "x", None).is_deletion());
    }
}
