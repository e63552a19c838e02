//! Variables that look like Sesame's but are not: a `SESAME_*` or `BETTER_AUTH_*` name that no
//! area reads is almost always a typo (`SESAME_RATE_LIMT=false`), and ignoring it silently
//! leaves the setting at its default. Each is reported with the closest known name.

use super::var::{Effective, Source, Spec};
use crate::oauth::providers::Builtin;

/// A variable nobody reads, and the known name it most likely meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    pub name: String,
    pub suggestion: Option<String>,
}

impl std::fmt::Display for Unknown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some((_, why)) = BETTER_AUTH_ONLY.iter().find(|(n, _)| *n == self.name) {
            return write!(f, "{} is ignored: {why}", self.name);
        }
        write!(f, "{} is not a Sesame variable and is ignored", self.name)?;
        if let Some(s) = &self.suggestion {
            write!(f, " (did you mean {s}?)")?;
        }
        Ok(())
    }
}

/// Better Auth's own variables that Sesame does not read, and why (a "did you mean" would
/// mislead: `BETTER_AUTH_SECRETS` is no typo of `BETTER_AUTH_SECRET`).
pub const BETTER_AUTH_ONLY: &[(&str, &str)] = &[
    (
        "BETTER_AUTH_SECRETS",
        "Sesame takes one secret, BETTER_AUTH_SECRET (versioned secrets are not supported)",
    ),
    ("BETTER_AUTH_TELEMETRY", "Sesame sends no telemetry"),
    ("BETTER_AUTH_TELEMETRY_ENDPOINT", "Sesame sends no telemetry"),
    ("BETTER_AUTH_TELEMETRY_ID", "Sesame sends no telemetry"),
    ("BETTER_AUTH_TELEMETRY_DEBUG", "Sesame sends no telemetry"),
];

const PREFIXES: &[&str] = &["SESAME_", "BETTER_AUTH_"];

/// The `SESAME_*` / `BETTER_AUTH_*` names in `source` that are neither read (`read`) nor match
/// a variable of `specs`, sorted by name.
pub fn find(source: &dyn Source, specs: &[&Spec], read: &[Effective]) -> Vec<Unknown> {
    let mut names: Vec<String> = source
        .names()
        .into_iter()
        .filter(|n| PREFIXES.iter().any(|p| n.starts_with(p)))
        .filter(|n| !read.iter().any(|e| &e.name == n))
        .filter(|n| !is_known(specs, n))
        .collect();
    names.sort();
    let candidates = candidates(specs, read);
    names
        .into_iter()
        .map(|name| Unknown {
            suggestion: match BETTER_AUTH_ONLY.iter().any(|(n, _)| *n == name) {
                true => None,
                false => closest(&name, &candidates),
            },
            name,
        })
        .collect()
}

/// Whether `name` is a variable of `specs`, or the `_FILE` form of a secret one.
pub fn is_known(specs: &[&Spec], name: &str) -> bool {
    specs.iter().any(|s| {
        matches(s.name, name)
            || (s.sensitivity != super::var::Sensitivity::Public
                && name
                    .strip_suffix(super::var::FILE_SUFFIX)
                    .is_some_and(|stem| matches(s.name, stem)))
    })
}

/// Every concrete name a suggestion may be: the plain variables, the built-in providers'
/// expansions of `<P>`, and the names read (which include configured generic providers').
fn candidates(specs: &[&Spec], read: &[Effective]) -> Vec<String> {
    let mut out: Vec<String> = read.iter().map(|e| e.name.clone()).collect();
    for spec in specs {
        if !spec.name.contains('<') {
            out.push(spec.name.to_string());
        } else if let Some(rest) = spec
            .name
            .split_once("<P>")
            .or_else(|| spec.name.split_once("<PROVIDER>"))
        {
            for b in Builtin::ALL {
                out.push(format!("{}{}{}", rest.0, crate::config::oauth::env_id(b.id()), rest.1));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The closest candidate, if it is close enough to be a plausible typo.
fn closest(name: &str, candidates: &[String]) -> Option<String> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(d, _)| *d <= 2 || d * 5 <= name.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.clone())
}

/// Whether `name` is an instance of `pattern`: `<P>` is a built-in provider (`GITHUB`), `<G>`
/// `OIDC_<ID>` or `OAUTH2_<ID>`, `<PROVIDER>` either, `<ID>` any `[A-Z0-9_]+`.
pub fn matches(pattern: &str, name: &str) -> bool {
    let Some(start) = pattern.find('<') else {
        return pattern == name;
    };
    let Some(len) = pattern[start..].find('>') else {
        return false;
    };
    let (literal, placeholder, rest) = (
        &pattern[..start],
        &pattern[start + 1..start + len],
        &pattern[start + len + 1..],
    );
    let Some(name) = name.strip_prefix(literal) else {
        return false;
    };
    match placeholder {
        "P" => Builtin::ALL.iter().any(|b| {
            name.strip_prefix(crate::config::oauth::env_id(b.id()).as_str())
                .is_some_and(|after| matches(rest, after))
        }),
        "G" => matches(&format!("OIDC_<ID>{rest}"), name) || matches(&format!("OAUTH2_<ID>{rest}"), name),
        "PROVIDER" => matches(&format!("<P>{rest}"), name) || matches(&format!("<G>{rest}"), name),
        "ID" => (1..=name.len()).any(|i| {
            name.is_char_boundary(i)
                && name[..i]
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
                && matches(rest, &name[i..])
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_only_their_instances() {
        assert!(matches("<P>_CLIENT_ID", "GITHUB_CLIENT_ID"));
        assert!(!matches("<P>_CLIENT_ID", "GITHUBB_CLIENT_ID"));
        assert!(matches("SESAME_<PROVIDER>_SCOPES", "SESAME_GOOGLE_SCOPES"));
        assert!(matches("SESAME_<PROVIDER>_SCOPES", "SESAME_OIDC_MY_IDP_SCOPES"));
        assert!(matches("SESAME_<G>_CLIENT_ID", "SESAME_OAUTH2_CORP_CLIENT_ID"));
        assert!(!matches("SESAME_<G>_CLIENT_ID", "SESAME_GITHUB_CLIENT_ID"));
        assert!(!matches("SESAME_<PROVIDER>_SCOPES", "SESAME_RATE_LIMIT_SCOPES"));
        assert!(matches("SESAME_OAUTH2_<ID>_ID_FIELD", "SESAME_OAUTH2_X_ID_FIELD"));
        assert!(!matches("SESAME_OAUTH2_<ID>_ID_FIELD", "SESAME_OAUTH2__ID_FIELD"));
    }

    #[test]
    fn typos_get_the_closest_name() {
        let candidates = vec!["SESAME_RATE_LIMIT".to_string(), "SESAME_RATE_LIMIT_RULES".to_string()];
        assert_eq!(
            closest("SESAME_RATE_LIMT", &candidates).as_deref(),
            Some("SESAME_RATE_LIMIT")
        );
        assert_eq!(closest("SESAME_COMPLETELY_DIFFERENT", &candidates), None);
    }
}
