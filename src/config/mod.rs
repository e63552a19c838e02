//! Configuration: variables (the process environment, or any other name → value [`Source`])
//! parsed once into a validated, typed [`Config`].
//!
//! Each variable is described once, as a [`Var`] (name, default, help, parser) in the module
//! of its area; [`AREAS`] lists the areas' tables in the order `--help` and the README show
//! them. Everything else is made from those tables: `sesame --help` and the README tables
//! (`report.rs`, a test keeps README.md equal to them), `sesame config check`, and the report
//! of unknown `SESAME_*` / `BETTER_AUTH_*` names (`unknown.rs`). Secrets live in [`Secret`],
//! whose `Debug` prints `****`, so a logged `Config` never leaks them.

pub mod accounts;
pub mod builder;
pub mod cookies;
pub mod mail;
pub mod oauth;
pub mod observability;
pub mod plugins;
pub mod rate_limit;
pub mod report;
pub mod secret_file;
pub mod server;
pub mod storage;
pub mod unknown;
pub mod var;

use std::collections::{BTreeMap, HashMap};

pub use builder::ConfigBuilder;
pub use mail::{EmailConfig, MailTransport, OutboxConfig};
pub use unknown::Unknown;
pub use var::{Effective, Reader, Source, Spec, Var};

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

/// One area's variables, as `--help` and the README group them.
pub struct Area {
    pub title: &'static str,
    pub variables: &'static [&'static Spec],
}

/// Every area, in the order `--help`, the README and `config check` show them.
pub const AREAS: &[Area] = &[
    Area {
        title: server::TITLE,
        variables: server::VARIABLES,
    },
    Area {
        title: cookies::TITLE,
        variables: cookies::VARIABLES,
    },
    Area {
        title: storage::TITLE,
        variables: storage::VARIABLES,
    },
    Area {
        title: accounts::TITLE,
        variables: accounts::VARIABLES,
    },
    Area {
        title: mail::TITLE,
        variables: mail::VARIABLES,
    },
    Area {
        title: oauth::TITLE,
        variables: oauth::VARIABLES,
    },
    Area {
        title: rate_limit::TITLE,
        variables: rate_limit::VARIABLES,
    },
    Area {
        title: plugins::TITLE,
        variables: plugins::VARIABLES,
    },
    Area {
        title: observability::TITLE,
        variables: observability::VARIABLES,
    },
];

/// Every variable, area by area.
pub fn variables() -> impl Iterator<Item = &'static Spec> {
    AREAS.iter().flat_map(|a| a.variables.iter().copied())
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

/// The process environment as a [`Source`] (read once; values that are not UTF-8 are kept
/// lossily, so they fail their parser instead of vanishing).
pub struct Environment(BTreeMap<String, String>);

impl Environment {
    pub fn capture() -> Environment {
        Environment(
            std::env::vars_os()
                .map(|(k, v)| (k.to_string_lossy().into_owned(), v.to_string_lossy().into_owned()))
                .collect(),
        )
    }
}

