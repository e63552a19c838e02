//! Configuration: the environment, parsed once into a validated, typed [`Config`].
//!
//! [`VARIABLES`] is the single list of every variable Sesame reads; `sesame --help` prints it
//! and a test checks that README.md documents each one. Secrets live in [`Secret`], whose
//! `Debug` prints `****`, so a logged `Config` never leaks them.

use std::collections::HashMap;
use std::net::IpAddr;

use anyhow::{bail, Context};

/// A value that must never be printed: `Debug` shows `****`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(****)")
    }
}

/// One documented environment variable: name, default, meaning.
pub struct Variable {
    pub name: &'static str,
    pub default: &'static str,
    pub help: &'static str,
}

const fn var(name: &'static str, default: &'static str, help: &'static str) -> Variable {
    Variable { name, default, help }
}

/// Every variable Sesame reads, in the order `--help` and the README list them.
pub const VARIABLES: &[Variable] = &[
    var(
        "BETTER_AUTH_SECRET",
        "random per process",
        "HMAC key for cookies and tokens (32+ chars; shorter is refused on a non-loopback HOST, a published default unless BETTER_AUTH_URL is loopback). Unset: a random one, so sessions die with the process",
    ),
    var(
        "BETTER_AUTH_URL",
        "http://localhost:$PORT",
        "Public base URL; https:// turns on Secure / __Secure- cookies. A path replaces SESAME_BASE_PATH",
    ),
    var(
        "BETTER_AUTH_TRUSTED_ORIGINS",
        "",
        "Extra trusted origins, comma separated; `*` and `?` wildcards (spec 9.1)",
    ),
    var("HOST", "127.0.0.1", "Address to listen on"),
    var("PORT", "3000", "Port to listen on"),
    var(
        "DATABASE_URL",
        "sqlite:sesame.db",
        "Storage: `sqlite:PATH` (a file, created if missing), `sqlite::memory:` (ephemeral), `memory`, or `postgres://user:pass@host:port/db`",
    ),
    var("SESAME_WORKERS", "2 x cores", "Worker threads answering requests"),
    var(
        "SESAME_HASH_THREADS",
        "cores",
        "Low-priority threads that run the requests which hash passwords (sign-in, sign-up, …)",
    ),
    var(
        "SESAME_HASH_QUEUE",
        "256",
        "Password-hashing requests that may wait for those threads; beyond it: 503 SERVER_BUSY",
    ),
    var("SESAME_BASE_PATH", "/api/auth", "Path prefix of every endpoint"),
    var(
        "SESAME_MAX_BODY_BYTES",
        "1048576",
        "Largest accepted request body; larger gets 413",
    ),
    var("SESAME_BCRYPT_COST", "10", "bcrypt cost for new password hashes (4-31)"),
    var(
        "SESAME_PASSWORD_HASH",
        "bcrypt",
        "Scheme for new password hashes: `bcrypt` or `scrypt` (Better Auth's)",
    ),
    var(
        "SESAME_MIN_PASSWORD_LENGTH",
        "8",
        "Shortest accepted password (UTF-16 units, as Better Auth)",
    ),
    var("SESAME_MAX_PASSWORD_LENGTH", "128", "Longest accepted password"),
    var("SESAME_SESSION_EXPIRES_IN", "604800", "Session lifetime in seconds"),
    var(
        "SESAME_SESSION_UPDATE_AGE",
        "86400",
        "Seconds after which get-session slides the expiry",
    ),
    var(
        "SESAME_SESSION_FRESH_AGE",
        "86400",
        "Max session age in seconds for fresh-only endpoints; 0 disables the check",
    ),
    var("SESAME_DISABLE_SIGN_UP", "false", "Refuse POST /sign-up/email"),
    var("SESAME_AUTO_SIGN_IN", "true", "Sign the user in after sign-up"),
    var(
        "SESAME_REQUIRE_EMAIL_VERIFICATION",
        "false",
        "Refuse sign-in until the email is verified",
    ),
    var("SESAME_COOKIE_PREFIX", "better-auth", "Cookie name prefix"),
    var(
        "SESAME_POSTGRES_POOL_SIZE",
        "workers + 2",
        "PostgreSQL connections in the pool",
    ),
    var(
        "SESAME_AUTO_MIGRATE",
        "true",
        "Apply pending migrations when `sesame serve` starts",
    ),
    var(
        "SESAME_PLUGINS",
        "",
        "Plugins to enable, comma separated: bearer, username, jwt, open-api",
    ),
    var(
        "SESAME_BEARER_REQUIRE_SIGNATURE",
        "false",
        "bearer plugin: accept only the signed token of `set-auth-token`, never a raw session token",
    ),
    var(
        "SESAME_POSTGRES_STARTUP_TIMEOUT",
        "30",
        "Seconds to keep retrying an unreachable PostgreSQL at start-up before giving up",
    ),
    var(
        "SESAME_REHASH_ON_SIGN_IN",
        "false",
        "On a successful sign-in, re-hash a password stored in another scheme (or bcrypt cost) with SESAME_PASSWORD_HASH",
    ),
    var("SESAME_APP_NAME", "Sesame", "Application name shown in emails"),
    var(
        "SESAME_SMTP_URL",
        "",
        "Send email over SMTP: `smtp://user:pass@host:587` (STARTTLS required) or `smtps://…:465` (implicit TLS); plain text only with `?tls=none`",
    ),
    var(
        "SESAME_EMAIL_FROM",
        "",
        "Sender of SMTP email, e.g. `Sesame <no-reply@example.com>` (required with SESAME_SMTP_URL)",
    ),
    var(
        "SESAME_EMAIL_WEBHOOK_URL",
        "",
        "POST every email as signed JSON to this URL instead (header X-Sesame-Signature)",
    ),
    var(
        "SESAME_EMAIL_VERIFICATION_EXPIRES_IN",
        "3600",
        "Lifetime in seconds of email verification and change-email links",
    ),
    var(
        "SESAME_SEND_VERIFICATION_ON_SIGN_UP",
        "= SESAME_REQUIRE_EMAIL_VERIFICATION",
        "Email a verification link after sign-up",
    ),
    var(
        "SESAME_SEND_VERIFICATION_ON_SIGN_IN",
        "false",
        "Email a new verification link when sign-in is refused for an unverified email",
    ),
    var(
        "SESAME_AUTO_SIGN_IN_AFTER_VERIFICATION",
        "false",
        "Sign the user in when they open the verification link",
    ),
    var(
        "SESAME_RESET_PASSWORD_EXPIRES_IN",
        "3600",
        "Lifetime in seconds of password reset links",
    ),
    var(
        "SESAME_REVOKE_SESSIONS_ON_PASSWORD_RESET",
        "false",
        "Sign the user out everywhere when the password is reset",
    ),
    var("SESAME_CHANGE_EMAIL", "false", "Enable POST /change-email"),
    var(
        "SESAME_CHANGE_EMAIL_CONFIRMATION",
        "true",
        "A verified user first confirms an email change from the old address",
    ),
    var("SESAME_DELETE_USER", "false", "Enable POST /delete-user (else 404)"),
    var(
        "SESAME_DELETE_USER_VERIFICATION",
        "true",
        "Deleting an account always goes through an emailed link",
    ),
    var(
        "SESAME_DELETE_USER_EXPIRES_IN",
        "86400",
        "Lifetime in seconds of account deletion links",
    ),
    // Social sign-in (src/oauth/config.rs). `<P>` is a built-in provider: GITHUB, GOOGLE,
    // DISCORD, GITLAB, MICROSOFT, APPLE, FACEBOOK, TWITTER, LINKEDIN, SLACK.
    var("<P>_CLIENT_ID", "", "Enables built-in provider `<P>` (e.g. `GITHUB_CLIENT_ID`)"),
    var("<P>_CLIENT_SECRET", "", "Its client secret (Apple: the signed client-secret JWT)"),
    var("SESAME_<P>_SCOPES", "", "Scopes added to the provider's defaults, comma or space separated"),
    var(
        "SESAME_<P>_AUTHORIZATION_URL",
        "provider's",
        "Endpoint override (self-hosted instances, tests); also `_TOKEN_URL`, `_USERINFO_URL`, `_JWKS_URL`, and `SESAME_GITHUB_EMAILS_URL`",
    ),
    var(
        "SESAME_<P>_ID_TOKEN_AUDIENCES",
        "",
        "Extra accepted ID-token audiences (mobile client ids, Apple bundle id)",
    ),
    var(
        "SESAME_<P>_DISABLE_SIGN_UP",
        "false",
        "Never create users through this provider; `_DISABLE_IMPLICIT_SIGN_UP` only without `requestSignUp`",
    ),
    var("MICROSOFT_TENANT_ID", "common", "Entra ID tenant: common, organizations, consumers or a tenant id"),
    var("SESAME_GITLAB_BASE_URL", "https://gitlab.com", "Self-hosted GitLab: derives all three endpoints"),
    var("SESAME_OIDC_PROVIDERS", "", "Generic OpenID Connect provider ids, comma separated"),
    var(
        "SESAME_OIDC_<ID>_DISCOVERY_URL",
        "",
        "Its discovery document (or `_ISSUER`); also `_CLIENT_ID`, `_CLIENT_SECRET`, `_SCOPES` (openid email profile), `_PKCE` (true), `_AUTH_METHOD` (post|basic)",
    ),
    var("SESAME_OAUTH2_PROVIDERS", "", "Generic OAuth 2 provider ids, comma separated"),
    var(
        "SESAME_OAUTH2_<ID>_AUTHORIZATION_URL",
        "",
        "Required with `_TOKEN_URL`, `_USERINFO_URL`, `_CLIENT_ID`; optional `_CLIENT_SECRET`, `_SCOPES`, `_PKCE`, `_AUTH_METHOD`",
    ),
    var(
        "SESAME_OAUTH2_<ID>_ID_FIELD",
        "id",
        "User-info field paths (dotted): `_ID_FIELD`, `_EMAIL_FIELD` (email), `_EMAIL_VERIFIED_FIELD` (email_verified), `_NAME_FIELD` (name), `_IMAGE_FIELD` (picture)",
    ),
    var(
        "SESAME_TRUSTED_PROVIDERS",
        "",
        "Provider ids whose emails count as verified for account linking, comma separated",
    ),
    var(
        "SESAME_ENCRYPT_OAUTH_TOKENS",
        "false",
        "Encrypt stored provider tokens (XChaCha20-Poly1305, key from the secret, as Better Auth)",
    ),
    var("SESAME_OAUTH_TIMEOUT_MS", "10000", "Connect/read timeout of every call to a provider"),
    var(
        "SESAME_JWT_ALG",
        "EdDSA",
        "jwt plugin: algorithm of new signing keys, `EdDSA` (Ed25519), `ES256` or `RS256`",
    ),
    var("SESAME_JWT_ISSUER", "base URL origin", "jwt plugin: the `iss` claim"),
    var(
        "SESAME_JWT_AUDIENCE",
        "base URL origin",
        "jwt plugin: the `aud` claim; several comma separated become an array",
    ),
    var(
        "SESAME_JWT_EXPIRES_IN",
        "15m",
        "jwt plugin: token lifetime, seconds or a duration like `15m`, `1h`, `7d`",
    ),
    var(
        "SESAME_RATE_LIMIT",
        "true",
        "Rate-limit HTTP requests per client IP and path (spec 9.3); false turns it off",
    ),
    var(
        "SESAME_RATE_LIMIT_RULES",
        "",
        "Per-path overrides: `/sign-in/email=5/10,/get-session=off,/sign-in*=4/20,default=200/10` (MAX/SECONDS)",
    ),
    var(
        "SESAME_RATE_LIMIT_STORAGE",
        "memory",
        "Where rate-limit buckets live: `memory` (this process) or `database` (a table in the PostgreSQL or SQLite database, shared by every process)",
    ),
    var(
        "SESAME_EMAIL_RECIPIENT_LIMIT",
        "5/3600",
        "Emails per recipient address per SECONDS (MAX/SECONDS or off), counted apart for verification and reset mail and for other mail; more are not sent. Off with SESAME_RATE_LIMIT=false",
    ),
    var(
        "SESAME_TRUSTED_PROXIES",
        "",
        "Proxy IPs/CIDRs whose X-Forwarded-For is believed, comma separated. Unset: the socket peer is the client",
    ),
    var(
        "SESAME_READ_TIMEOUT_SECS",
        "10",
        "Seconds a client has to send a request's headers, and again its body; also the keep-alive idle time",
    ),
    var(
        "SESAME_MAX_CONNECTIONS",
        "512",
        "Open connections served at once; more are answered 503 and closed",
    ),
    var(
        "SESAME_MAX_CONNECTIONS_PER_IP",
        "64",
        "Open connections one client address may hold (IPv6: per /64; SESAME_TRUSTED_PROXIES exempt); more are answered 503 and closed",
    ),
    var(
        "SESAME_MAX_HEADER_BYTES",
        "16384",
        "Largest request line plus headers; larger gets 431",
    ),
];

