//! The configuration in code. A [`ConfigBuilder`] holds variables by name, as the environment
//! would give them, over an optional base [`Source`] (the process environment is one), and
//! reads them through the same area readers as `sesame serve`: every value a program sets is
//! checked by the same parser as its environment variable, against the same rules, and a
//! mistake gives the same error, naming that variable. The environment path is the builder
//! with the environment as its base ([`ConfigBuilder::from_env`]).
//!
//! The named methods cover what nearly every program sets; [`ConfigBuilder::set`] takes any
//! other variable of `sesame --help` (a plugin's options, cookie settings, …), so a variable
//! added to an area is settable in code with no change here. A name set in code that is not a
//! Sesame variable is an error (in the environment it is only reported: a shell may hold
//! anything, a program's own code should not).

use std::collections::BTreeMap;

use super::var::{Source, Spec, FILE_SUFFIX};
use super::{cookies, plugins, storage, unknown, variables, Config, Environment, Loaded};

/// Variables set in code over a base source. Later settings of a variable replace earlier ones.
#[derive(Clone, Default)]
pub struct ConfigBuilder {
    base: BTreeMap<String, String>,
    set: BTreeMap<String, String>,
}

/// Values may be secrets: `Debug` names the variables only.
impl std::fmt::Debug for ConfigBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigBuilder")
            .field("base", &self.base.keys().collect::<Vec<_>>())
            .field("set", &self.set.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ConfigBuilder {
    /// Nothing set: every variable at its default (as an empty environment).
    pub fn new() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// `source`'s variables as the base; what is set in code replaces them.
    pub fn from_source(source: &dyn Source) -> ConfigBuilder {
        let base = source
            .names()
            .into_iter()
            .filter_map(|name| source.value(&name).map(|v| (name.clone(), v.to_string())))
            .collect();
        ConfigBuilder {
            base,
            set: BTreeMap::new(),
        }
    }

    /// The process environment as the base, so an operator's variables apply unless the
    /// program sets them.
    pub fn from_env() -> ConfigBuilder {
        ConfigBuilder::from_source(&Environment::capture())
    }

    /// `BETTER_AUTH_SECRET`: the key that signs cookies and tokens.
    pub fn secret(self, secret: impl Into<String>) -> ConfigBuilder {
        self.set(cookies::SECRET.spec.name, secret)
    }

    /// `BETTER_AUTH_URL`: the public URL (`https://auth.example.com`, or with a path that
    /// becomes the base path).
    pub fn base_url(self, url: impl Into<String>) -> ConfigBuilder {
        self.set(cookies::URL.spec.name, url)
    }

    /// `SESAME_BASE_PATH`: where the endpoints live (`/api/auth`).
    pub fn base_path(self, path: impl Into<String>) -> ConfigBuilder {
        self.set(cookies::BASE_PATH.spec.name, path)
    }

    /// `DATABASE_URL`: `memory`, `sqlite:PATH` or `postgres://…`.
    pub fn storage_url(self, url: impl Into<String>) -> ConfigBuilder {
        self.set(storage::DATABASE_URL.spec.name, url)
    }

    /// `BETTER_AUTH_TRUSTED_ORIGINS`: origins trusted besides the base URL's.
    pub fn trusted_origins<I, S>(self, origins: I) -> ConfigBuilder
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.set(cookies::TRUSTED_ORIGINS.spec.name, join(origins))
    }

    /// `SESAME_PLUGINS`: the plugins to enable, by id (`["username", "jwt"]`). Their options
    /// are variables of their own, given with [`ConfigBuilder::set`].
    pub fn plugins<I, S>(self, ids: I) -> ConfigBuilder
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.set(plugins::PLUGINS.spec.name, join(ids))
    }

    /// Any variable `sesame --help` lists, by name, with its value as text
    /// (`.set("SESAME_MIN_PASSWORD_LENGTH", "12")`). Setting `NAME` replaces a `NAME_FILE`
    /// of the base, and the other way round.
    pub fn set(mut self, name: impl AsRef<str>, value: impl Into<String>) -> ConfigBuilder {
        let name = name.as_ref().to_string();
        match name.strip_suffix(FILE_SUFFIX) {
            Some(stem) => self.base.remove(stem),
            None => self.base.remove(&format!("{name}{FILE_SUFFIX}")),
        };
        self.set.insert(name, value.into());
        self
    }

    /// Reads the variables as `sesame config check` does: the configuration unless there
    /// were problems, every problem, every value read (redacted), and the base's unknown names.
    pub fn load(&self) -> Loaded {
        let mut loaded = Config::load(self);
        let specs: Vec<&Spec> = variables().collect();
        let mut problems = Vec::new();
        for name in self.set.keys() {
            let read = loaded.effective.iter().any(|e| &e.name == name);
            if read || unknown::is_known(&specs, name) {
                continue;
            }
            let only = BTreeMap::from([(name.clone(), String::new())]);
            let hint = unknown::find(&only, &specs, &loaded.effective)
                .into_iter()
                .find_map(|u| u.suggestion)
                .map(|s| format!(" (did you mean {s}?)"))
                .unwrap_or_default();
            problems.push(format!("{name} is not a Sesame variable{hint}"));
        }
        if !problems.is_empty() {
            loaded.unknown.retain(|u| !self.set.contains_key(&u.name));
            loaded.problems.extend(problems);
            loaded.config = None;
        }
        loaded
    }

    /// The configuration, or an error listing every problem (the environment's errors).
    pub fn build(&self) -> anyhow::Result<Config> {
        self.load().into_result()
    }

    /// Whether `name` was given (set in code, or in the base) rather than left at its default.
    pub fn is_given(&self, name: &str) -> bool {
        self.value(name).is_some() || self.value(&format!("{name}{FILE_SUFFIX}")).is_some()
    }
}

