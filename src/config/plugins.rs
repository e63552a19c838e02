//! Plugins area: which plugins are enabled, and each plugin's settings. A plugin's variables
//! are read whether or not it is enabled, so a bad value fails start-up either way.

use super::var::{list, text, Default, Reader, Spec, Var};

pub const TITLE: &str = "Plugins";

pub const PLUGINS: Var<Vec<String>> = Var::new(
    "SESAME_PLUGINS",
    Default::None,
    "Plugins to enable, comma separated: bearer, username, two-factor, jwt, open-api, admin, magic-link, anonymous, email-otp",
    list,
);
pub const BEARER_REQUIRE_SIGNATURE: Var<bool> = Var::new(
    "SESAME_BEARER_REQUIRE_SIGNATURE",
    Default::Value("false"),
    "bearer plugin: accept only the signed token of `set-auth-token`, never a raw session token",
    super::var::boolean,
);
pub const JWT_ALG: Var<JwtAlg> = Var::new(
    "SESAME_JWT_ALG",
    Default::Value("EdDSA"),
    "jwt plugin: algorithm of new signing keys, `EdDSA` (Ed25519), `ES256` or `RS256`",
    jwt_alg,
);
pub const JWT_ISSUER: Var<String> = Var::new(
    "SESAME_JWT_ISSUER",
    Default::Computed("base URL origin"),
    "jwt plugin: the `iss` claim",
    text,
);
pub const JWT_AUDIENCE: Var<Vec<String>> = Var::new(
    "SESAME_JWT_AUDIENCE",
    Default::Computed("base URL origin"),
    "jwt plugin: the `aud` claim; several comma separated become an array",
    list,
);
pub const JWT_EXPIRES_IN: Var<i64> = Var::new(
    "SESAME_JWT_EXPIRES_IN",
    Default::Value("15m"),
    "jwt plugin: token lifetime, seconds or a duration like `15m`, `1h`, `7d`",
    duration,
);

pub const TWO_FACTOR_ISSUER: Var<String> = Var::new(
    "SESAME_TWO_FACTOR_ISSUER",
    Default::Computed("SESAME_APP_NAME"),
    "two-factor plugin: the issuer authenticator apps show next to the account",
    text,
);

pub const EMAIL_OTP_DISABLE_SIGN_UP: Var<bool> = Var::new(
    "SESAME_EMAIL_OTP_DISABLE_SIGN_UP",
    Default::Value("false"),
    "email-otp plugin: a code signs in only existing users (none is mailed to an unknown address)",
    super::var::boolean,
);

pub const EMAIL_OTP_OVERRIDE_EMAIL_VERIFICATION: Var<bool> = Var::new(
    "SESAME_EMAIL_OTP_OVERRIDE_EMAIL_VERIFICATION",
    Default::Value("false"),
    "email-otp plugin: every verification email (sign-up, sign-in, send-verification-email) carries a code for /email-otp/verify-email instead of a link",
    super::var::boolean,
);

pub const EMAIL_OTP_SEND_VERIFICATION_ON_SIGN_UP: Var<bool> = Var::new(
    "SESAME_EMAIL_OTP_SEND_VERIFICATION_ON_SIGN_UP",
    Default::Value("false"),
    "email-otp plugin: after every sign-up, mail the new address an email-verification code (besides any link core sends)",
    super::var::boolean,
);

pub const ADMIN_USER_IDS: Var<Vec<String>> = Var::new(
    "SESAME_ADMIN_USER_IDS",
    Default::None,
    "admin plugin: user ids that have every admin permission whatever their role, comma separated",
    list,
);
pub const ADMIN_ROLES: Var<Vec<String>> = Var::new(
    "SESAME_ADMIN_ROLES",
    Default::Value("admin"),
    "admin plugin: the roles counted as admins (impersonating one is refused), comma separated: admin, user",
    list,
);
pub const ADMIN_IMPERSONATION_DURATION: Var<i64> = Var::new(
    "SESAME_ADMIN_IMPERSONATION_DURATION",
    Default::Value("1h"),
    "admin plugin: lifetime of an impersonation session, seconds or a duration like `30m`",
    duration,
);

