//! How a configuration variable is described and read.
//!
//! A [`Var`] is the one description of a variable: its name, its default, its help text, how
//! secret its value is, and the parser that turns the text into a typed value. `--help`, the
//! README table, `sesame config check` and the unknown-name report are all made from these
//! descriptions (`config/report.rs`, `config/unknown.rs`); the area modules
//! (`config/server.rs`, …) list them and read them through a [`Reader`].
//!
//! A [`Reader`] reads from a [`Source`], any name → value map (the process environment is one,
//! a test's `HashMap` another), never from `std::env` directly. It records every value read
//! (for `config check`) and every problem, so one run reports all mistakes, not just the first.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

/// Where variables come from: a name → value map.
pub trait Source {
    fn value(&self, name: &str) -> Option<&str>;
    /// Every name the source holds (for the unknown-name report).
    fn names(&self) -> Vec<String>;
}

impl Source for HashMap<String, String> {
    fn value(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
    fn names(&self) -> Vec<String> {
        self.keys().cloned().collect()
    }
}

impl Source for BTreeMap<String, String> {
    fn value(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
    fn names(&self) -> Vec<String> {
        self.keys().cloned().collect()
    }
}

/// What a variable means when it is not set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Default {
    /// A value, parsed by the variable's own parser (so it is written once).
    Value(&'static str),
    /// Worked out from something else; the text says what (`2 x cores`).
    Computed(&'static str),
    /// Nothing: the feature is off or the value optional.
    None,
}

/// How much of a value `config check` may print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sensitivity {
    Public,
    /// Never printed.
    Secret,
    /// A URL whose password (and query) are hidden.
    Url,
}

/// The untyped part of a variable's description; tables of every variable list these.
#[derive(Debug)]
pub struct Spec {
    /// The name; `<P>` stands for a built-in provider (`GITHUB`), `<ID>` for a generic one.
    pub name: &'static str,
    pub default: Default,
    pub help: &'static str,
    pub sensitivity: Sensitivity,
}

impl Spec {
    /// The default as `--help` and the README show it.
    pub fn default_text(&self) -> &'static str {
        match self.default {
            Default::Value(v) | Default::Computed(v) => v,
            Default::None => "",
        }
    }

    /// A value made printable for `config check`.
    pub fn redact(&self, value: &str) -> String {
        match self.sensitivity {
            Sensitivity::Public => value.to_string(),
            Sensitivity::Secret => "****".to_string(),
            Sensitivity::Url => redact_url(value),
        }
    }
}

/// `scheme://user:****@host/path`, the query dropped; `****` when it is no URL.
fn redact_url(value: &str) -> String {
    match url::Url::parse(value) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("****"));
            }
            if u.query().is_some() {
                u.set_query(Some("****"));
            }
            u.to_string()
        }
        // Not a URL (`memory`): nothing to hide unless it looks like it holds credentials.
        Err(_) if value.contains('@') => "****".to_string(),
        Err(_) => value.to_string(),
    }
}

/// A variable: its description and its parser.
pub struct Var<T: 'static> {
    pub spec: Spec,
    pub parse: fn(&str) -> Result<T, String>,
}

impl<T> Var<T> {
    pub const fn new(
        name: &'static str,
        default: Default,
        help: &'static str,
        parse: fn(&str) -> Result<T, String>,
    ) -> Self {
        Var {
            spec: Spec {
                name,
                default,
                help,
                sensitivity: Sensitivity::Public,
            },
            parse,
        }
    }

    pub const fn secret(mut self) -> Self {
        self.spec.sensitivity = Sensitivity::Secret;
        self
    }

    pub const fn url_with_credentials(mut self) -> Self {
        self.spec.sensitivity = Sensitivity::Url;
        self
    }
}

/// Where an effective value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Set,
    Default,
}

/// One value as `config check` prints it (already redacted).
#[derive(Debug, Clone)]
pub struct Effective {
    pub area: &'static str,
    pub name: String,
    pub value: String,
    pub origin: Origin,
}

/// A secret variable `NAME` may instead be given as `NAME_FILE`, the path of a file holding it.
pub const FILE_SUFFIX: &str = "_FILE";