/// Better Auth's built-in development secret.
const BETTER_AUTH_DEFAULT_SECRET: &str = "better-auth-secret-12345678901234567890";
/// [`Config::for_tests`]'s secret, published in this source.
const TEST_SECRET: &str = "sesame-test-secret-0123456789abcdef0123456789";
/// Secrets anyone can read (and so forge session cookies with): refused unless
/// `BETTER_AUTH_URL` is a loopback URL, loudly warned about there.
const PUBLISHED_SECRETS: &[&str] = &[BETTER_AUTH_DEFAULT_SECRET, TEST_SECRET];
/// Shorter secrets are refused on a non-loopback `HOST` or with an https `BETTER_AUTH_URL`.
const MIN_SECRET_CHARS: usize = 32;

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
/// secret always passes. Errors never contain the secret.
fn check_secret(secret: &str, ephemeral: bool, host: IpAddr, url_is_loopback: bool, https: bool) -> anyhow::Result<()> {
    if ephemeral {
        return Ok(());
    }
    if PUBLISHED_SECRETS.contains(&secret) && !url_is_loopback {
        bail!("BETTER_AUTH_SECRET is a published default (Better Auth's or Sesame's test secret): anyone could forge session cookies with it. It is refused unless BETTER_AUTH_URL is a loopback URL; `sesame secret` prints a good one");
    }
    if secret.chars().count() < MIN_SECRET_CHARS && (!host.is_loopback() || https) {
        bail!("BETTER_AUTH_SECRET is shorter than {MIN_SECRET_CHARS} characters, which is refused when HOST is not a loopback address or BETTER_AUTH_URL is https; `sesame secret` prints a good one");
    }
    Ok(())
}

