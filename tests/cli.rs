//! The `sesame` binary: the command line (clap), `--help` and the variable tables, `secret`,
//! `config check`, unknown-variable warnings, and graceful shutdown on SIGTERM.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::binary::{self, tempdir, BIN};
use crate::support::http_client;

/// The variable names listed in the `Environment` part of a `--help` text.
fn help_variables(help: &str) -> BTreeSet<String> {
    let env = help
        .split("Environment")
        .nth(1)
        .expect("--help has an Environment section");
    env.lines()
        .filter_map(|l| l.strip_prefix("    "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

fn table_variables() -> BTreeSet<String> {
    sesame::config::variables().map(|v| v.name.to_string()).collect()
}

#[test]
fn help_lists_exactly_the_variable_table() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(help_variables(&text), table_variables());
    assert!(text.contains("SESAME_PLUGINS"), "the variable the old help forgot");
    let serve = Command::new(BIN).args(["serve", "--help"]).output().unwrap();
    assert_eq!(
        help_variables(&String::from_utf8(serve.stdout).unwrap()),
        table_variables()
    );
}

#[test]
fn readme_configuration_tables_are_the_variable_tables() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("<!-- config-tables:start -->\n")
        .nth(1)
        .and_then(|s| s.split("<!-- config-tables:end -->").next())
        .expect("README.md has the config-tables markers");
    let expected = sesame::config::report::markdown();
    assert!(
        section == expected,
        "README.md's configuration tables are stale; replace them with `sesame config docs`:\n{expected}"
    );
    // And the other way round: every name README's tables show is a variable.
    let listed: BTreeSet<String> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect();
    assert_eq!(listed, table_variables());
}

/// Every `SESAME_*` / `BETTER_AUTH_*` name the docs (README, BENCHMARKS, `docs/`) and the
/// scripts that start Sesame (`.ci/`, `bench/`, `tests/js/`) mention is a variable, and each
/// plugin's own variables (`SESAME_<PLUGIN>_*`) are described in its `docs/plugins/<id>.md`.
#[test]
fn docs_and_scripts_mention_only_real_variables_and_each_plugin_documents_its_own() {
    let specs: Vec<&sesame::config::Spec> = sesame::config::variables().collect();
    let known = |name: &str| {
        specs
            .iter()
            .any(|s| s.name == name || sesame::config::unknown::matches(s.name, name))
            || sesame::config::unknown::is_known(&specs, name)
            || sesame::config::unknown::BETTER_AUTH_ONLY
                .iter()
                .any(|(n, _)| *n == name)
    };
    let root = concat!(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![
        format!("{root}/README.md"),
        format!("{root}/BENCHMARKS.md"),
        format!("{root}/.ci/run"),
    ];
    for (dir, suffixes) in [
        ("docs/plugins", &[".md"][..]),
        ("bench", &[".py"]),
        ("tests/js", &[".mjs", ".sh"]),
        ("deploy", &[".service", ".conf", "Caddyfile"]),
    ] {
        for entry in std::fs::read_dir(format!("{root}/{dir}")).unwrap() {
            let path = entry.unwrap().path().display().to_string();
            if suffixes.iter().any(|s| path.ends_with(s)) {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 10, "{files:?}");
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '<' || c == '>')) {
            let is_var = (word.starts_with("SESAME_") || word.starts_with("BETTER_AUTH_"))
                && word.len() > 8
                && !word.ends_with('_');
            // README's example of a typo that `config check` catches, and a file name.
            if is_var && !["SESAME_RATE_LIMT", "SESAME_PATCHES"].contains(&word) {
                assert!(known(word), "{file} mentions {word}, which is not a variable");
            }
        }
    }
    for plugin in sesame::plugins::ALL_PLUGINS {
        let prefix = format!("SESAME_{}_", plugin.id.to_ascii_uppercase().replace('-', "_"));
        let doc = std::fs::read_to_string(format!("{root}/docs/plugins/{}.md", plugin.id)).unwrap();
        for spec in specs.iter().filter(|s| s.name.starts_with(&prefix)) {
            assert!(
                doc.contains(spec.name),
                "docs/plugins/{}.md does not describe {}",
                plugin.id,
                spec.name
            );
        }
    }
}

#[test]
fn help_of_each_subcommand_prints_help_and_does_nothing_else() {
    let dir = tempdir::Dir::new();
    for args in [
        &["serve", "--help"][..],
        &["migrate", "--help"],
        &["migrate", "-h"],
        &["secret", "--help"],
        &["copy-to", "--help"],
        &["copy-to", "-h"],
        &["config", "check", "--help"],
        &["config", "docs", "--help"],
        &["config", "--help"],
        &["help", "migrate"],
        &["help", "config", "check"],
    ] {
        let mut cmd = binary::command(dir.path());
        cmd.args(args).env("PORT", "0");
        let out = binary::run_bounded(cmd, Duration::from_secs(20)).unwrap_or_else(|| panic!("{args:?} did not exit"));
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(stdout.contains("Usage: sesame"), "{args:?}: {stdout}");
        assert!(
            out.stderr.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "help created files: {left:?}");
}

#[test]
fn unknown_flags_are_usage_errors_with_a_hint() {
    let dir = tempdir::Dir::new();
    for (args, hint) in [
        (&["--port", "7302"][..], "PORT=… sesame serve"),
        (&["serve", "--database-url", "memory"], "DATABASE_URL=… sesame serve"),
        (&["migrate", "--rate-limit=false"], "SESAME_RATE_LIMIT=… sesame serve"),
        (&["serve", "--frobnicate"], "`sesame --help` lists them"),
    ] {
        let mut cmd = binary::command(dir.path());
        cmd.args(args);
        let out = binary::run_bounded(cmd, Duration::from_secs(20)).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains("unexpected argument"), "{stderr}");
        assert!(stderr.contains(hint), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} printed help on stdout");
        assert!(
            !stderr.contains("Environment") && stderr.lines().count() < 10,
            "{args:?}: an error and a hint, not the whole help: {stderr}"
        );
    }
    // Stray words and missing arguments: usage errors, with no hint about settings.
    for args in [&["frobnicate"][..], &["migrate", "extra"], &["copy-to"], &["config"]] {
        let mut cmd = binary::command(dir.path());
        cmd.args(args);
        let out = binary::run_bounded(cmd, Duration::from_secs(20)).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(!stderr.contains("environment variables"), "{args:?}: {stderr}");
    }
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "a usage error created files"
    );
}

