//! Secret, URL and cookies area: the key that signs cookies and tokens, the public URL (which
//! decides the base path and whether cookies are `Secure`), trusted origins, cookie names.

use super::var::{boolean, list, text, Default, Reader, Spec, Var};
use super::Secret;

pub const TITLE: &str = "Secret, URL and cookies";

pub const SECRET: Var<String> = Var::new(
    "BETTER_AUTH_SECRET",
    Default::Computed("kept in <database>.secret"),
    "HMAC key for cookies and tokens (32+ chars; shorter is refused on a non-loopback HOST, a published default unless BETTER_AUTH_URL is loopback); changing it ends every session. Unset: on a SQLite file, one generated on first start and kept next to it (owner-only); on memory storage a random one per process. Also BETTER_AUTH_SECRET_FILE, as every secret variable takes NAME_FILE",
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
    "Cookie name prefix (`<prefix>.session_token`); letters, digits, `-`, `_`, `.`",
    cookie_prefix,
);
pub const COOKIE_DOMAIN: Var<String> = Var::new(
    "SESAME_COOKIE_DOMAIN",
    Default::None,
    "Domain attribute of every cookie, to share sessions across subdomains (`example.com` for app.example.com + auth.example.com); must contain BETTER_AUTH_URL's host. Unset: host-only cookies",
    cookie_domain,
);
pub const COOKIE_SAMESITE: Var<SameSite> = Var::new(
    "SESAME_COOKIE_SAMESITE",
    Default::Value("lax"),
    "SameSite attribute of every cookie: lax, strict or none (none, for an app on another site, makes cookies Secure)",
    same_site,
);
pub const SECURE_COOKIES: Var<bool> = Var::new(
    "SESAME_SECURE_COOKIES",
    Default::Computed("true when BETTER_AUTH_URL is https"),
    "Secure / __Secure- cookies regardless of BETTER_AUTH_URL's scheme (Better Auth's useSecureCookies), e.g. behind a TLS-terminating proxy",
    boolean,
);

pub const VARIABLES: &[&Spec] = &[
    &SECRET.spec,
    &URL.spec,
    &BASE_PATH.spec,
    &TRUSTED_ORIGINS.spec,
    &COOKIE_PREFIX.spec,
    &COOKIE_DOMAIN.spec,
    &COOKIE_SAMESITE.spec,
    &SECURE_COOKIES.spec,
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
pub(super) fn is_loopback_host(host: Option<url::Host<&str>>) -> bool {
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

/// The `SameSite` attribute of Sesame's cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    Lax,
    Strict,
    None,
}

impl SameSite {
    /// As written in `Set-Cookie`.
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
            SameSite::None => "None",
        }
    }
}

fn same_site(s: &str) -> Result<SameSite, String> {
    match s.to_ascii_lowercase().as_str() {
        "lax" => Ok(SameSite::Lax),
        "strict" => Ok(SameSite::Strict),
        "none" => Ok(SameSite::None),
        _ => Err("must be lax, strict or none".to_string()),
    }
}

/// A prefix that keeps cookie names valid tokens (and can never smuggle an attribute).
fn cookie_prefix(s: &str) -> Result<String, String> {
    let ok = s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(s.to_string())
    } else {
        Err("must be at most 64 letters, digits, `-`, `_` or `.`".to_string())
    }
}

/// A registrable host name (`example.com`); a leading dot is dropped, as browsers do.
fn cookie_domain(s: &str) -> Result<String, String> {
    let d = s.trim_start_matches('.').to_ascii_lowercase();
    let label_ok =
        |l: &str| !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if d.len() > 253 || !d.split('.').all(label_ok) {
        return Err("must be a host name such as example.com".to_string());
    }
    Ok(d)
}

/// Whether a cookie with `Domain=domain` is accepted from `host`: the host is the domain or
/// one of its subdomains.
fn domain_matches(host: &str, domain: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == domain || host.ends_with(&format!(".{domain}"))
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
    pub cookie_domain: Option<String>,
    pub cookie_same_site: SameSite,
    pub secure_cookies_setting: Option<bool>,
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
        cookie_domain: r.opt(&COOKIE_DOMAIN),
        cookie_same_site: r.get(&COOKIE_SAMESITE),
        secure_cookies_setting: r.opt(&SECURE_COOKIES),
    };
    r.note_default(&SECURE_COOKIES, cookies.base_origin.starts_with("https://"));
    // Browsers refuse `SameSite=None` without `Secure`: such a cookie would silently never be
    // stored, so the combination is refused here instead.
    if cookies.cookie_same_site == SameSite::None && cookies.secure_cookies_setting == Some(false) {
        r.problem("SESAME_COOKIE_SAMESITE=none needs Secure cookies, but SESAME_SECURE_COOKIES=false");
    }
    // A browser drops a cookie whose Domain does not contain the host that set it.
    if let Some(domain) = &cookies.cookie_domain {
        let host = url.host_str().unwrap_or_default();
        if !domain_matches(host, domain) {
            r.problem(format!(
                "SESAME_COOKIE_DOMAIN={domain:?} does not contain BETTER_AUTH_URL's host {host:?}: browsers would refuse every cookie"
            ));
        }
    }
    // A reachable deployment must not run on a guessable key: anyone could forge session
    // cookies. A random per-process secret is safe (sessions just die on restart).
    if !cookies.secret_is_ephemeral {
        if let Err(problem) = check_secret(
            cookies.secret.expose(),
            host,
            is_loopback_host(url.host()),
            cookies.base_origin.starts_with("https://"),
        ) {
            r.problem(problem);
        }
    }
    cookies
}