/// Code over base.
impl Source for ConfigBuilder {
    fn value(&self, name: &str) -> Option<&str> {
        self.set.get(name).or_else(|| self.base.get(name)).map(String::as_str)
    }
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.base.keys().chain(self.set.keys()).cloned().collect();
        names.sort();
        names.dedup();
        names
    }
}

fn join<I, S>(items: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    items
        .into_iter()
        .map(|s| s.as_ref().trim().to_string())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const SECRET: &str = "a secret long enough for any host 0123456789";

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn code_and_environment_give_the_same_configuration() {
        let from_env = Config::from_vars(&env(&[
            ("BETTER_AUTH_SECRET", SECRET),
            ("BETTER_AUTH_URL", "https://auth.example.com"),
            ("SESAME_BASE_PATH", "/auth"),
            ("DATABASE_URL", "memory"),
            (
                "BETTER_AUTH_TRUSTED_ORIGINS",
                "https://app.example.com,https://*.example.org",
            ),
            ("SESAME_PLUGINS", "username,jwt"),
            ("SESAME_JWT_ISSUER", "https://issuer.example.com"),
        ]))
        .unwrap();
        let from_code = Config::builder()
            .secret(SECRET)
            .base_url("https://auth.example.com")
            .base_path("/auth")
            .storage_url("memory")
            .trusted_origins(["https://app.example.com", "https://*.example.org"])
            .plugins(["username", "jwt"])
            .set("SESAME_JWT_ISSUER", "https://issuer.example.com")
            .build()
            .unwrap();
        assert_eq!(format!("{from_code:?}"), format!("{from_env:?}"));
        assert_eq!(from_code.secret.expose(), SECRET);
        assert_eq!(from_code.base_url(), "https://auth.example.com/auth");
        assert_eq!(from_code.plugins, ["username", "jwt"]);
    }

    #[test]
    fn a_bad_value_in_code_is_the_environments_error() {
        let cases: &[(&str, &str)] = &[
            ("BETTER_AUTH_URL", "not a url"),
            ("SESAME_BASE_PATH", "auth"),
            ("DATABASE_URL", "mysql://db"),
            ("SESAME_PLUGINS", "username,nope"),
            ("SESAME_MIN_PASSWORD_LENGTH", "200"),
        ];
        for (name, value) in cases {
            let from_env = Config::from_vars(&env(&[(name, value)])).unwrap_err();
            let from_code = Config::builder().set(*name, *value).build().unwrap_err();
            assert_eq!(format!("{from_code:#}"), format!("{from_env:#}"), "{name}");
            assert!(format!("{from_code:#}").contains(name), "{from_code:#}");
        }
        // The named methods are the same variables.
        let by_method = Config::builder().base_url("not a url").build().unwrap_err();
        let by_name = Config::builder()
            .set("BETTER_AUTH_URL", "not a url")
            .build()
            .unwrap_err();
        assert_eq!(format!("{by_method:#}"), format!("{by_name:#}"));
    }

    #[test]
    fn every_problem_in_code_is_reported_at_once() {
        let loaded = Config::builder()
            .base_path("auth")
            .storage_url("mysql://db")
            .set("SESAME_BCRYPT_COST", "99")
            .load();
        assert!(loaded.config.is_none());
        let all = loaded.problems.join("\n");
        for name in ["SESAME_BASE_PATH", "DATABASE_URL", "SESAME_BCRYPT_COST"] {
            assert!(all.contains(name), "{name} missing from {all}");
        }
    }

    #[test]
    fn a_name_set_in_code_that_sesame_does_not_read_is_an_error() {
        let err = Config::builder().set("SESAME_RATE_LIMT", "false").build().unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "invalid configuration:\n  SESAME_RATE_LIMT is not a Sesame variable (did you mean SESAME_RATE_LIMIT?)"
        );
        let err = Config::builder().set("DATABASE", "memory").build().unwrap_err();
        assert!(
            format!("{err:#}").contains("DATABASE is not a Sesame variable"),
            "{err:#}"
        );
        // Patterned names (a configured provider's variables) and `_FILE` forms are known.
        let ok = Config::builder()
            .set("GITHUB_CLIENT_ID", "id")
            .set("GITHUB_CLIENT_SECRET", "s")
            .set("BETTER_AUTH_SECRET_FILE", "/nonexistent");
        let all = ok.load().problems.join("\n");
        assert!(!all.contains("not a Sesame variable"), "{all}");
        assert!(all.contains("BETTER_AUTH_SECRET_FILE: cannot read"), "{all}");
    }

    #[test]
    fn an_unknown_name_in_the_base_is_reported_as_in_the_environment() {
        let loaded = ConfigBuilder::from_source(&env(&[("SESAME_RATE_LIMT", "false")])).load();
        assert!(loaded.config.is_some(), "{:?}", loaded.problems);
        assert_eq!(loaded.unknown.len(), 1);
        assert_eq!(loaded.unknown[0].name, "SESAME_RATE_LIMT");
    }

    #[test]
    fn code_replaces_the_base_and_a_later_setting_an_earlier_one() {
        let base = env(&[("PORT", "4000"), ("SESAME_MIN_PASSWORD_LENGTH", "10")]);
        let c = ConfigBuilder::from_source(&base)
            .set("PORT", "5000")
            .set("PORT", "5001")
            .build()
            .unwrap();
        assert_eq!(c.port, 5001);
        assert_eq!(c.min_password_length, 10);
        let builder = ConfigBuilder::from_source(&base);
        assert!(builder.is_given("PORT") && !builder.is_given("DATABASE_URL"));
    }

    #[test]
    fn a_secret_set_in_code_replaces_the_bases_secret_file() {
        let base = env(&[("BETTER_AUTH_SECRET_FILE", "/nonexistent/secret")]);
        assert!(ConfigBuilder::from_source(&base).build().is_err());
        let c = ConfigBuilder::from_source(&base).secret(SECRET).build().unwrap();
        assert_eq!(c.secret.expose(), SECRET);
        assert!(!c.secret_is_ephemeral);
    }

    #[test]
    fn debug_never_shows_a_value() {
        let b = Config::builder()
            .secret(SECRET)
            .storage_url("postgres://u:hunter2@h/db");
        let shown = format!("{b:?}");
        assert!(!shown.contains("hunter2") && !shown.contains(SECRET), "{shown}");
        assert!(shown.contains("BETTER_AUTH_SECRET"), "{shown}");
    }
}