impl Source for Environment {
    fn value(&self, name: &str) -> Option<&str> {
        self.0.value(name)
    }
    fn names(&self) -> Vec<String> {
        self.0.names()
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub host: std::net::IpAddr,
    pub port: u16,
    pub workers: usize,
    /// Threads of the hashing pool, how many hashes may wait for them, and for how long.
    pub hash_threads: usize,
    pub hash_queue: usize,
    pub hash_start_timeout_ms: u64,
    /// CPU-seconds per second hashing gets and may use while the workers are busy (`SESAME_HASH_SHARE`
    /// × cores); `None`: no cap.
    pub hash_cpu_rate: Option<f64>,
    /// Origin of the public URL, without a trailing slash (`http://localhost:3000`).
    pub base_origin: String,
    /// Path prefix of every endpoint (`/api/auth`).
    pub base_path: String,
    pub secret: Secret,
    /// True when the secret was generated for this process.
    pub secret_is_ephemeral: bool,
    /// The file the secret was read from or generated into, when it is kept with a SQLite
    /// database (`secret_file::settle`).
    pub secret_file: Option<std::path::PathBuf>,
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
    /// `SESAME_COOKIE_DOMAIN`: the `Domain` attribute of every cookie.
    pub cookie_domain: Option<String>,
    /// `SESAME_COOKIE_SAMESITE`.
    pub cookie_same_site: cookies::SameSite,
    /// `SESAME_SECURE_COOKIES`; unset: whether the public URL is https.
    pub secure_cookies_setting: Option<bool>,
    pub pool_size: Option<u32>,
    pub auto_migrate: bool,
    /// Enabled plugin ids (`SESAME_PLUGINS`), checked against the compiled-in list.
    pub plugins: Vec<String>,
    /// bearer plugin: refuse raw (unsigned) session tokens (`SESAME_BEARER_REQUIRE_SIGNATURE`).
    pub bearer_require_signature: bool,
    /// two-factor plugin: the TOTP issuer (`SESAME_TWO_FACTOR_ISSUER`); `None`: the app name.
    pub two_factor_issuer: Option<String>,
    /// The jwt plugin's settings (`SESAME_JWT_*`).
    pub jwt: plugins::JwtConfig,
    /// The admin plugin's settings (`SESAME_ADMIN_*`).
    pub admin: plugins::AdminConfig,
    /// The magic-link plugin's settings (`SESAME_MAGIC_LINK_*`).
    pub magic_link: plugins::MagicLinkConfig,
    /// The anonymous plugin's settings (`SESAME_ANONYMOUS_*`).
    pub anonymous: plugins::AnonymousConfig,
    /// email-otp plugin: no sign-up by code (`SESAME_EMAIL_OTP_DISABLE_SIGN_UP`).
    pub email_otp_disable_sign_up: bool,
    /// email-otp plugin: verification emails carry a code, not a link
    /// (`SESAME_EMAIL_OTP_OVERRIDE_EMAIL_VERIFICATION`).
    pub email_otp_override_email_verification: bool,
    /// email-otp plugin: a code after every sign-up (`SESAME_EMAIL_OTP_SEND_VERIFICATION_ON_SIGN_UP`).
    pub email_otp_send_verification_on_sign_up: bool,
    pub postgres_startup_timeout: u64,
    /// `SESAME_SESSION_CACHE*`: the session cache's bounds on PostgreSQL; `None`: off.
    pub session_cache: Option<storage::CacheLimits>,
    pub rehash_on_sign_in: bool,
    /// Email delivery and the email flows.
    pub email: EmailConfig,
    /// Social sign-in providers and settings.
    pub oauth: oauth::OAuthConfig,
    pub rate_limit: bool,
    pub rate_limit_rules: Vec<crate::ratelimit::CustomRule>,
    pub rate_limit_storage: crate::ratelimit::StoreKind,
    pub trusted_proxies: Vec<crate::http::client_ip::IpNet>,
    /// `SESAME_IP_ADDRESS_HEADERS`: the client-address headers trusted proxies set.
    pub ip_address_headers: Vec<String>,
    pub read_timeout_secs: u64,
    pub max_connections: usize,
    /// Connections one client address may hold (`SESAME_MAX_CONNECTIONS_PER_IP`); trusted
    /// proxies are exempt.
    pub max_connections_per_ip: usize,
    pub max_header_bytes: usize,
    /// `SESAME_LOG`: the log filter (checked).
    pub log_filter: String,
    pub log_format: crate::log::LogFormat,
    /// Where `/metrics` is served; `None`: nowhere.
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// What reading a [`Source`] gave: the configuration unless there were problems, every value
/// read (redacted) for `config check`, and the names nobody reads.
pub struct Loaded {
    pub config: Option<Config>,
    pub problems: Vec<String>,
    pub effective: Vec<Effective>,
    pub unknown: Vec<Unknown>,
}

impl Loaded {
    /// The configuration, or an error listing every problem.
    pub fn into_result(self) -> anyhow::Result<Config> {
        match self.config {
            Some(c) if self.problems.is_empty() => Ok(c),
            _ => Err(self.error()),
        }
    }

    /// Every problem as one error (the unknown names too: a typo may be the cause).
    pub fn error(&self) -> anyhow::Error {
        let mut message = String::from("invalid configuration:");
        for p in &self.problems {
            message.push_str("\n  ");
            message.push_str(p);
        }
        for u in &self.unknown {
            message.push_str(&format!("\n  (also: {u})"));
        }
        anyhow::anyhow!("{message}")
    }
}

impl Config {
    /// Reads every area from `source`.
    pub fn load(source: &dyn Source) -> Loaded {
        let r = Reader::new(source);
        let server = server::read(&r);
        let cookies = cookies::read(&r, server.host, server.port);
        let storage = storage::read(&r);
        let accounts = accounts::read(&r);
        let email = mail::read(&r, accounts.require_email_verification);
        let oauth = oauth::read(&r);
        let rate = rate_limit::read(&r);
        let plugins = plugins::read(&r);
        let observe = observability::read(&r);
        let config = Config {
            host: server.host,
            port: server.port,
            workers: server.workers,
            hash_threads: server.hash_threads,
            hash_queue: server.hash_queue,
            hash_start_timeout_ms: server.hash_start_timeout_ms,
            hash_cpu_rate: server.hash_cpu_rate,
            base_origin: cookies.base_origin,
            base_path: cookies.base_path,
            secret: cookies.secret,
            secret_is_ephemeral: cookies.secret_is_ephemeral,
            secret_file: None,
            trusted_origins: cookies.trusted_origins,
            storage: storage.storage,
            max_body_bytes: server.max_body_bytes,
            bcrypt_cost: accounts.bcrypt_cost,
            password_hash: accounts.password_hash,
            min_password_length: accounts.min_password_length,
            max_password_length: accounts.max_password_length,
            session_expires_in: accounts.session_expires_in,
            session_update_age: accounts.session_update_age,
            session_fresh_age: accounts.session_fresh_age,
            disable_sign_up: accounts.disable_sign_up,
            auto_sign_in: accounts.auto_sign_in,
            require_email_verification: accounts.require_email_verification,
            cookie_prefix: cookies.cookie_prefix,
            cookie_domain: cookies.cookie_domain,
            cookie_same_site: cookies.cookie_same_site,
            secure_cookies_setting: cookies.secure_cookies_setting,
            pool_size: storage.pool_size,
            auto_migrate: storage.auto_migrate,
            plugins: plugins.plugins,
            bearer_require_signature: plugins.bearer_require_signature,
            two_factor_issuer: plugins.two_factor_issuer,
            jwt: plugins.jwt,
            admin: plugins.admin,
            magic_link: plugins.magic_link,
            anonymous: plugins.anonymous,
            email_otp_disable_sign_up: plugins.email_otp_disable_sign_up,
            email_otp_override_email_verification: plugins.email_otp_override_email_verification,
            email_otp_send_verification_on_sign_up: plugins.email_otp_send_verification_on_sign_up,
            postgres_startup_timeout: storage.postgres_startup_timeout,
            session_cache: storage.session_cache,
            rehash_on_sign_in: accounts.rehash_on_sign_in,
            email,
            oauth,
            rate_limit: rate.rate_limit,
            rate_limit_rules: rate.rate_limit_rules,
            rate_limit_storage: rate.rate_limit_storage,
            trusted_proxies: server.trusted_proxies,
            ip_address_headers: server.ip_address_headers,
            read_timeout_secs: server.read_timeout_secs,
            max_connections: server.max_connections,
            max_connections_per_ip: server.max_connections_per_ip,
            max_header_bytes: server.max_header_bytes,
            log_filter: observe.log_filter,
            log_format: observe.log_format,
            metrics_addr: observe.metrics_addr,
        };
        let effective = r.effective();
        let specs: Vec<&Spec> = variables().collect();
        let unknown = unknown::find(source, &specs, &effective);
        let problems = r.problems();
        Loaded {
            config: problems.is_empty().then_some(config),
            problems,
            effective,
            unknown,
        }
    }

    /// A configuration set in code (every variable at its default until set), checked as
    /// the environment is: see [`ConfigBuilder`].
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::new()
    }

    /// Reads `source`; an error lists every problem.
    pub fn from_source(source: &dyn Source) -> anyhow::Result<Config> {
        ConfigBuilder::from_source(source).build()
    }

    /// Reads the process environment.
    pub fn from_env() -> anyhow::Result<Config> {
        ConfigBuilder::from_env().build()
    }

    /// Parses a set of variables; unknown names are ignored, bad values are errors naming the
    /// variable.
    pub fn from_vars(vars: &HashMap<String, String>) -> anyhow::Result<Config> {
        Config::from_source(vars)
    }

    /// A configuration for tests: fixed secret, bcrypt cost 4, memory storage.
    pub fn for_tests() -> Config {
        let vars: HashMap<String, String> = [
            ("BETTER_AUTH_SECRET", cookies::TEST_SECRET),
            ("DATABASE_URL", "memory"),
            ("SESAME_BCRYPT_COST", "4"),
            ("SESAME_WORKERS", "4"),
            // Parallel tests on a loaded machine must not meet the hashing pool's 2 s deadline,
            // and races of 50 sign-ups must not fill its queue; the pool's own tests set both.
            ("SESAME_HASH_START_TIMEOUT_MS", "60000"),
            ("SESAME_HASH_QUEUE", "256"),
            // Tests share one client address and a fixed clock; the rate-limit tests turn it on.
            ("SESAME_RATE_LIMIT", "false"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        match Config::from_vars(&vars) {
            Ok(c) => c,
            // The fixed variables above always parse; reaching this is a bug in this function.
            Err(e) => unreachable!("test config must parse: {e:#}"),
        }
    }

    /// Warnings worth printing at start-up (never the secret itself).
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        let kept_file = match &self.storage {
            StorageUrl::Sqlite(path) if path != ":memory:" => Some(secret_file::path_for(path)),
            _ => None,
        };
        if self.secret_file.is_some() {
            // Said on the listening line instead.
        } else if let (true, Some(file)) = (self.secret_is_ephemeral, kept_file) {
            w.push(format!(
                "BETTER_AUTH_SECRET is not set: `sesame serve` keeps a generated secret in {} (created on first start)",
                file.display()
            ));
        } else if self.secret_is_ephemeral {
            w.push("BETTER_AUTH_SECRET is not set: using a random secret, sessions will not survive a restart (`sesame secret` prints one)".to_string());
        } else if cookies::PUBLISHED_SECRETS.contains(&self.secret.expose()) {
            w.push("!!! BETTER_AUTH_SECRET is a published default: anyone can forge session cookies with it. Allowed only because BETTER_AUTH_URL is a loopback URL; never use it in production (`sesame secret` prints a good one) !!!".to_string());
        } else if self.secret.expose().chars().count() < cookies::MIN_SECRET_CHARS {
            w.push(format!(
                "BETTER_AUTH_SECRET is shorter than {} characters (refused on a public HOST)",
                cookies::MIN_SECRET_CHARS
            ));
        }
        // Reachable from other machines, yet every link, redirect, cookie and the trusted
        // origin name localhost: the classic first deployment that "works" only on the server.
        let url = url::Url::parse(&self.base_origin).ok();
        if !self.host.is_loopback() && url.as_ref().is_some_and(|u| cookies::is_loopback_host(u.host())) {
            w.push(format!(
                "listening on {} (reachable from other machines) while BETTER_AUTH_URL is {}: emailed links, redirects, cookies and the trusted origin all name this machine's loopback; set BETTER_AUTH_URL to the public URL",
                self.host,
                self.base_url()
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

    /// Cookies are `Secure` and `__Secure-`-prefixed when the public URL is https, or when
    /// `SESAME_SECURE_COOKIES` says so.
    pub fn secure_cookies(&self) -> bool {
        self.secure_cookies_setting
            .unwrap_or_else(|| self.base_origin.starts_with("https://"))
    }
}

#[cfg(test)]
mod tests;