pub const MAGIC_LINK_EXPIRES_IN: Var<i64> = Var::new(
    "SESAME_MAGIC_LINK_EXPIRES_IN",
    Default::Value("5m"),
    "magic-link plugin: how long an emailed sign-in link works, seconds or a duration like `15m`",
    duration,
);
pub const MAGIC_LINK_DISABLE_SIGN_UP: Var<bool> = Var::new(
    "SESAME_MAGIC_LINK_DISABLE_SIGN_UP",
    Default::Value("false"),
    "magic-link plugin: a link for an address without an account signs nobody up (error `new_user_signup_disabled`)",
    super::var::boolean,
);
pub const MAGIC_LINK_STORE_TOKEN: Var<bool> = Var::new(
    "SESAME_MAGIC_LINK_STORE_TOKEN",
    Default::Value("plain"),
    "magic-link plugin: how the token is kept in the verification table, `plain` (Better Auth's default) or `hashed` (its SHA-256)",
    store_token,
);

pub const ANONYMOUS_EMAIL_DOMAIN: Var<String> = Var::new(
    "SESAME_ANONYMOUS_EMAIL_DOMAIN",
    Default::Computed("anonymous.placeholder.invalid"),
    "anonymous plugin: the domain of guests' generated addresses (`temp-<id>@DOMAIN`); unset: `<id>@anonymous.placeholder.invalid`",
    email_domain,
);
pub const ANONYMOUS_DISABLE_DELETE: Var<bool> = Var::new(
    "SESAME_ANONYMOUS_DISABLE_DELETE",
    Default::Value("false"),
    "anonymous plugin: keep a guest's user when they sign in another way, and refuse /delete-anonymous-user",
    super::var::boolean,
);

pub const VARIABLES: &[&Spec] = &[
    &PLUGINS.spec,
    &BEARER_REQUIRE_SIGNATURE.spec,
    &TWO_FACTOR_ISSUER.spec,
    &JWT_ALG.spec,
    &JWT_ISSUER.spec,
    &JWT_AUDIENCE.spec,
    &JWT_EXPIRES_IN.spec,
    &ADMIN_USER_IDS.spec,
    &ADMIN_ROLES.spec,
    &ADMIN_IMPERSONATION_DURATION.spec,
    &MAGIC_LINK_EXPIRES_IN.spec,
    &MAGIC_LINK_DISABLE_SIGN_UP.spec,
    &MAGIC_LINK_STORE_TOKEN.spec,
    &ANONYMOUS_EMAIL_DOMAIN.spec,
    &ANONYMOUS_DISABLE_DELETE.spec,
    &EMAIL_OTP_DISABLE_SIGN_UP.spec,
    &EMAIL_OTP_OVERRIDE_EMAIL_VERIFICATION.spec,
    &EMAIL_OTP_SEND_VERIFICATION_ON_SIGN_UP.spec,
];

/// The anonymous plugin's settings (Better Auth's `anonymous()` options Sesame offers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnonymousConfig {
    /// `emailDomainName`: guests get `temp-<id>@<domain>`; `None`: Better Auth's placeholder
    /// address `<id>@anonymous.placeholder.invalid`.
    pub email_domain: Option<String>,
    /// `disableDeleteAnonymousUser`.
    pub disable_delete: bool,
}

/// A domain that makes `temp-<id>@<domain>` a valid address (Better Auth checks the generated
/// address and refuses every guest sign-in otherwise; Sesame refuses the setting at start-up).
fn email_domain(s: &str) -> Result<String, String> {
    let domain = s.trim().to_ascii_lowercase();
    // zod's email rule for the domain part: labels of letters, digits and `-` not starting
    // with `-`, and an alphabetic top-level label of two or more letters.
    let labels: Vec<&str> = domain.split('.').collect();
    let host_ok = |l: &&str| {
        l.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let valid = match labels.split_last() {
        Some((tld, hosts)) => {
            !hosts.is_empty()
                && tld.len() >= 2
                && tld.chars().all(|c| c.is_ascii_alphabetic())
                && hosts.iter().all(host_ok)
        }
        None => false,
    };
    if valid {
        Ok(domain)
    } else {
        Err("must be a domain name like guests.example.com".to_string())
    }
}

/// The magic-link plugin's settings (Better Auth's `magicLink()` options Sesame offers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MagicLinkConfig {
    /// `expiresIn`, seconds (Better Auth's default: 300).
    pub expires_in: i64,
    /// `disableSignUp`.
    pub disable_sign_up: bool,
    /// `storeToken: "hashed"`: the verification row's identifier holds the token's SHA-256.
    pub store_hashed: bool,
}

