//! An [`App`] configured in code, for a program that embeds Sesame: the variables through a
//! [`ConfigBuilder`] (checked exactly as the environment's), plus what only code can give —
//! an opened storage, a mail transport (a function, like Better Auth's
//! `sendVerificationEmail`, or any [`Mailer`]) and a clock.
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! let app = sesame::App::builder()
//!     .secret("a long random secret, from the program's own secret store")
//!     .base_url("https://auth.example.com")
//!     .storage_url("sqlite:auth.db")
//!     .send_email(|mail| {
//!         println!("to {}: {}", mail.to, mail.url);
//!         Ok(())
//!     })
//!     .build()?;
//! # Ok(()) }
//! ```

use std::sync::Arc;

use crate::app::{open_storage, App};
use crate::clock::{Clock, SystemClock};
use crate::config::var::Origin;
use crate::config::{storage, Config, ConfigBuilder, MailTransport};
use crate::mail::{DeliveryError, Mail, Mailer};
use crate::storage::Storage;

/// The configuration plus the parts only code can give. See the module documentation.
pub struct AppBuilder {
    config: ConfigBuilder,
    storage: Option<Arc<dyn Storage>>,
    mailer: Option<Arc<dyn Mailer>>,
    clock: Option<Arc<dyn Clock>>,
}

impl Default for AppBuilder {
    fn default() -> Self {
        AppBuilder::new()
    }
}

impl AppBuilder {
    /// Nothing set: every variable at its default.
    pub fn new() -> AppBuilder {
        AppBuilder::with_config(ConfigBuilder::new())
    }

    /// The process environment as the base (what the program sets replaces it).
    pub fn from_env() -> AppBuilder {
        AppBuilder::with_config(ConfigBuilder::from_env())
    }

    /// Over a configuration builder of the program's making.
    pub fn with_config(config: ConfigBuilder) -> AppBuilder {
        AppBuilder {
            config,
            storage: None,
            mailer: None,
            clock: None,
        }
    }

    /// Changes the configuration builder (`.config(|c| c.set(…))`).
    pub fn config(mut self, change: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> AppBuilder {
        self.config = change(self.config);
        self
    }

    /// `BETTER_AUTH_SECRET` ([`ConfigBuilder::secret`]).
    pub fn secret(self, secret: impl Into<String>) -> AppBuilder {
        self.config(|c| c.secret(secret))
    }

    /// `BETTER_AUTH_URL` ([`ConfigBuilder::base_url`]).
    pub fn base_url(self, url: impl Into<String>) -> AppBuilder {
        self.config(|c| c.base_url(url))
    }

    /// `SESAME_BASE_PATH` ([`ConfigBuilder::base_path`]).
    pub fn base_path(self, path: impl Into<String>) -> AppBuilder {
        self.config(|c| c.base_path(path))
    }

    /// `DATABASE_URL` ([`ConfigBuilder::storage_url`]); or give an opened [`AppBuilder::storage`].
    pub fn storage_url(self, url: impl Into<String>) -> AppBuilder {
        self.config(|c| c.storage_url(url))
    }

    /// `BETTER_AUTH_TRUSTED_ORIGINS` ([`ConfigBuilder::trusted_origins`]).
    pub fn trusted_origins<I, S>(self, origins: I) -> AppBuilder
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.config(|c| c.trusted_origins(origins))
    }

    /// `SESAME_PLUGINS` ([`ConfigBuilder::plugins`]).
    pub fn plugins<I, S>(self, ids: I) -> AppBuilder
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.config(|c| c.plugins(ids))
    }

    /// Any other variable, by name ([`ConfigBuilder::set`]).
    pub fn set(self, name: impl AsRef<str>, value: impl Into<String>) -> AppBuilder {
        self.config(|c| c.set(name, value))
    }

    /// An opened storage (migrated by the program, e.g. with
    /// `SqliteStorage::connect(path, &config, &sesame::app::migrations())`) instead of the one
    /// `DATABASE_URL` names; giving both is an error.
    pub fn storage(mut self, storage: Arc<dyn Storage>) -> AppBuilder {
        self.storage = Some(storage);
        self
    }

    /// Every email goes through `send`, on the mail thread, with the outbox's retries for a
    /// transient error (Better Auth's `sendVerificationEmail` and friends in one function; the
    /// [`Mail`]'s `kind` says which). A transport named by variables as well is an error.
    pub fn send_email<F>(self, send: F) -> AppBuilder
    where
        F: Fn(&Mail) -> Result<(), DeliveryError> + Send + Sync + 'static,
    {
        self.mailer(Arc::new(crate::mail::from_fn(send)))
    }

    /// Every email goes through `mailer` (see [`AppBuilder::send_email`]).
    pub fn mailer(mut self, mailer: Arc<dyn Mailer>) -> AppBuilder {
        self.mailer = Some(mailer);
        self
    }

    /// The clock sessions and tokens are timed by (tests fix it).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> AppBuilder {
        self.clock = Some(clock);
        self
    }

    /// The configuration alone, checked: every problem at once, as the environment's.
    pub fn build_config(&self) -> anyhow::Result<Config> {
        let mut loaded = self.config.load();
        let explicit = |name: &str| {
            loaded
                .effective
                .iter()
                .any(|e| e.name == name && e.origin == Origin::Set)
        };
        if self.storage.is_some() && explicit(storage::DATABASE_URL.spec.name) {
            loaded.problems.push(
                "DATABASE_URL is set and a storage is given in code: give one (the storage in code replaces DATABASE_URL)"
                    .to_string(),
            );
        }
        if let Some(c) = &loaded.config {
            if self.mailer.is_some() && c.email.transport != MailTransport::Log {
                loaded.problems.push(
                    "SESAME_SMTP_URL or SESAME_EMAIL_WEBHOOK_URL is set and a mail transport is given in code: give one"
                        .to_string(),
                );
            }
        }
        loaded.into_result()
    }

    /// The app: the configuration checked, the storage opened (and migrated) unless given.
    pub fn build(self) -> anyhow::Result<App> {
        let config = self.build_config()?;
        let storage = match self.storage {
            Some(s) => s,
            None => open_storage(&config)?,
        };
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let app = App::assemble(config, storage, clock, self.mailer)?;
        app.oauth.warm_up();
        Ok(app)
    }
}