/// Which hash new passwords get. Both are always verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordHash {
    Bcrypt,
    Scrypt,
}

/// What storage to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageUrl {
    Memory,
    Postgres(Secret),
    /// A SQLite database file path, or `:memory:` for an ephemeral one.
    Sqlite(String),
}

/// What `sesame serve` and `sesame migrate` use when `DATABASE_URL` is unset: a file in the
/// working directory. [`Config::from_vars`] (and so [`Config::for_tests`]) keep `memory`.
pub const DEFAULT_DATABASE_URL: &str = "sqlite:sesame.db";

/// The SQLite path of a `sqlite:` URL: `sqlite:PATH`, `sqlite://PATH` (`sqlite:///abs/path`
/// is `/abs/path`), `sqlite::memory:`. `None` when the URL is not a `sqlite:` one.
fn sqlite_path(url: &str) -> Option<anyhow::Result<String>> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    if rest.is_empty() {
        return Some(Err(anyhow::anyhow!(
            "DATABASE_URL=sqlite: needs a path, e.g. sqlite:sesame.db"
        )));
    }
    if rest.contains('?') {
        return Some(Err(anyhow::anyhow!("DATABASE_URL=sqlite:PATH takes no query string")));
    }
    Some(Ok(rest.to_string()))
}