impl std::default::Default for MagicLinkConfig {
    fn default() -> Self {
        MagicLinkConfig {
            expires_in: 300,
            disable_sign_up: false,
            store_hashed: false,
        }
    }
}

/// `plain` → false, `hashed` → true.
fn store_token(s: &str) -> Result<bool, String> {
    match s {
        "plain" => Ok(false),
        "hashed" => Ok(true),
        _ => Err("must be plain or hashed".to_string()),
    }
}

/// The admin plugin's settings (Better Auth's `admin()` options Sesame offers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// `adminUserIds`: every permission, whatever the role.
    pub user_ids: Vec<String>,
    /// `adminRoles`: the roles whose holders cannot be impersonated.
    pub roles: Vec<String>,
    /// `impersonationSessionDuration`, seconds (Better Auth's default: one hour).
    pub impersonation_duration: i64,
}

impl std::default::Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            user_ids: Vec::new(),
            roles: vec!["admin".to_string()],
            impersonation_duration: 3600,
        }
    }
}

/// The roles Sesame defines (Better Auth's default `roles`: `admin` and `user`).
pub const KNOWN_ROLES: [&str; 2] = ["admin", "user"];

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

/// The jwt plugin's settings.
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

impl std::default::Default for JwtConfig {
    fn default() -> Self {
        JwtConfig {
            alg: JwtAlg::EdDSA,
            issuer: None,
            audience: Vec::new(),
            expires_in: 15 * 60,
        }
    }
}

fn jwt_alg(s: &str) -> Result<JwtAlg, String> {
    JwtAlg::from_name(s).ok_or_else(|| "must be EdDSA, ES256 or RS256".to_string())
}

fn duration(s: &str) -> Result<i64, String> {
    match parse_duration(s) {
        Some(n) if n > 0 => Ok(n),
        _ => Err("must be a positive number of seconds or a duration like 15m, 1h, 7d".to_string()),
    }
}