#[test]
fn version_prints_the_version() {
    for flag in ["--version", "-V"] {
        let out = Command::new(BIN).arg(flag).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(
            String::from_utf8(out.stdout).unwrap().trim(),
            format!("sesame {}", env!("CARGO_PKG_VERSION"))
        );
    }
}

#[test]
fn secret_prints_a_fresh_random_secret() {
    let a = Command::new(BIN).arg("secret").output().unwrap();
    let b = Command::new(BIN).arg("secret").output().unwrap();
    let (a, b) = (
        String::from_utf8(a.stdout).unwrap(),
        String::from_utf8(b.stdout).unwrap(),
    );
    assert!(a.trim().len() >= 32 && a.trim().chars().all(|c| c.is_ascii_alphanumeric()));
    assert_ne!(a, b);
}

fn config_check(env: &[(&str, &str)]) -> (i32, String, String) {
    let dir = tempdir::Dir::new();
    let mut cmd = binary::command(dir.path());
    cmd.args(["config", "check"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = binary::run_bounded(cmd, Duration::from_secs(20)).unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn config_check_prints_the_effective_configuration_with_secrets_redacted() {
    let (code, stdout, stderr) = config_check(&[
        ("BETTER_AUTH_SECRET", "check-secret-value-0123456789abcdefgh"),
        ("DATABASE_URL", "postgres://app:db-pass-77@db.example:5432/auth"),
        ("GITHUB_CLIENT_ID", "gh-client"),
        ("GITHUB_CLIENT_SECRET", "gh-secret-99"),
        ("SESAME_EMAIL_WEBHOOK_URL", "https://hooks.example/t/hook-token-55"),
        ("PORT", "8080"),
    ]);
    assert_eq!(code, 0, "{stderr}");
    for secret in ["check-secret-value", "db-pass-77", "gh-secret-99", "hook-token-55"] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret), "{secret} leaked");
    }
    assert!(stdout.contains("PORT=8080\n"), "{stdout}");
    assert!(stdout.contains("BETTER_AUTH_SECRET=****\n"), "{stdout}");
    assert!(
        stdout.contains("DATABASE_URL=postgres://app:****@db.example:5432/auth\n"),
        "{stdout}"
    );
    assert!(stdout.contains("GITHUB_CLIENT_SECRET=****\n"), "{stdout}");
    assert!(stdout.contains("SESAME_BCRYPT_COST=10  # default\n"), "{stdout}");
    assert!(stdout.contains("# Rate limiting\n"), "{stdout}");
    assert!(stderr.contains("configuration is valid"), "{stderr}");
}

#[test]
fn config_check_fails_on_bad_values_and_unknown_names() {
    let (code, _, stderr) = config_check(&[("PORT", "eighty"), ("SESAME_BCRYPT_COST", "2")]);
    assert_eq!(code, 1);
    assert!(stderr.contains("ERROR PORT=\"eighty\""), "{stderr}");
    assert!(
        stderr.contains("ERROR SESAME_BCRYPT_COST=\"2\": must be between 4 and 31"),
        "{stderr}"
    );
    let (code, stdout, stderr) = config_check(&[("SESAME_RATE_LIMT", "false")]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("SESAME_RATE_LIMT is not a Sesame variable and is ignored (did you mean SESAME_RATE_LIMIT?)"),
        "{stderr}"
    );
    assert!(stdout.contains("SESAME_RATE_LIMIT=true  # default"), "{stdout}");
    let (code, _, stderr) = config_check(&[("SESAME_SMTP_URL", "smtp://mail.example:25")]);
    assert_eq!(code, 1);
    assert!(stderr.contains("SESAME_EMAIL_FROM is required"), "{stderr}");
}

