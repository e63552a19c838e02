use super::*;

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn defaults_parse() {
    // Every `Default::Value` goes through its variable's parser here.
    let c = Config::from_vars(&vars(&[])).unwrap();
    assert_eq!(c.port, 3000);
    assert_eq!(c.base_origin, "http://localhost:3000");
    assert_eq!(c.base_path, "/api/auth");
    assert!(c.secret_is_ephemeral);
    assert_eq!(c.storage, StorageUrl::Sqlite("sesame.db".into()));
    assert!(!c.secure_cookies());
    assert_eq!(Config::for_tests().storage, StorageUrl::Memory);
}

#[test]
fn names_are_unique_and_documented() {
    let mut names: Vec<&str> = variables().map(|v| v.name).collect();
    let count = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), count, "a variable is listed twice");
    for v in variables() {
        assert!(!v.help.is_empty(), "{} has no help", v.name);
    }
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
    assert_eq!(storage("memory").unwrap(), StorageUrl::Memory);
    assert!(storage("sqlite:").is_err());
    assert!(storage("sqlite:a.db?mode=ro").is_err());
    assert!(storage("mysql://x").is_err());
}

#[test]
fn base_url_path_replaces_base_path() {
    let c = Config::from_vars(&vars(&[("BETTER_AUTH_URL", "https://auth.example.com/auth/")])).unwrap();
    assert_eq!(c.base_path, "/auth");
    assert!(c.secure_cookies());
    let c = Config::from_vars(&vars(&[("SESAME_BASE_PATH", "/auth/")])).unwrap();
    assert_eq!(c.base_path, "/auth");
    assert!(Config::from_vars(&vars(&[("SESAME_BASE_PATH", "auth")])).is_err());
}

