//! Which limit applies to a path: Better Auth's default and special rules (spec §9.3), and the
//! overrides of `SESAME_RATE_LIMIT_RULES`.
//!
//! Syntax: comma-separated `PATH=MAX/WINDOW_SECONDS` or `PATH=off`. `PATH` is a path without the
//! base path; a trailing `*` makes it a prefix (`/sign-in*`). The name `default` sets the rule
//! for every path no other rule covers. Example:
//! `/sign-in/email=5/10,/get-session=off,/forget-password*=3/300,default=200/10`.
//! Resolution, as Better Auth's "the last matching source wins": the default, then a built-in
//! special rule, then an override (an exact path before the longest matching prefix).

use anyhow::{bail, Context};

pub use crate::storage::rate_limit::Rule;

/// One override from `SESAME_RATE_LIMIT_RULES`; `rule: None` turns limiting off for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomRule {
    pub path: String,
    pub prefix: bool,
    pub rule: Option<Rule>,
}

const DEFAULT: Rule = Rule {
    window_secs: 10,
    max: 100,
};
const STRICT: Rule = Rule {
    window_secs: 10,
    max: 3,
};
const MAIL: Rule = Rule {
    window_secs: 60,
    max: 3,
};
/// The magic-link plugin's own rule (Better Auth: 5 per 60 s on sending and opening links).
const MAGIC_LINK: Rule = Rule {
    window_secs: 60,
    max: 5,
};
/// The email-otp plugin's rule for each of its routes (Better Auth: 3 per 60 s).
const EMAIL_OTP: Rule = Rule {
    window_secs: 60,
    max: 3,
};

/// Better Auth's special rules: prefixes with 3 per 10 s, mail-sending paths with 3 per 60 s, and
/// the plugins' own rules (magic-link, email-otp), which win over them.
/// Sesame adds `/verify-password`, which checks a password as sign-in does (Better Auth gives it
/// the default 100 per 10 s: a stolen session could test 100 guesses every 10 s).
fn special(path: &str) -> Option<Rule> {
    const STRICT_PREFIXES: &[&str] = &[
        "/sign-in",
        "/sign-up",
        "/change-password",
        "/change-email",
        "/verify-password",
        // The two-factor plugin's own rule (Better Auth: 3 per 10 s on `/two-factor/*`).
        "/two-factor/",
    ];
    const MAIL_EXACT: &[&str] = &["/request-password-reset", "/send-verification-email"];
    const MAIL_PREFIXES: &[&str] = &["/forget-password"];
    // A plugin's rule wins over the special ones, as in Better Auth: the email-otp plugin's
    // code-guessing routes get 3 per 60 s, not sign-in's 3 per 10 s.
    const EMAIL_OTP_EXACT: &[&str] = &[
        "/email-otp/send-verification-otp",
        "/email-otp/check-verification-otp",
        "/email-otp/verify-email",
        "/sign-in/email-otp",
        "/email-otp/request-password-reset",
        "/email-otp/reset-password",
        "/forget-password/email-otp",
        "/email-otp/request-email-change",
        "/email-otp/change-email",
    ];
    const MAGIC_LINK_PREFIXES: &[&str] = &["/sign-in/magic-link", "/magic-link/verify"];
    if MAGIC_LINK_PREFIXES.iter().any(|p| path.starts_with(p)) {
        Some(MAGIC_LINK)
    } else if EMAIL_OTP_EXACT.contains(&path) {
        Some(EMAIL_OTP)
    } else if STRICT_PREFIXES.iter().any(|p| path.starts_with(p)) {
        Some(STRICT)
    } else if MAIL_EXACT.contains(&path) || MAIL_PREFIXES.iter().any(|p| path.starts_with(p)) {
        Some(MAIL)
    } else {
        None
    }
}

/// The full rule set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rules {
    custom: Vec<CustomRule>,
}

impl Rules {
    pub fn new(custom: Vec<CustomRule>) -> Rules {
        Rules { custom }
    }

    /// The rule for paths nothing else covers; `None` after `default=off`.
    pub fn default_rule(&self) -> Option<Rule> {
        match self.custom.iter().find(|c| c.path == "default" && !c.prefix) {
            Some(c) => c.rule,
            None => Some(DEFAULT),
        }
    }

    /// Whether the path is one the special rules guard (sign-in, sign-up, password and email
    /// changes, mail-sending paths), whatever overrides say: a failing bucket store refuses
    /// these requests instead of letting them through unlimited.
    pub fn is_guarded(&self, path: &str) -> bool {
        special(path).is_some()
    }

    /// The rule for a path (without base path), `None` when limiting is off for it.
    pub fn for_path(&self, path: &str) -> Option<Rule> {
        let exact = self.custom.iter().find(|c| !c.prefix && c.path == path);
        let prefix = self
            .custom
            .iter()
            .filter(|c| c.prefix && path.starts_with(c.path.as_str()))
            .max_by_key(|c| c.path.len());
        match exact.or(prefix) {
            Some(c) => c.rule,
            None => special(path).or_else(|| self.default_rule()),
        }
    }
}