#[derive(Debug, Clone)]
pub struct Config {
    pub host: IpAddr,
    pub port: u16,
    pub workers: usize,
    /// Threads of the slow lane (password hashing), and how many requests may wait for them.
    pub hash_threads: usize,
    pub hash_queue: usize,
    /// Origin of the public URL, without a trailing slash (`http://localhost:3000`).
    pub base_origin: String,
    /// Path prefix of every endpoint (`/api/auth`).
    pub base_path: String,
    pub secret: Secret,
    /// True when the secret was generated for this process.
    pub secret_is_ephemeral: bool,
    pub trusted_origins: Vec<String>,
    pub storage: StorageUrl,
    pub max_body_bytes: usize,
    pub bcrypt_cost: u32,
    pub password_hash: PasswordHash,
    pub min_password_length: usize,
    pub max_password_length: usize,
    pub session_expires_in: i64,
    pub session_update_age: i64,
    pub session_fresh_age: i64,
    pub disable_sign_up: bool,
    pub auto_sign_in: bool,
    pub require_email_verification: bool,
    pub cookie_prefix: String,
    pub pool_size: Option<u32>,
    pub auto_migrate: bool,
    /// Enabled plugin ids (`SESAME_PLUGINS`), checked against the compiled-in list at start-up.
    pub plugins: Vec<String>,
    /// bearer plugin: refuse raw (unsigned) session tokens (`SESAME_BEARER_REQUIRE_SIGNATURE`).
    pub bearer_require_signature: bool,
    /// The jwt plugin's settings (`SESAME_JWT_*`).
    pub jwt: crate::plugins::jwt::config::JwtConfig,
    pub postgres_startup_timeout: u64,
    pub rehash_on_sign_in: bool,
    /// Email delivery and the email flows.
    pub email: EmailConfig,
    /// Social sign-in providers and settings.
    pub oauth: crate::oauth::config::OAuthConfig,
    pub rate_limit: bool,
    pub rate_limit_rules: Vec<crate::ratelimit::CustomRule>,
    pub rate_limit_storage: crate::ratelimit::StoreKind,
    pub trusted_proxies: Vec<crate::http::client_ip::IpNet>,
    pub read_timeout_secs: u64,
    pub max_connections: usize,
    /// Connections one client address may hold (`SESAME_MAX_CONNECTIONS_PER_IP`); trusted
    /// proxies are exempt.
    pub max_connections_per_ip: usize,
    pub max_header_bytes: usize,
}

/// Where email goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailTransport {
    /// Printed to stderr (development).
    Log,
    Smtp {
        url: Secret,
        from: String,
    },
    Webhook {
        url: Secret,
    },
}

/// Email delivery and the flows that send email (spec §3.7-3.10, §3.15-3.16, §6, §7).
#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub app_name: String,
    pub transport: MailTransport,
    pub verification_expires_in: i64,
    pub send_on_sign_up: bool,
    pub send_on_sign_in: bool,
    pub auto_sign_in_after_verification: bool,
    pub reset_password_expires_in: i64,
    pub revoke_sessions_on_password_reset: bool,
    pub change_email: bool,
    pub change_email_confirmation: bool,
    pub delete_user: bool,
    pub delete_user_verification: bool,
    pub delete_user_expires_in: i64,
    /// Mails per recipient address and class (`SESAME_EMAIL_RECIPIENT_LIMIT`); `None`: no limit.
    pub recipient_limit: Option<crate::ratelimit::Rule>,
}

impl Config {
    /// Reads the process environment; an unset `DATABASE_URL` means [`DEFAULT_DATABASE_URL`].
    pub fn from_env() -> anyhow::Result<Config> {
        let mut vars: HashMap<String, String> = std::env::vars().collect();
        let unset = vars.get("DATABASE_URL").is_none_or(|v| v.trim().is_empty());
        if unset {
            vars.insert("DATABASE_URL".to_string(), DEFAULT_DATABASE_URL.to_string());
        }
        Config::from_vars(&vars)
    }