#[test]
fn secret_is_redacted_in_debug() {
    let c = Config::from_vars(&vars(&[("BETTER_AUTH_SECRET", "super-secret-value-1234567890abcdef")])).unwrap();
    assert!(!format!("{c:?}").contains("super-secret-value"));
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
fn every_problem_is_reported_at_once() {
    let loaded = Config::load(&vars(&[
        ("PORT", "abc"),
        ("SESAME_BCRYPT_COST", "99"),
        ("SESAME_RATE_LIMIT", "maybe"),
        ("SESAME_MIN_PASSWORD_LENGTH", "200"),
    ]));
    assert!(loaded.config.is_none());
    let all = loaded.problems.join("\n");
    for name in [
        "PORT",
        "SESAME_BCRYPT_COST",
        "SESAME_RATE_LIMIT",
        "SESAME_MIN_PASSWORD_LENGTH",
    ] {
        assert!(all.contains(name), "{name} missing from {all}");
    }
}

#[test]
fn weak_secret_is_refused_with_https() {
    for weak in [cookies::BETTER_AUTH_DEFAULT_SECRET, "short-secret"] {
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
    for (name, bad) in [
        ("SESAME_READ_TIMEOUT_SECS", "0"),
        ("SESAME_MAX_CONNECTIONS", "0"),
        ("SESAME_MAX_HEADER_BYTES", "1000"),
        ("SESAME_WORKERS", "0"),
        ("SESAME_HASH_QUEUE", "0"),
    ] {
        let err = Config::from_vars(&vars(&[(name, bad)])).unwrap_err();
        assert!(format!("{err:#}").contains(name), "{name}: {err:#}");
    }
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

#[test]
fn unknown_names_are_reported_with_the_closest_known_one() {
    let loaded = Config::load(&vars(&[
        ("SESAME_RATE_LIMT", "false"),
        ("BETTER_AUTH_SECRT", "x"),
        ("SESAME_GITHUB_SCOPES", "repo"),
        ("SESAME_OIDC_CORP_CLIENT_ID", "c"),
        ("SESAME_OAUTH2_PROVIDERS", "acme"),
        ("SESAME_OAUTH2_ACME_CLIENT_ID", "c"),
        ("SESAME_OAUTH2_ACME_AUTHORIZATION_URL", "https://acme/a"),
        ("SESAME_OAUTH2_ACME_TOKEN_URL", "https://acme/t"),
        ("SESAME_OAUTH2_ACME_USERINFO_URL", "https://acme/u"),
        ("SESAME_OAUTH2_ACME_EMAIL_FEILD", "mail"),
        ("SESAME_WHATEVER_ELSE_ENTIRELY", "1"),
        ("BETTER_AUTH_SECRETS", "1:abc"),
        ("PATH", "/usr/bin"),
    ]));
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    let got: Vec<(&str, Option<&str>)> = loaded
        .unknown
        .iter()
        .map(|u| (u.name.as_str(), u.suggestion.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("BETTER_AUTH_SECRETS", None),
            ("BETTER_AUTH_SECRT", Some("BETTER_AUTH_SECRET")),
            ("SESAME_OAUTH2_ACME_EMAIL_FEILD", Some("SESAME_OAUTH2_ACME_EMAIL_FIELD")),
            ("SESAME_RATE_LIMT", Some("SESAME_RATE_LIMIT")),
            ("SESAME_WHATEVER_ELSE_ENTIRELY", None),
        ]
    );
    assert_eq!(
        loaded.unknown[0].to_string(),
        "BETTER_AUTH_SECRETS is ignored: Sesame takes one secret, BETTER_AUTH_SECRET (versioned secrets are not supported)"
    );
    assert_eq!(
        loaded.unknown[3].to_string(),
        "SESAME_RATE_LIMT is not a Sesame variable and is ignored (did you mean SESAME_RATE_LIMIT?)"
    );
}

#[test]
fn effective_values_hide_secrets() {
    let loaded = Config::load(&vars(&[
        ("BETTER_AUTH_SECRET", "super-secret-value-1234567890abcdef"),
        ("DATABASE_URL", "postgres://u:hunter2@db.example/app"),
        ("GITHUB_CLIENT_ID", "gh-id"),
        ("GITHUB_CLIENT_SECRET", "gh-secret-zz"),
        ("SESAME_SMTP_URL", "smtp://u:smtppw@mail.example"),
        ("SESAME_EMAIL_FROM", "a@example.com"),
    ]));
    let text = report::effective(&loaded.effective);
    for secret in ["super-secret-value", "hunter2", "gh-secret-zz", "smtppw"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert!(
        text.contains("DATABASE_URL=postgres://u:****@db.example/app\n"),
        "{text}"
    );
    assert!(text.contains("GITHUB_CLIENT_ID=gh-id\n"), "{text}");
    assert!(text.contains("PORT=3000  # default\n"), "{text}");
    assert!(text.contains("SESAME_WORKERS="), "{text}");
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
            ("BETTER_AUTH_SECRET", cookies::BETTER_AUTH_DEFAULT_SECRET),
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
        let err = Config::from_vars(&vars(&[
            ("BETTER_AUTH_SECRET", cookies::TEST_SECRET),
            ("BETTER_AUTH_URL", url),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("published default"), "{url}: {err}");
        assert!(!err.to_string().contains(cookies::TEST_SECRET));
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
fn later_variables_parse() {
    let c = Config::from_vars(&vars(&[])).unwrap();
    assert_eq!(c.max_connections_per_ip, 64);
    assert!(!c.bearer_require_signature);
    let c = Config::from_vars(&vars(&[
        ("SESAME_MAX_CONNECTIONS_PER_IP", "8"),
        ("SESAME_BEARER_REQUIRE_SIGNATURE", "true"),
    ]))
    .unwrap();
    assert_eq!((c.max_connections_per_ip, c.bearer_require_signature), (8, true));
    assert_eq!(
        c.email.recipient_limit,
        Some(crate::ratelimit::Rule {
            window_secs: 3600,
            max: 5
        })
    );
    let c = Config::from_vars(&vars(&[("SESAME_EMAIL_RECIPIENT_LIMIT", "off")])).unwrap();
    assert_eq!(c.email.recipient_limit, None);
    let err = Config::from_vars(&vars(&[("SESAME_EMAIL_RECIPIENT_LIMIT", "5")])).unwrap_err();
    assert!(err.to_string().contains("SESAME_EMAIL_RECIPIENT_LIMIT"), "{err}");
    let err = Config::from_vars(&vars(&[("SESAME_MAX_CONNECTIONS_PER_IP", "0")])).unwrap_err();
    assert!(err.to_string().contains("SESAME_MAX_CONNECTIONS_PER_IP"), "{err}");
}

#[test]
fn cookie_options() {
    let load = |pairs: &[(&str, &str)]| Config::from_vars(&vars(pairs));
    let c = load(&[]).unwrap();
    assert_eq!(c.cookie_same_site, cookies::SameSite::Lax);
    assert_eq!(c.cookie_domain, None);
    assert_eq!(c.secure_cookies_setting, None);
    let c = load(&[
        ("BETTER_AUTH_URL", "https://auth.example.com"),
        ("SESAME_COOKIE_DOMAIN", ".Example.com"),
        ("SESAME_COOKIE_SAMESITE", "None"),
    ])
    .unwrap();
    assert_eq!(c.cookie_domain.as_deref(), Some("example.com"));
    assert_eq!(c.cookie_same_site, cookies::SameSite::None);
    assert!(c.secure_cookies());
    let c = load(&[("SESAME_SECURE_COOKIES", "true")]).unwrap();
    assert!(c.secure_cookies());
    let c = load(&[
        ("BETTER_AUTH_URL", "https://a.example.com"),
        ("SESAME_SECURE_COOKIES", "false"),
    ])
    .unwrap();
    assert!(!c.secure_cookies());

    let problem = |pairs: &[(&str, &str)], needle: &str| {
        let err = format!("{:#}", load(pairs).unwrap_err());
        assert!(err.contains(needle), "{err}");
    };
    problem(
        &[("SESAME_COOKIE_SAMESITE", "none"), ("SESAME_SECURE_COOKIES", "false")],
        "SESAME_COOKIE_SAMESITE=none needs Secure cookies",
    );
    problem(&[("SESAME_COOKIE_SAMESITE", "loose")], "must be lax, strict or none");
    // A Domain the public host is not under: every browser would drop every cookie.
    problem(
        &[
            ("BETTER_AUTH_URL", "https://auth.example.com"),
            ("SESAME_COOKIE_DOMAIN", "example.org"),
        ],
        "does not contain BETTER_AUTH_URL's host",
    );
    problem(
        &[
            ("BETTER_AUTH_URL", "https://badexample.com"),
            ("SESAME_COOKIE_DOMAIN", "example.com"),
        ],
        "does not contain",
    );
    // Attribute smuggling through the domain or the prefix is refused.
    problem(
        &[("SESAME_COOKIE_DOMAIN", "localhost; SameSite=None")],
        "SESAME_COOKIE_DOMAIN",
    );
    problem(
        &[("SESAME_COOKIE_PREFIX", "a; Domain=evil.com")],
        "SESAME_COOKIE_PREFIX",
    );
    problem(&[("SESAME_COOKIE_PREFIX", "a=b")], "SESAME_COOKIE_PREFIX");
    let c = load(&[("SESAME_COOKIE_DOMAIN", "localhost")]).unwrap();
    assert_eq!(c.cookie_domain.as_deref(), Some("localhost"));
}

#[test]
fn ip_address_headers() {
    let c = Config::from_vars(&vars(&[])).unwrap();
    assert_eq!(c.ip_address_headers, ["x-forwarded-for"]);
    let c = Config::from_vars(&vars(&[("SESAME_IP_ADDRESS_HEADERS", "CF-Connecting-IP, x-real-ip")])).unwrap();
    assert_eq!(c.ip_address_headers, ["cf-connecting-ip", "x-real-ip"]);
    let err = Config::from_vars(&vars(&[("SESAME_IP_ADDRESS_HEADERS", "x real ip")])).unwrap_err();
    assert!(format!("{err:#}").contains("SESAME_IP_ADDRESS_HEADERS"));
}

#[test]
fn warns_when_listening_publicly_with_a_localhost_url() {
    let warned = |pairs: &[(&str, &str)]| {
        Config::from_vars(&vars(pairs))
            .unwrap()
            .warnings()
            .iter()
            .any(|w| w.contains("reachable from other machines") && w.contains("BETTER_AUTH_URL"))
    };
    let secret = ("BETTER_AUTH_SECRET", "a-long-enough-secret-0123456789abcdefgh");
    assert!(warned(&[("HOST", "0.0.0.0"), secret]));
    assert!(warned(&[
        ("HOST", "::"),
        ("BETTER_AUTH_URL", "http://127.0.0.1:3000"),
        secret
    ]));
    assert!(warned(&[
        ("HOST", "10.0.0.5"),
        ("BETTER_AUTH_URL", "http://app.localhost:3000"),
        secret
    ]));
    assert!(!warned(&[
        ("HOST", "0.0.0.0"),
        ("BETTER_AUTH_URL", "https://auth.example.com"),
        secret
    ]));
    assert!(!warned(&[]));
    assert!(!warned(&[("HOST", "::1")]));
}