/// Parses one `MAX/SECONDS` or `off` (`None`).
pub fn parse_rule(value: &str) -> anyhow::Result<Option<Rule>> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let (max, window) = value
        .split_once('/')
        .with_context(|| format!("{value:?} must be MAX/SECONDS or off"))?;
    let max: u32 = max.trim().parse().with_context(|| format!("{value:?}: bad MAX"))?;
    let window_secs: u64 = window
        .trim()
        .parse()
        .with_context(|| format!("{value:?}: bad SECONDS"))?;
    if max == 0 || window_secs == 0 {
        bail!("{value:?}: MAX and SECONDS must be at least 1 (use `off` to disable)");
    }
    Ok(Some(Rule { window_secs, max }))
}

/// Parses `SESAME_RATE_LIMIT_RULES`.
pub fn parse(s: &str) -> anyhow::Result<Vec<CustomRule>> {
    let mut out = Vec::new();
    for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (path, value) = entry
            .split_once('=')
            .with_context(|| format!("rule {entry:?} must be PATH=MAX/SECONDS or PATH=off"))?;
        let path = path.trim();
        let (path, prefix) = match path.strip_suffix('*') {
            Some(p) => (p, true),
            None => (path, false),
        };
        if path != "default" && !path.starts_with('/') {
            bail!("rule {entry:?}: the path must start with / (or be `default`)");
        }
        let value = value.trim();
        let rule = if value.eq_ignore_ascii_case("off") {
            None
        } else {
            let (max, window) = value
                .split_once('/')
                .with_context(|| format!("rule {entry:?} must be PATH=MAX/SECONDS or PATH=off"))?;
            let max: u32 = max.trim().parse().with_context(|| format!("rule {entry:?}: bad MAX"))?;
            let window_secs: u64 = window
                .trim()
                .parse()
                .with_context(|| format!("rule {entry:?}: bad SECONDS"))?;
            if max == 0 || window_secs == 0 {
                bail!("rule {entry:?}: MAX and SECONDS must be at least 1 (use `off` to disable)");
            }
            Some(Rule { window_secs, max })
        };
        out.push(CustomRule {
            path: path.to_string(),
            prefix,
            rule,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_rules() {
        let r = Rules::default();
        assert_eq!(r.for_path("/get-session"), Some(DEFAULT));
        assert_eq!(r.for_path("/sign-in/email"), Some(STRICT));
        assert_eq!(r.for_path("/sign-up/email"), Some(STRICT));
        assert_eq!(r.for_path("/change-password"), Some(STRICT));
        assert_eq!(r.for_path("/change-email"), Some(STRICT));
        assert_eq!(r.for_path("/verify-password"), Some(STRICT));
        assert!(r.is_guarded("/verify-password") && r.is_guarded("/forget-password") && !r.is_guarded("/get-session"));
        assert_eq!(r.for_path("/request-password-reset"), Some(MAIL));
        assert_eq!(r.for_path("/forget-password"), Some(MAIL));
        assert_eq!(r.for_path("/send-verification-email"), Some(MAIL));
        assert_eq!(r.for_path("/ok"), Some(DEFAULT));
        assert_eq!(r.for_path("/sign-in/magic-link"), Some(MAGIC_LINK));
        assert_eq!(r.for_path("/magic-link/verify"), Some(MAGIC_LINK));
        assert!(r.is_guarded("/magic-link/verify"));
        for otp in [
            "/sign-in/email-otp",
            "/email-otp/verify-email",
            "/email-otp/check-verification-otp",
            "/email-otp/reset-password",
            "/email-otp/send-verification-otp",
            "/forget-password/email-otp",
        ] {
            assert_eq!(r.for_path(otp), Some(EMAIL_OTP), "{otp}");
            assert!(r.is_guarded(otp), "{otp}");
        }
    }

    #[test]
    fn overrides_win_exact_before_prefix() {
        let r = Rules::new(parse("/sign-in/email=5/10, /get-session=off, /sign-in*=4/20, default=200/10").unwrap());
        assert_eq!(
            r.for_path("/sign-in/email"),
            Some(Rule {
                window_secs: 10,
                max: 5
            })
        );
        assert_eq!(
            r.for_path("/sign-in/social"),
            Some(Rule {
                window_secs: 20,
                max: 4
            })
        );
        assert_eq!(r.for_path("/get-session"), None);
        assert_eq!(
            r.for_path("/ok"),
            Some(Rule {
                window_secs: 10,
                max: 200
            })
        );
        assert_eq!(
            r.for_path("/sign-up/email"),
            Some(STRICT),
            "special rules still beat the default"
        );
        let r = Rules::new(parse("default=off").unwrap());
        assert_eq!(r.for_path("/ok"), None);
        assert_eq!(r.for_path("/sign-in/email"), Some(STRICT));
    }

    #[test]
    fn bad_syntax_is_refused() {
        for bad in ["/x", "/x=5", "/x=a/10", "/x=5/0", "x=5/10", "/x=0/10", "/x=5/-1"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(
            parse_rule("5/3600").unwrap(),
            Some(Rule {
                window_secs: 3600,
                max: 5
            })
        );
        assert_eq!(parse_rule("OFF").unwrap(), None);
        for bad in ["5", "0/10", "5/0", "a/b"] {
            assert!(parse_rule(bad).is_err(), "{bad}");
        }
    }
}