    /// Parses a set of variables; unknown names are ignored, bad values are errors naming the
    /// variable.
    pub fn from_vars(vars: &HashMap<String, String>) -> anyhow::Result<Config> {
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let port: u16 = parse(get("PORT"), "PORT", 3000)?;
        let host: IpAddr = parse(get("HOST"), "HOST", IpAddr::from([127, 0, 0, 1]))?;
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let workers: usize = parse(get("SESAME_WORKERS"), "SESAME_WORKERS", cores * 2)?;
        if workers == 0 {
            bail!("SESAME_WORKERS must be at least 1");
        }
        let hash_threads: usize = parse(get("SESAME_HASH_THREADS"), "SESAME_HASH_THREADS", cores)?;
        let hash_queue: usize = parse(get("SESAME_HASH_QUEUE"), "SESAME_HASH_QUEUE", 256)?;
        if hash_threads == 0 || hash_queue == 0 {
            bail!("SESAME_HASH_THREADS and SESAME_HASH_QUEUE must be at least 1");
        }
        let (secret, secret_is_ephemeral) = match get("BETTER_AUTH_SECRET") {
            Some(s) => (Secret::new(s), false),
            None => (Secret::new(crate::crypto::random_string(64)), true),
        };
        let base_url = get("BETTER_AUTH_URL")
            .map(str::to_string)
            .unwrap_or_else(|| format!("http://localhost:{port}"));
        let parsed = url::Url::parse(&base_url).with_context(|| format!("BETTER_AUTH_URL is not a URL: {base_url}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            bail!("BETTER_AUTH_URL must be http:// or https://");
        }
        let base_origin = parsed.origin().ascii_serialization();
        // Better Auth: a base URL with a path uses that path as the base path.
        let url_path = parsed.path().trim_end_matches('/').to_string();
        let base_path = if !url_path.is_empty() {
            url_path
        } else {
            let p = get("SESAME_BASE_PATH")
                .unwrap_or("/api/auth")
                .trim_end_matches('/')
                .to_string();
            if !p.is_empty() && !p.starts_with('/') {
                bail!("SESAME_BASE_PATH must start with /");
            }
            p
        };
        let trusted_origins = get("BETTER_AUTH_TRUSTED_ORIGINS")
            .map(|s| {
                s.split(',')
                    .map(|o| o.trim().to_string())
                    .filter(|o| !o.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let storage = match get("DATABASE_URL") {
            None | Some("memory") => StorageUrl::Memory,
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                StorageUrl::Postgres(Secret::new(u))
            }
            Some(u) if u.starts_with("sqlite:") => match sqlite_path(u) {
                Some(path) => StorageUrl::Sqlite(path?),
                None => bail!("DATABASE_URL must start with sqlite:"),
            },
            Some(_) => bail!("DATABASE_URL must be `memory`, `sqlite:PATH` or a postgres:// URL"),
        };
        let bcrypt_cost: u32 = parse(get("SESAME_BCRYPT_COST"), "SESAME_BCRYPT_COST", 10)?;
        if !(4..=31).contains(&bcrypt_cost) {
            bail!("SESAME_BCRYPT_COST must be between 4 and 31");
        }
        let password_hash = match get("SESAME_PASSWORD_HASH").unwrap_or("bcrypt") {
            "bcrypt" => PasswordHash::Bcrypt,
            "scrypt" => PasswordHash::Scrypt,
            other => bail!("SESAME_PASSWORD_HASH must be bcrypt or scrypt, not {other}"),
        };
        let config = Config {
            host,
            port,
            workers,
            hash_threads,
            hash_queue,
            base_origin,
            base_path,
            secret,
            secret_is_ephemeral,
            trusted_origins,
            storage,
            max_body_bytes: parse(get("SESAME_MAX_BODY_BYTES"), "SESAME_MAX_BODY_BYTES", 1 << 20)?,
            bcrypt_cost,
            password_hash,
            min_password_length: parse(get("SESAME_MIN_PASSWORD_LENGTH"), "SESAME_MIN_PASSWORD_LENGTH", 8)?,
            max_password_length: parse(get("SESAME_MAX_PASSWORD_LENGTH"), "SESAME_MAX_PASSWORD_LENGTH", 128)?,
            session_expires_in: parse(get("SESAME_SESSION_EXPIRES_IN"), "SESAME_SESSION_EXPIRES_IN", 604_800)?,
            session_update_age: parse(get("SESAME_SESSION_UPDATE_AGE"), "SESAME_SESSION_UPDATE_AGE", 86_400)?,
            session_fresh_age: parse(get("SESAME_SESSION_FRESH_AGE"), "SESAME_SESSION_FRESH_AGE", 86_400)?,
            disable_sign_up: parse_bool(get("SESAME_DISABLE_SIGN_UP"), "SESAME_DISABLE_SIGN_UP", false)?,
            auto_sign_in: parse_bool(get("SESAME_AUTO_SIGN_IN"), "SESAME_AUTO_SIGN_IN", true)?,
            require_email_verification: parse_bool(
                get("SESAME_REQUIRE_EMAIL_VERIFICATION"),
                "SESAME_REQUIRE_EMAIL_VERIFICATION",
                false,
            )?,
            cookie_prefix: get("SESAME_COOKIE_PREFIX").unwrap_or("better-auth").to_string(),
            pool_size: match get("SESAME_POSTGRES_POOL_SIZE") {
                Some(v) => Some(v.parse().context("SESAME_POSTGRES_POOL_SIZE must be a number")?),
                None => None,
            },
            auto_migrate: parse_bool(get("SESAME_AUTO_MIGRATE"), "SESAME_AUTO_MIGRATE", true)?,
            plugins: list(get("SESAME_PLUGINS")),
            bearer_require_signature: parse_bool(
                get("SESAME_BEARER_REQUIRE_SIGNATURE"),
                "SESAME_BEARER_REQUIRE_SIGNATURE",
                false,
            )?,
            jwt: crate::plugins::jwt::config::JwtConfig::from_vars(get)?,
            postgres_startup_timeout: parse(
                get("SESAME_POSTGRES_STARTUP_TIMEOUT"),
                "SESAME_POSTGRES_STARTUP_TIMEOUT",
                30,
            )?,
            rehash_on_sign_in: parse_bool(get("SESAME_REHASH_ON_SIGN_IN"), "SESAME_REHASH_ON_SIGN_IN", false)?,
            email: email_config(&get)?,
            oauth: crate::oauth::config::OAuthConfig::from_vars(vars)?,
            rate_limit: parse_bool(get("SESAME_RATE_LIMIT"), "SESAME_RATE_LIMIT", true)?,
            rate_limit_rules: crate::ratelimit::rules::parse(get("SESAME_RATE_LIMIT_RULES").unwrap_or_default())
                .context("SESAME_RATE_LIMIT_RULES")?,
            rate_limit_storage: match get("SESAME_RATE_LIMIT_STORAGE").unwrap_or("memory") {
                "memory" => crate::ratelimit::StoreKind::Memory,
                "database" => crate::ratelimit::StoreKind::Database,
                other => bail!("SESAME_RATE_LIMIT_STORAGE must be memory or database, not {other:?}"),
            },
            trusted_proxies: crate::http::client_ip::parse_proxies(get("SESAME_TRUSTED_PROXIES").unwrap_or_default())
                .context("SESAME_TRUSTED_PROXIES")?,
            read_timeout_secs: parse(get("SESAME_READ_TIMEOUT_SECS"), "SESAME_READ_TIMEOUT_SECS", 10)?,
            max_connections: parse(get("SESAME_MAX_CONNECTIONS"), "SESAME_MAX_CONNECTIONS", 512)?,
            max_connections_per_ip: parse(
                get("SESAME_MAX_CONNECTIONS_PER_IP"),
                "SESAME_MAX_CONNECTIONS_PER_IP",
                64,
            )?,
            max_header_bytes: parse(get("SESAME_MAX_HEADER_BYTES"), "SESAME_MAX_HEADER_BYTES", 16_384)?,
        };
        if config.read_timeout_secs == 0
            || config.max_connections == 0
            || config.max_connections_per_ip == 0
            || config.max_header_bytes < 1024
        {
            bail!("SESAME_READ_TIMEOUT_SECS, SESAME_MAX_CONNECTIONS and SESAME_MAX_CONNECTIONS_PER_IP must be at least 1, SESAME_MAX_HEADER_BYTES at least 1024");
        }
        // A reachable deployment must not run on a guessable key: anyone could forge session
        // cookies. A random per-process secret is safe (sessions just die on restart).
        check_secret(
            config.secret.expose(),
            config.secret_is_ephemeral,
            config.host,
            is_loopback_host(parsed.host()),
            config.secure_cookies(),
        )?;
        if config.min_password_length > config.max_password_length {
            bail!("SESAME_MIN_PASSWORD_LENGTH is larger than SESAME_MAX_PASSWORD_LENGTH");
        }
        if config.session_expires_in <= 0 || config.session_update_age < 0 || config.session_fresh_age < 0 {
            bail!("session lifetimes must not be negative");
        }
        Ok(config)
    }

    /// A configuration for tests: fixed secret, bcrypt cost 4, memory storage.
    pub fn for_tests() -> Config {
        let mut vars = HashMap::new();
        vars.insert("BETTER_AUTH_SECRET".to_string(), TEST_SECRET.to_string());
        vars.insert("SESAME_BCRYPT_COST".to_string(), "4".to_string());
        vars.insert("SESAME_WORKERS".to_string(), "4".to_string());
        // Tests share one client address and a fixed clock; the rate-limit tests turn it on.
        vars.insert("SESAME_RATE_LIMIT".to_string(), "false".to_string());
        match Config::from_vars(&vars) {
            Ok(c) => c,
            // The fixed variables above always parse; reaching this is a bug in this function.
            Err(e) => unreachable!("test config must parse: {e:#}"),
        }
    }

    /// Warnings worth printing at start-up (never the secret itself).
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.secret_is_ephemeral {
            w.push("BETTER_AUTH_SECRET is not set: using a random secret, sessions will not survive a restart (`sesame secret` prints one)".to_string());
        } else if PUBLISHED_SECRETS.contains(&self.secret.expose()) {
            w.push("!!! BETTER_AUTH_SECRET is a published default: anyone can forge session cookies with it. Allowed only because BETTER_AUTH_URL is a loopback URL; never use it in production (`sesame secret` prints a good one) !!!".to_string());
        } else if self.secret.expose().chars().count() < MIN_SECRET_CHARS {
            w.push(format!(
                "BETTER_AUTH_SECRET is shorter than {MIN_SECRET_CHARS} characters (refused on a public HOST)"
            ));
        }
        if self.email.transport == MailTransport::Log {
            w.push("no mail transport configured: emails (with their links) are printed to stderr; set SESAME_SMTP_URL or SESAME_EMAIL_WEBHOOK_URL in production".to_string());
        }
        w
    }

    /// The full endpoint base (`http://localhost:3000/api/auth`), Better Auth's `ctx.baseURL`.
    pub fn base_url(&self) -> String {
        format!("{}{}", self.base_origin, self.base_path)
    }

    /// Cookies are `Secure` and `__Secure-`-prefixed when the public URL is https.
    pub fn secure_cookies(&self) -> bool {
        self.base_origin.starts_with("https://")
    }
}

/// The email part of the configuration.
fn email_config<'a>(get: &impl Fn(&str) -> Option<&'a str>) -> anyhow::Result<EmailConfig> {
    let transport = match (get("SESAME_SMTP_URL"), get("SESAME_EMAIL_WEBHOOK_URL")) {
        (Some(_), Some(_)) => bail!("set only one of SESAME_SMTP_URL and SESAME_EMAIL_WEBHOOK_URL"),
        (Some(url), None) => {
            if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                bail!("SESAME_SMTP_URL must start with smtp:// or smtps://");
            }
            let Some(from) = get("SESAME_EMAIL_FROM") else {
                bail!("SESAME_EMAIL_FROM is required with SESAME_SMTP_URL");
            };
            MailTransport::Smtp {
                url: Secret::new(url),
                from: from.to_string(),
            }
        }
        (None, Some(url)) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                bail!("SESAME_EMAIL_WEBHOOK_URL must be an http:// or https:// URL");
            }
            MailTransport::Webhook { url: Secret::new(url) }
        }
        (None, None) => MailTransport::Log,
    };
    let lifetime = |name: &str, default: i64| -> anyhow::Result<i64> {
        let v: i64 = parse(get(name), name, default)?;
        if v <= 0 {
            bail!("{name} must be a positive number of seconds");
        }
        Ok(v)
    };
    let flag = |name: &str, default: bool| parse_bool(get(name), name, default);
    let require_verification = flag("SESAME_REQUIRE_EMAIL_VERIFICATION", false)?;
    Ok(EmailConfig {
        app_name: get("SESAME_APP_NAME").unwrap_or("Sesame").to_string(),
        transport,
        verification_expires_in: lifetime("SESAME_EMAIL_VERIFICATION_EXPIRES_IN", 3600)?,
        // Better Auth: `sendOnSignUp` defaults to `requireEmailVerification`.
        send_on_sign_up: flag("SESAME_SEND_VERIFICATION_ON_SIGN_UP", require_verification)?,
        send_on_sign_in: flag("SESAME_SEND_VERIFICATION_ON_SIGN_IN", false)?,
        auto_sign_in_after_verification: flag("SESAME_AUTO_SIGN_IN_AFTER_VERIFICATION", false)?,
        reset_password_expires_in: lifetime("SESAME_RESET_PASSWORD_EXPIRES_IN", 3600)?,
        revoke_sessions_on_password_reset: flag("SESAME_REVOKE_SESSIONS_ON_PASSWORD_RESET", false)?,
        change_email: flag("SESAME_CHANGE_EMAIL", false)?,
        change_email_confirmation: flag("SESAME_CHANGE_EMAIL_CONFIRMATION", true)?,
        delete_user: flag("SESAME_DELETE_USER", false)?,
        delete_user_verification: flag("SESAME_DELETE_USER_VERIFICATION", true)?,
        delete_user_expires_in: lifetime("SESAME_DELETE_USER_EXPIRES_IN", 86_400)?,
        recipient_limit: crate::ratelimit::rules::parse_rule(get("SESAME_EMAIL_RECIPIENT_LIMIT").unwrap_or("5/3600"))
            .context("SESAME_EMAIL_RECIPIENT_LIMIT")?,
    })
}

