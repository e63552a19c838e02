//! The jwt plugin's settings (`SESAME_JWT_*`), parsed with the rest of the configuration so a
//! bad value fails start-up whether or not the plugin is enabled.

use anyhow::bail;

/// A signing algorithm Sesame can generate keys for. `EdDSA` (Ed25519) is Better Auth's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlg {
    EdDSA,
    ES256,
    RS256,
}

impl JwtAlg {
    pub fn name(self) -> &'static str {
        match self {
            JwtAlg::EdDSA => "EdDSA",
            JwtAlg::ES256 => "ES256",
            JwtAlg::RS256 => "RS256",
        }
    }

    pub fn from_name(name: &str) -> Option<JwtAlg> {
        [JwtAlg::EdDSA, JwtAlg::ES256, JwtAlg::RS256]
            .into_iter()
            .find(|a| a.name() == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtConfig {
    /// Algorithm of newly generated keys (`SESAME_JWT_ALG`).
    pub alg: JwtAlg,
    /// `iss` claim; `None`: the base URL's origin, as Better Auth.
    pub issuer: Option<String>,
    /// `aud` claim, one or more values; empty: the base URL's origin.
    pub audience: Vec<String>,
    /// Token lifetime in seconds (`SESAME_JWT_EXPIRES_IN`, default 15 minutes).
    pub expires_in: i64,
}

impl Default for JwtConfig {
    fn default() -> Self {
        JwtConfig {
            alg: JwtAlg::EdDSA,
            issuer: None,
            audience: Vec::new(),
            expires_in: 15 * 60,
        }
    }
}

impl JwtConfig {
    /// Parses the variables; `get` returns a trimmed, non-empty value or `None`.
    pub fn from_vars<'a>(get: impl Fn(&str) -> Option<&'a str>) -> anyhow::Result<JwtConfig> {
        let alg = match get("SESAME_JWT_ALG") {
            None => JwtAlg::EdDSA,
            Some(v) => match JwtAlg::from_name(v) {
                Some(a) => a,
                None => bail!("SESAME_JWT_ALG must be EdDSA, ES256 or RS256, not {v:?}"),
            },
        };
        let audience = get("SESAME_JWT_AUDIENCE")
            .map(|v| {
                v.split(',')
                    .map(|a| a.trim().to_string())
                    .filter(|a| !a.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let expires_in = match get("SESAME_JWT_EXPIRES_IN") {
            None => 15 * 60,
            Some(v) => match parse_duration(v) {
                Some(s) if s > 0 => s,
                _ => bail!("SESAME_JWT_EXPIRES_IN must be a positive number of seconds or a duration like 15m, 1h, 7d; not {v:?}"),
            },
        };
        Ok(JwtConfig {
            alg,
            issuer: get("SESAME_JWT_ISSUER").map(str::to_string),
            audience,
            expires_in,
        })
    }
}

/// Seconds from `900` or a Better Auth-style duration (`15m`, `1h`, `7d`, `2 weeks`).
fn parse_duration(value: &str) -> Option<i64> {
    if let Ok(n) = value.parse::<i64>() {
        return Some(n);
    }
    let split = value.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = value.split_at(split);
    let n: i64 = number.parse().ok()?;
    let unit_seconds = match unit.trim().to_ascii_lowercase().as_str() {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 604_800,
        _ => return None,
    };
    n.checked_mul(unit_seconds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> anyhow::Result<JwtConfig> {
        let vars: HashMap<&str, &str> = pairs.iter().copied().collect();
        JwtConfig::from_vars(|name| vars.get(name).copied())
    }

    #[test]
    fn defaults_match_better_auth() {
        let c = parse(&[]).unwrap();
        assert_eq!(c, JwtConfig::default());
        assert_eq!(c.alg.name(), "EdDSA");
        assert_eq!(c.expires_in, 900);
    }

    #[test]
    fn values_parse() {
        let c = parse(&[
            ("SESAME_JWT_ALG", "RS256"),
            ("SESAME_JWT_ISSUER", "https://issuer.example"),
            ("SESAME_JWT_AUDIENCE", "api-a, api-b"),
            ("SESAME_JWT_EXPIRES_IN", "1h"),
        ])
        .unwrap();
        assert_eq!(c.alg, JwtAlg::RS256);
        assert_eq!(c.issuer.as_deref(), Some("https://issuer.example"));
        assert_eq!(c.audience, vec!["api-a", "api-b"]);
        assert_eq!(c.expires_in, 3600);
        assert_eq!(parse(&[("SESAME_JWT_EXPIRES_IN", "120")]).unwrap().expires_in, 120);
        assert_eq!(
            parse(&[("SESAME_JWT_EXPIRES_IN", "2 days")]).unwrap().expires_in,
            172_800
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (name, value) in [
            ("SESAME_JWT_ALG", "HS256"),
            ("SESAME_JWT_ALG", "eddsa"),
            ("SESAME_JWT_EXPIRES_IN", "0"),
            ("SESAME_JWT_EXPIRES_IN", "-5"),
            ("SESAME_JWT_EXPIRES_IN", "15 fortnights"),
            ("SESAME_JWT_EXPIRES_IN", "m"),
            ("SESAME_JWT_EXPIRES_IN", "99999999999999999999d"),
        ] {
            let err = parse(&[(name, value)]).unwrap_err();
            assert!(err.to_string().contains(name), "{name}={value}: {err}");
        }
    }
}