#[test]
fn bad_configuration_fails_with_a_clear_message() {
    let out = Command::new(BIN)
        .arg("serve")
        .env("PORT", "not-a-port")
        .env("SESAME_MAX_CONNECTIONS", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PORT=\"not-a-port\""), "{stderr}");
    assert!(
        stderr.contains("SESAME_MAX_CONNECTIONS"),
        "every problem at once: {stderr}"
    );
}

#[test]
fn serve_warns_about_unknown_variables_with_the_closest_name() {
    let mut served = binary::serve(&[("SESAME_RATE_LIMT", "true"), ("BETTER_AUTH_URLL", "http://x")]);
    let lines = served.lines();
    let warned = |s: &str| lines.iter().any(|l| l.contains(s));
    assert!(
        warned("SESAME_RATE_LIMT is not a Sesame variable and is ignored (did you mean SESAME_RATE_LIMIT?)"),
        "{lines:#?}"
    );
    assert!(
        warned("BETTER_AUTH_URLL is not a Sesame variable and is ignored (did you mean BETTER_AUTH_URL?)"),
        "{lines:#?}"
    );
    assert_eq!(served.terminate(), Some(0));
}

#[test]
fn serve_answers_then_stops_cleanly_on_sigterm() {
    let mut served = binary::serve(&[]);
    let resp = http_client::send(served.addr, "GET", "/api/auth/ok", &[], b"");
    assert_eq!(resp.status, 200);
    assert_eq!(served.terminate(), Some(0), "exit status after SIGTERM");
}

#[test]
fn no_command_means_serve() {
    let dir = tempdir::Dir::new();
    let mut cmd = binary::command(dir.path());
    cmd.env("PORT", "not-a-port");
    let out = binary::run_bounded(cmd, Duration::from_secs(20)).unwrap();
    assert_eq!(out.status.code(), Some(1), "the server's configuration was read");
    assert!(String::from_utf8_lossy(&out.stderr).contains("PORT"));
}

/// Runs `sesame serve` with `env` until it exits or announces its address (then it is killed):
/// `(exit code or None when it kept running, stderr so far)`.
fn serve_outcome(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .env_clear()
        .env("PORT", "0")
        .env("DATABASE_URL", "memory")
        .env("SESAME_WORKERS", "1")
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut text = String::new();
    let mut line = String::new();
    // Bounded: the server either fails its configuration or announces itself promptly.
    for _ in 0..200 {
        line.clear();
        if stderr.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        text.push_str(&line);
        if line.contains("listening on http://") {
            let _ = child.kill();
            let _ = child.wait();
            return (None, text);
        }
    }
    (child.wait().unwrap().code(), text)
}

/// Issue 12, item 5: Better Auth's published default secret (anyone can forge session cookies
/// with it) started without a word on a public `http` URL. It is refused unless the URL is a
/// loopback one, where it is warned about loudly.
#[test]
fn a_published_secret_is_refused_outside_loopback() {
    let default = "better-auth-secret-12345678901234567890";
    for url in [
        "http://auth.example.com",
        "https://auth.example.com",
        "http://10.1.2.3:3000",
    ] {
        let (code, err) = serve_outcome(&[
            ("HOST", "127.0.0.1"),
            ("BETTER_AUTH_SECRET", default),
            ("BETTER_AUTH_URL", url),
        ]);
        assert_eq!(code, Some(1), "started with the default secret on {url}: {err}");
        assert!(err.contains("BETTER_AUTH_SECRET") && err.contains("published"), "{err}");
        assert!(!err.contains(default), "the secret is never printed: {err}");
    }
    for url in ["http://localhost:3000", "http://127.0.0.1:3000", "http://[::1]:3000"] {
        let (code, err) = serve_outcome(&[
            ("HOST", "127.0.0.1"),
            ("BETTER_AUTH_SECRET", default),
            ("BETTER_AUTH_URL", url),
        ]);
        assert_eq!(code, None, "refused on {url}: {err}");
        assert!(
            err.contains("WARN") && err.contains("published") && err.contains("never use it in production"),
            "{err}"
        );
    }
}

/// Issue 12, item 5: a secret shorter than 32 characters is refused when the server listens on
/// an address other machines can reach.
#[test]
fn a_short_secret_is_refused_on_a_public_address() {
    let (code, err) = serve_outcome(&[
        ("HOST", "0.0.0.0"),
        ("BETTER_AUTH_SECRET", "only-twenty-chars-xx"),
        ("BETTER_AUTH_URL", "http://localhost:3000"),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("BETTER_AUTH_SECRET") && err.contains("32"), "{err}");
    let (code, err) = serve_outcome(&[("HOST", "127.0.0.1"), ("BETTER_AUTH_SECRET", "only-twenty-chars-xx")]);
    assert_eq!(code, None, "a short secret on loopback only warns: {err}");
    assert!(err.contains("shorter than 32"), "{err}");
}