fn parse<T: std::str::FromStr>(value: Option<&str>, name: &str, default: T) -> anyhow::Result<T> {
    match value {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| anyhow::anyhow!("{name} has an invalid value: {v:?}")),
    }
}

/// A comma-separated list, blanks dropped.
fn list(value: Option<&str>) -> Vec<String> {
    value
        .map(|s| {
            s.split(',')
                .map(|o| o.trim().to_string())
                .filter(|o| !o.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn parse_bool(value: Option<&str>, name: &str, default: bool) -> anyhow::Result<bool> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(v) => bail!("{name} must be true or false, not {v:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults() {
        let c = Config::from_vars(&vars(&[])).unwrap();
        assert_eq!(c.port, 3000);
        assert_eq!(c.base_origin, "http://localhost:3000");
        assert_eq!(c.base_path, "/api/auth");
        assert!(c.secret_is_ephemeral);
        assert_eq!(c.storage, StorageUrl::Memory);
        assert!(!c.secure_cookies());
    }

    #[test]
    fn sqlite_urls() {
        let storage = |u: &str| Config::from_vars(&vars(&[("DATABASE_URL", u)])).map(|c| c.storage);
        assert_eq!(
            storage("sqlite:sesame.db").unwrap(),
            StorageUrl::Sqlite("sesame.db".into())
        );
        assert_eq!(
            storage("sqlite:///var/lib/a.db").unwrap(),
            StorageUrl::Sqlite("/var/lib/a.db".into())
        );
        assert_eq!(
            storage("sqlite://data/a.db").unwrap(),
            StorageUrl::Sqlite("data/a.db".into())
        );
        assert_eq!(
            storage("sqlite::memory:").unwrap(),
            StorageUrl::Sqlite(":memory:".into())
        );
        assert!(storage("sqlite:").is_err());
        assert!(storage("sqlite:a.db?mode=ro").is_err());
        assert!(storage("mysql://x").is_err());
    }

    #[test]
    fn base_url_path_replaces_base_path() {
        let c = Config::from_vars(&vars(&[("BETTER_AUTH_URL", "https://auth.example.com/auth/")])).unwrap();
        assert_eq!(c.base_path, "/auth");
        assert!(c.secure_cookies());
    }

    #[test]
    fn secret_is_redacted_in_debug() {
        let c = Config::from_vars(&vars(&[("BETTER_AUTH_SECRET", "super-secret-value-1234567890abcdef")])).unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("super-secret-value"));
        let c = Config::from_vars(&vars(&[("DATABASE_URL", "postgres://u:hunter2@h/db")])).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = Config::from_vars(&vars(&[("PORT", "abc")])).unwrap_err();
        assert!(format!("{err}").contains("PORT"));
        let err = Config::from_vars(&vars(&[("SESAME_BCRYPT_COST", "99")])).unwrap_err();
        assert!(format!("{err}").contains("SESAME_BCRYPT_COST"));
    }

    #[test]
    fn weak_secret_is_refused_with_https() {
        for weak in [BETTER_AUTH_DEFAULT_SECRET, "short-secret"] {
            let err = Config::from_vars(&vars(&[
                ("BETTER_AUTH_SECRET", weak),
                ("BETTER_AUTH_URL", "https://auth.example.com"),
            ]))
            .unwrap_err();
            assert!(format!("{err}").contains("BETTER_AUTH_SECRET"), "{err}");
            // plain http (local development) only warns
            assert!(Config::from_vars(&vars(&[("BETTER_AUTH_SECRET", weak)])).is_ok());
        }
        // an ephemeral random secret and a long one are fine
        assert!(Config::from_vars(&vars(&[("BETTER_AUTH_URL", "https://auth.example.com")])).is_ok());
        let strong = "k3J9xv2LqP8wZr5TnY7bHc4MdF6gA1sE";
        assert!(Config::from_vars(&vars(&[
            ("BETTER_AUTH_SECRET", strong),
            ("BETTER_AUTH_URL", "https://a.example.com")
        ]))
        .is_ok());
    }

    #[test]
    fn hardening_variables_parse() {
        let c = Config::from_vars(&vars(&[])).unwrap();
        assert!(c.rate_limit);
        assert_eq!(
            (c.read_timeout_secs, c.max_connections, c.max_header_bytes),
            (10, 512, 16_384)
        );
        let err = Config::from_vars(&vars(&[("SESAME_RATE_LIMIT_RULES", "/x=bad")])).unwrap_err();
        assert!(format!("{err:#}").contains("SESAME_RATE_LIMIT_RULES"));
        let err = Config::from_vars(&vars(&[("SESAME_TRUSTED_PROXIES", "10.0.0.0/99")])).unwrap_err();
        assert!(format!("{err:#}").contains("SESAME_TRUSTED_PROXIES"));
        let c = Config::from_vars(&vars(&[
            ("SESAME_TRUSTED_PROXIES", "10.0.0.0/8, ::1"),
            ("SESAME_RATE_LIMIT", "false"),
        ]))
        .unwrap();
        assert_eq!(c.trusted_proxies.len(), 2);
        assert!(!c.rate_limit);
        assert!(Config::for_tests().secret.expose().len() >= 32);
    }

    #[test]
    fn published_secrets_only_on_loopback_urls() {
        for url in [
            "http://localhost:3000",
            "http://app.localhost",
            "http://127.0.0.1:3000",
            "http://[::1]",
        ] {
            let c = Config::from_vars(&vars(&[
                ("BETTER_AUTH_SECRET", BETTER_AUTH_DEFAULT_SECRET),
                ("BETTER_AUTH_URL", url),
            ]))
            .unwrap();
            assert!(c.warnings().iter().any(|w| w.contains("published default")), "{url}");
        }
        for url in [
            "http://auth.example.com",
            "http://localhost.example.com",
            "http://192.168.1.2",
        ] {
            let err =
                Config::from_vars(&vars(&[("BETTER_AUTH_SECRET", TEST_SECRET), ("BETTER_AUTH_URL", url)])).unwrap_err();
            assert!(err.to_string().contains("published default"), "{url}: {err}");
            assert!(!err.to_string().contains(TEST_SECRET));
        }
    }

    #[test]
    fn short_secrets_only_on_a_loopback_host() {
        let short = ("BETTER_AUTH_SECRET", "short-secret");
        for host in ["0.0.0.0", "::", "192.168.1.2"] {
            let err = Config::from_vars(&vars(&[short, ("HOST", host)])).unwrap_err();
            assert!(err.to_string().contains("shorter than 32"), "{host}: {err}");
        }
        assert!(Config::from_vars(&vars(&[short, ("HOST", "::1")])).is_ok());
        let long = ("BETTER_AUTH_SECRET", "m6Qh2Z9rT4vL8pX1cW7nB3kD5fJ0sA2yE");
        assert!(Config::from_vars(&vars(&[long, ("HOST", "0.0.0.0")])).is_ok());
        // A random per-process secret is fine anywhere.
        assert!(Config::from_vars(&vars(&[("HOST", "0.0.0.0")])).is_ok());
    }

    #[test]
    fn short_secret_warns() {
        let c = Config::from_vars(&vars(&[
            ("BETTER_AUTH_SECRET", "short"),
            ("SESAME_EMAIL_WEBHOOK_URL", "http://127.0.0.1:9/"),
        ]))
        .unwrap();
        assert_eq!(c.warnings().len(), 1);
    }

    #[test]
    fn email_settings() {
        let c = Config::from_vars(&vars(&[])).unwrap();
        assert_eq!(c.email.transport, MailTransport::Log);
        assert!(!c.email.send_on_sign_up);
        assert!(c.warnings().iter().any(|w| w.contains("stderr")));
        let c = Config::from_vars(&vars(&[("SESAME_REQUIRE_EMAIL_VERIFICATION", "true")])).unwrap();
        assert!(
            c.email.send_on_sign_up,
            "sendOnSignUp defaults to requireEmailVerification"
        );
        let c = Config::from_vars(&vars(&[
            ("SESAME_REQUIRE_EMAIL_VERIFICATION", "true"),
            ("SESAME_SEND_VERIFICATION_ON_SIGN_UP", "false"),
        ]))
        .unwrap();
        assert!(!c.email.send_on_sign_up);
        let err = Config::from_vars(&vars(&[("SESAME_SMTP_URL", "smtp://localhost:25")])).unwrap_err();
        assert!(format!("{err}").contains("SESAME_EMAIL_FROM"));
        let err = Config::from_vars(&vars(&[
            ("SESAME_SMTP_URL", "smtp://localhost:25"),
            ("SESAME_EMAIL_WEBHOOK_URL", "http://localhost/"),
        ]))
        .unwrap_err();
        assert!(format!("{err}").contains("only one"));
        let c = Config::from_vars(&vars(&[
            ("SESAME_SMTP_URL", "smtps://u:hunter2@mail.example.com"),
            ("SESAME_EMAIL_FROM", "a@example.com"),
        ]))
        .unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        let err = Config::from_vars(&vars(&[("SESAME_RESET_PASSWORD_EXPIRES_IN", "0")])).unwrap_err();
        assert!(format!("{err}").contains("SESAME_RESET_PASSWORD_EXPIRES_IN"));
    }
}
