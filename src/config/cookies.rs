//! Secret, URL and cookies area: the key that signs cookies and tokens, the public URL (which
//! decides the base path and whether cookies are `Secure`), trusted origins, cookie names.

use super::var::{list, text, Default, Reader, Spec, Var};
use super::Secret;

pub const TITLE: &str = "Secret, URL and cookies";

pub const SECRET: Var<String> = Var::new(
    "BETTER_AUTH_SECRET",
    Default::Computed("random per process"),
    "HMAC key for cookies and tokens (32+ chars; shorter is refused on a non-loopback HOST, a published default unless BETTER_AUTH_URL is loopback). Unset: a random one, so sessions die with the process",
    text,
)
.secret();
pub const URL: Var<url::Url> = Var::new(
    "BETTER_AUTH_URL",
    Default::Computed("http://localhost:$PORT"),
    "Public base URL; https:// turns on Secure / __Secure- cookies. A path replaces SESAME_BASE_PATH",
    base_url,
);
pub const BASE_PATH: Var<String> = Var::new(
    "SESAME_BASE_PATH",
    Default::Value("/api/auth"),
    "Path prefix of every endpoint",
    base_path,
);
pub const TRUSTED_ORIGINS: Var<Vec<String>> = Var::new(
    "BETTER_AUTH_TRUSTED_ORIGINS",
    Default::None,
    "Extra trusted origins, comma separated; `*` and `?` wildcards",
    list,
);
pub const COOKIE_PREFIX: Var<String> = Var::new(
    "SESAME_COOKIE_PREFIX",
    Default::Value("better-auth"),
    "Cookie name prefix",
    text,
);

pub const VARIABLES: &[&Spec] = &[
    &SECRET.spec,
    &URL.spec,
    &BASE_PATH.spec,
    &TRUSTED_ORIGINS.spec,
    &COOKIE_PREFIX.spec,
];

/// Better Auth's built-in development secret.
pub const BETTER_AUTH_DEFAULT_SECRET: &str = "better-auth-secret-12345678901234567890";
/// [`super::Config::for_tests`]'s secret, published in this source.
pub const TEST_SECRET: &str = "sesame-test-secret-0123456789abcdef0123456789";
/// Secrets anyone can read (and so forge session cookies with): refused unless
/// `BETTER_AUTH_URL` is a loopback URL, loudly warned about there.
pub const PUBLISHED_SECRETS: &[&str] = &[BETTER_AUTH_DEFAULT_SECRET, TEST_SECRET];
/// Shorter secrets are refused on a non-loopback `HOST` or with an https `BETTER_AUTH_URL`.
pub const MIN_SECRET_CHARS: usize = 32;

/// Whether a URL host is this machine: `localhost`, `*.localhost`, or a loopback address.
fn is_loopback_host(host: Option<url::Host<&str>>) -> bool {
    match host {
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The secret rules (see [`PUBLISHED_SECRETS`], [`MIN_SECRET_CHARS`]); a random per-process
/// secret always passes. Problems never contain the secret.
fn check_secret(secret: &str, host: std::net::IpAddr, url_is_loopback: bool, https: bool) -> Result<(), String> {
    if PUBLISHED_SECRETS.contains(&secret) && !url_is_loopback {
        return Err("BETTER_AUTH_SECRET is a published default (Better Auth's or Sesame's test secret): anyone could forge session cookies with it. It is refused unless BETTER_AUTH_URL is a loopback URL; `sesame secret` prints a good one".to_string());
    }
    if secret.chars().count() < MIN_SECRET_CHARS && (!host.is_loopback() || https) {
        return Err(format!("BETTER_AUTH_SECRET is shorter than {MIN_SECRET_CHARS} characters, which is refused when HOST is not a loopback address or BETTER_AUTH_URL is https; `sesame secret` prints a good one"));
    }
    Ok(())
}

fn base_url(s: &str) -> Result<url::Url, String> {
    let u = url::Url::parse(s).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err("must be http:// or https://".to_string());
    }
    Ok(u)
}

fn base_path(s: &str) -> Result<String, String> {
    let p = s.trim_end_matches('/').to_string();
    if !p.is_empty() && !p.starts_with('/') {
        return Err("must start with /".to_string());
    }
    Ok(p)
}

pub struct Cookies {
    pub secret: Secret,
    pub secret_is_ephemeral: bool,
    pub base_origin: String,
    pub base_path: String,
    pub trusted_origins: Vec<String>,
    pub cookie_prefix: String,
}

/// `host` and `port` are where Sesame listens (the secret rules and the default URL use them).
pub fn read(r: &Reader, host: std::net::IpAddr, port: u16) -> Cookies {
    r.area(TITLE);
    let (secret, secret_is_ephemeral) = match r.opt(&SECRET) {
        Some(s) => (Secret::new(s), false),
        None => (Secret::new(crate::crypto::random_string(64)), true),
    };
    let url = r.opt(&URL).unwrap_or_else(|| {
        let fallback = format!("http://localhost:{port}");
        r.note_default(&URL, &fallback);
        url::Url::parse(&fallback).unwrap_or_else(|_| unreachable!("http://localhost:PORT is a URL"))
    });
    let base_origin = url.origin().ascii_serialization();
    // Better Auth: a base URL with a path uses that path as the base path.
    let url_path = url.path().trim_end_matches('/').to_string();
    let configured_path = r.get(&BASE_PATH);
    let base_path = if url_path.is_empty() { configured_path } else { url_path };
    let cookies = Cookies {
        secret,
        secret_is_ephemeral,
        base_origin,
        base_path,
        trusted_origins: r.opt(&TRUSTED_ORIGINS).unwrap_or_default(),
        cookie_prefix: r.get(&COOKIE_PREFIX),
    };
    // A reachable deployment must not run on a guessable key: anyone could forge session
    // cookies. A random per-process secret is safe (sessions just die on restart).
    if !cookies.secret_is_ephemeral {
        let https = cookies.base_origin.starts_with("https://");
        if let Err(problem) = check_secret(cookies.secret.expose(), host, is_loopback_host(url.host()), https) {
            r.problem(problem);
        }
    }
    cookies
}