/// Reads typed values from a [`Source`], recording what it read and every problem.
pub struct Reader<'a> {
    source: &'a dyn Source,
    area: RefCell<&'static str>,
    read: RefCell<Vec<Effective>>,
    problems: RefCell<Vec<String>>,
}

impl<'a> Reader<'a> {
    pub fn new(source: &'a dyn Source) -> Self {
        Reader {
            source,
            area: RefCell::new(""),
            read: RefCell::new(Vec::new()),
            problems: RefCell::new(Vec::new()),
        }
    }

    /// Names the area whose variables are read next (for `config check`'s grouping).
    pub fn area(&self, title: &'static str) {
        *self.area.borrow_mut() = title;
    }

    /// The trimmed value of `name`; blank counts as unset.
    pub fn raw(&self, name: &str) -> Option<&'a str> {
        self.source.value(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// Whether `name` is set (non-blank).
    pub fn is_set(&self, name: &str) -> bool {
        self.raw(name).is_some()
    }

    fn record(&self, name: &str, shown: String, origin: Origin) {
        let area = *self.area.borrow();
        let mut read = self.read.borrow_mut();
        read.retain(|e| e.name != name);
        read.push(Effective {
            area,
            name: name.to_string(),
            value: shown,
            origin,
        });
    }

    /// Notes a problem; parsing goes on so that every problem is reported at once.
    pub fn problem(&self, message: impl Into<String>) {
        self.problems.borrow_mut().push(message.into());
    }

    /// The value under `name` (a concrete name for a `<P>`/`<ID>` pattern), parsed; `None`
    /// when unset or invalid (the problem is recorded).
    pub fn opt_named<T>(&self, var: &Var<T>, name: &str) -> Option<T> {
        match self.secret_value(var, name) {
            Some(Ok((text, from))) => {
                self.record(name, format!("(from {from})"), Origin::Set);
                self.parse_value(var, name, &text)
            }
            Some(Err(problem)) => {
                self.problem(problem);
                None
            }
            None => self.opt_plain(var, name),
        }
    }

    /// A secret's value from the file `<NAME>_FILE` names (systemd credentials, container
    /// secrets), trimmed, and that file's name for `config check`; `None` when that variable
    /// is unset or the variable is not a secret. Never both forms at once: which one wins
    /// would be a guess.
    fn secret_value<T>(&self, var: &Var<T>, name: &str) -> Option<Result<(String, String), String>> {
        if var.spec.sensitivity == Sensitivity::Public {
            return None;
        }
        let file_var = format!("{name}{FILE_SUFFIX}");
        let path = self.raw(&file_var)?;
        if self.is_set(name) {
            return Some(Err(format!("{name} and {file_var} are both set: set one")));
        }
        Some(match std::fs::read_to_string(path) {
            Ok(text) if text.trim().is_empty() => Err(format!("{file_var}: the file {path} is empty")),
            Ok(text) => Ok((text.trim().to_string(), format!("{file_var}={path}"))),
            Err(e) => Err(format!("{file_var}: cannot read {path} ({e})")),
        })
    }

    fn parse_value<T>(&self, var: &Var<T>, name: &str, text: &str) -> Option<T> {
        match (var.parse)(text) {
            Ok(v) => Some(v),
            Err(why) => {
                let shown = if var.spec.sensitivity == Sensitivity::Public {
                    format!("{name}={text:?}")
                } else {
                    name.to_string()
                };
                self.problem(format!("{shown}: {why}"));
                None
            }
        }
    }

    fn opt_plain<T>(&self, var: &Var<T>, name: &str) -> Option<T> {
        match self.raw(name) {
            None => {
                let shown = match var.spec.default {
                    Default::Computed(text) => format!("({text})"),
                    Default::Value(text) => var.spec.redact(text),
                    Default::None => String::new(),
                };
                self.record(name, shown, Origin::Default);
                None
            }
            Some(text) => {
                self.record(name, var.spec.redact(text), Origin::Set);
                self.parse_value(var, name, text)
            }
        }
    }

    /// The value, or `None` when unset or invalid.
    pub fn opt<T>(&self, var: &Var<T>) -> Option<T> {
        self.opt_named(var, var.spec.name)
    }

    /// The value, or the variable's [`Default::Value`] parsed by the same parser.
    pub fn get<T>(&self, var: &Var<T>) -> T {
        self.get_or(var, || match var.spec.default {
            Default::Value(text) => match (var.parse)(text) {
                Ok(v) => v,
                // Every built-in default is parsed by `config::tests::defaults_parse`.
                Err(why) => unreachable!("the built-in default of {} must parse: {why}", var.spec.name),
            },
            _ => unreachable!("{} has no default value: read it with get_or or opt", var.spec.name),
        })
    }

    /// The value, or `default()` when unset (or invalid: the problem is recorded).
    pub fn get_or<T>(&self, var: &Var<T>, default: impl FnOnce() -> T) -> T {
        self.opt(var).unwrap_or_else(default)
    }

    /// Records the effective value of a variable whose default was computed (`2 x cores` → `4`).
    pub fn note_default<T>(&self, var: &Var<T>, shown: impl std::fmt::Display) {
        if !self.is_set(var.spec.name) {
            self.record(
                var.spec.name,
                format!("{shown} ({})", var.spec.default_text()),
                Origin::Default,
            );
        }
    }

    /// Every value read, in reading order.
    pub fn effective(&self) -> Vec<Effective> {
        self.read.borrow().clone()
    }

    pub fn problems(&self) -> Vec<String> {
        self.problems.borrow().clone()
    }

    pub fn source(&self) -> &'a dyn Source {
        self.source
    }
}