/// Seconds from `900` or a Better Auth-style duration (`15m`, `1h`, `7d`, `2 weeks`).
pub fn parse_duration(value: &str) -> Option<i64> {
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

pub struct Plugins {
    pub plugins: Vec<String>,
    pub admin: AdminConfig,
    pub bearer_require_signature: bool,
    pub two_factor_issuer: Option<String>,
    pub jwt: JwtConfig,
    pub magic_link: MagicLinkConfig,
    pub anonymous: AnonymousConfig,
    pub email_otp_disable_sign_up: bool,
    pub email_otp_override_email_verification: bool,
    pub email_otp_send_verification_on_sign_up: bool,
}

pub fn read(r: &Reader) -> Plugins {
    r.area(TITLE);
    let plugins = r.opt(&PLUGINS).unwrap_or_default();
    let known: Vec<&str> = crate::plugins::ALL_PLUGINS.iter().map(|p| p.id).collect();
    for id in &plugins {
        if !known.contains(&id.as_str()) {
            r.problem(format!(
                "SESAME_PLUGINS names an unknown plugin {id:?} (known: {})",
                known.join(", ")
            ));
        }
    }
    let admin_roles = r.get(&ADMIN_ROLES);
    // Better Auth refuses admin roles its `roles` do not define, at start-up.
    for role in &admin_roles {
        if !KNOWN_ROLES.contains(&role.to_lowercase().as_str()) {
            r.problem(format!(
                "SESAME_ADMIN_ROLES names an unknown role {role:?} (known: {})",
                KNOWN_ROLES.join(", ")
            ));
        }
    }
    Plugins {
        plugins,
        admin: AdminConfig {
            user_ids: r.opt(&ADMIN_USER_IDS).unwrap_or_default(),
            roles: admin_roles,
            impersonation_duration: r.get(&ADMIN_IMPERSONATION_DURATION),
        },
        bearer_require_signature: r.get(&BEARER_REQUIRE_SIGNATURE),
        two_factor_issuer: r.opt(&TWO_FACTOR_ISSUER),
        jwt: JwtConfig {
            alg: r.get(&JWT_ALG),
            issuer: r.opt(&JWT_ISSUER),
            audience: r.opt(&JWT_AUDIENCE).unwrap_or_default(),
            expires_in: r.get(&JWT_EXPIRES_IN),
        },
        magic_link: MagicLinkConfig {
            expires_in: r.get(&MAGIC_LINK_EXPIRES_IN),
            disable_sign_up: r.get(&MAGIC_LINK_DISABLE_SIGN_UP),
            store_hashed: r.get(&MAGIC_LINK_STORE_TOKEN),
        },
        anonymous: AnonymousConfig {
            email_domain: r.opt(&ANONYMOUS_EMAIL_DOMAIN),
            disable_delete: r.get(&ANONYMOUS_DISABLE_DELETE),
        },
        email_otp_disable_sign_up: r.get(&EMAIL_OTP_DISABLE_SIGN_UP),
        email_otp_override_email_verification: r.get(&EMAIL_OTP_OVERRIDE_EMAIL_VERIFICATION),
        email_otp_send_verification_on_sign_up: r.get(&EMAIL_OTP_SEND_VERIFICATION_ON_SIGN_UP),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<JwtConfig, Vec<String>> {
        let vars: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let r = Reader::new(&vars);
        let p = read(&r);
        match r.problems() {
            problems if problems.is_empty() => Ok(p.jwt),
            problems => Err(problems),
        }
    }

    #[test]
    fn jwt_defaults_match_better_auth() {
        let c = parse(&[]).unwrap();
        assert_eq!(c, JwtConfig::default());
        assert_eq!(c.alg.name(), "EdDSA");
        assert_eq!(c.expires_in, 900);
    }

    #[test]
    fn jwt_values_parse() {
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
    fn passwordless_plugin_values_parse() {
        let vars: HashMap<String, String> = [
            ("SESAME_MAGIC_LINK_EXPIRES_IN", "15m"),
            ("SESAME_MAGIC_LINK_DISABLE_SIGN_UP", "true"),
            ("SESAME_MAGIC_LINK_STORE_TOKEN", "hashed"),
            ("SESAME_ANONYMOUS_EMAIL_DOMAIN", "Guests.Example.com"),
            ("SESAME_ANONYMOUS_DISABLE_DELETE", "true"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let r = Reader::new(&vars);
        let p = read(&r);
        assert!(r.problems().is_empty(), "{:?}", r.problems());
        assert_eq!(
            p.magic_link,
            MagicLinkConfig {
                expires_in: 900,
                disable_sign_up: true,
                store_hashed: true
            }
        );
        assert_eq!(p.anonymous.email_domain.as_deref(), Some("guests.example.com"));
        assert!(p.anonymous.disable_delete);
        let defaults = read(&Reader::new(&HashMap::new()));
        assert_eq!(defaults.magic_link, MagicLinkConfig::default());
        assert_eq!(defaults.magic_link.expires_in, 300);
        assert_eq!(defaults.anonymous, AnonymousConfig::default());
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
            ("SESAME_PLUGINS", "jwt,nope"),
            ("SESAME_MAGIC_LINK_EXPIRES_IN", "0"),
            ("SESAME_MAGIC_LINK_STORE_TOKEN", "sha256"),
            ("SESAME_ANONYMOUS_EMAIL_DOMAIN", "not a domain"),
            ("SESAME_ANONYMOUS_EMAIL_DOMAIN", "localhost"),
            ("SESAME_ANONYMOUS_EMAIL_DOMAIN", "-bad.example.com"),
            ("SESAME_ANONYMOUS_EMAIL_DOMAIN", "guests.example.c0m"),
        ] {
            let err = parse(&[(name, value)]).unwrap_err().join("\n");
            assert!(err.contains(name), "{name}={value}: {err}");
        }
    }
}