// ---- parsers shared by the areas ----

pub fn number<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse().map_err(|_| "not a valid number".to_string())
}

/// A number that must be at least 1.
pub fn positive<T: std::str::FromStr + PartialOrd + From<u8>>(s: &str) -> Result<T, String> {
    let n: T = number(s)?;
    if n < T::from(1) {
        return Err("must be at least 1".to_string());
    }
    Ok(n)
}

pub fn boolean(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err("must be true or false".to_string()),
    }
}

pub fn text(s: &str) -> Result<String, String> {
    Ok(s.to_string())
}

/// A comma-separated list, blanks dropped.
pub fn list(s: &str) -> Result<Vec<String>, String> {
    Ok(s.split(',')
        .map(|o| o.trim().to_string())
        .filter(|o| !o.is_empty())
        .collect())
}

/// A list separated by commas or spaces (scopes).
pub fn word_list(s: &str) -> Result<Vec<String>, String> {
    Ok(s.split([',', ' '])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect())
}

/// An `http://` or `https://` URL, kept as written.
pub fn http_url(s: &str) -> Result<String, String> {
    let u = url::Url::parse(s).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err("must be an http:// or https:// URL".to_string());
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORTISH: Var<u16> = Var::new("X_PORT", Default::Value("3000"), "", number);
    const KEY: Var<String> = Var::new("X_KEY", Default::None, "", text).secret();
    const DB: Var<String> = Var::new("X_DB", Default::None, "", text).url_with_credentials();

    fn source(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_are_parsed_by_the_same_parser() {
        let s = source(&[]);
        let r = Reader::new(&s);
        assert_eq!(r.get(&PORTISH), 3000);
        assert!(r.problems().is_empty());
        assert_eq!(r.effective()[0].origin, Origin::Default);
    }

    #[test]
    fn every_problem_is_kept_and_secrets_are_never_echoed() {
        let s = source(&[("X_PORT", "http"), ("X_KEY", " hunter2 ")]);
        let r = Reader::new(&s);
        assert_eq!(r.get(&PORTISH), 3000);
        let key: Option<u16> = r.opt_named(&Var::new("X_KEY", Default::None, "", number).secret(), "X_KEY");
        assert_eq!(key, None);
        let problems = r.problems().join("\n");
        assert!(problems.contains("X_PORT=\"http\""), "{problems}");
        assert!(
            problems.contains("X_KEY") && !problems.contains("hunter2"),
            "{problems}"
        );
        assert_eq!(r.opt(&KEY).as_deref(), Some("hunter2"), "values are trimmed");
        assert!(r.effective().iter().all(|e| !e.value.contains("hunter2")));
    }

    #[test]
    fn urls_lose_their_password_and_query() {
        let s = source(&[("X_DB", "postgres://u:pw@h:5432/db?sslpassword=x")]);
        let r = Reader::new(&s);
        r.opt(&DB);
        let shown = &r.effective()[0].value;
        assert_eq!(shown, "postgres://u:****@h:5432/db?****");
    }
}
