//! The secret over restarts of the real binary: generated once next to a SQLite database
//! (owner-only) so sessions survive a restart, an explicit secret always winning, memory
//! storage unchanged, and every secret variable readable from a `<NAME>_FILE`.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::support::binary::{self, tempdir};
use crate::support::http_client;
use crate::support::PASSWORD;

const OTHER_SECRET: &str = "an-explicit-secret-0123456789abcdefghijkl";

fn listening_line(served: &binary::Served) -> String {
    served
        .wait_for_line(|l| l.contains("listening on http://"), Duration::from_secs(30))
        .unwrap()
}

/// Signs up over HTTP and returns the session cookie.
fn sign_up(served: &binary::Served, email: &str) -> String {
    let body = json!({"name": "R", "email": email, "password": PASSWORD}).to_string();
    let resp = http_client::send(
        served.addr,
        "POST",
        "/api/auth/sign-up/email",
        &[("content-type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    resp.set_cookies()[0].split(';').next().unwrap().to_string()
}

fn session_email(served: &binary::Served, cookie: &str) -> serde_json::Value {
    let resp = http_client::send(served.addr, "GET", "/api/auth/get-session", &[("cookie", cookie)], b"");
    assert_eq!(resp.status, 200);
    resp.json()["user"]["email"].clone()
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn an_unset_secret_is_kept_next_to_the_sqlite_file_and_sessions_survive_restarts() {
    let dir = tempdir::Dir::new();
    let db = dir.path().join("auth.db");
    let url = format!("sqlite:{}", db.display());
    let file = dir.path().join("auth.db.secret");
    // A blank BETTER_AUTH_SECRET is unset.
    let env = [("DATABASE_URL", url.as_str()), ("BETTER_AUTH_SECRET", "")];

    let mut first = binary::serve(&env);
    let line = listening_line(&first);
    assert!(
        line.contains(&format!("secret in {} (created now)", file.display())),
        "{line}"
    );
    assert_eq!(mode(&file), 0o600);
    let secret = std::fs::read_to_string(&file).unwrap();
    assert_eq!(secret.trim().len(), 64);
    assert!(
        !first.lines().iter().any(|l| l.contains(secret.trim())),
        "the secret is never logged"
    );
    assert!(
        !first.lines().iter().any(|l| l.contains("sessions will not survive")),
        "{:#?}",
        first.lines()
    );
    let cookie = sign_up(&first, "restart@example.com");
    assert_eq!(first.terminate(), Some(0));

    let mut second = binary::serve(&env);
    let line = listening_line(&second);
    assert!(line.contains(&format!("secret in {}", file.display())), "{line}");
    assert!(!line.contains("created now"), "{line}");
    assert_eq!(session_email(&second, &cookie), "restart@example.com");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), secret, "read, never rewritten");
    assert_eq!(second.terminate(), Some(0));

    // An explicit secret wins (and, being another key, ends every session); the file is
    // neither read nor changed.
    let mut explicit = binary::serve(&[("DATABASE_URL", url.as_str()), ("BETTER_AUTH_SECRET", OTHER_SECRET)]);
    assert!(!listening_line(&explicit).contains("secret in"));
    assert_eq!(session_email(&explicit, &cookie), serde_json::Value::Null);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), secret);
    assert_eq!(explicit.terminate(), Some(0));
}

#[test]
fn a_secret_file_others_can_read_is_refused_at_start() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempdir::Dir::new();
    let db = dir.path().join("auth.db");
    let file = dir.path().join("auth.db.secret");
    std::fs::write(&file, "x".repeat(48)).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut cmd = binary::command(dir.path());
    cmd.arg("serve")
        .env("PORT", "0")
        .env("DATABASE_URL", format!("sqlite:{}", db.display()));
    let out = binary::run_bounded(cmd, Duration::from_secs(20)).expect("exits");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("chmod 600"), "{stderr}");
    assert!(!stderr.contains(&"x".repeat(48)), "{stderr}");
}

#[test]
fn memory_storage_keeps_a_per_process_secret_and_writes_no_file() {
    let served = binary::serve(&[("BETTER_AUTH_SECRET", "")]);
    let line = listening_line(&served);
    assert!(!line.contains("secret in"), "{line}");
    assert!(
        served
            .lines()
            .iter()
            .any(|l| l.contains("sessions will not survive a restart")),
        "{:#?}",
        served.lines()
    );
}

#[test]
fn better_auth_secret_file_is_read_and_may_not_be_combined_with_the_variable() {
    let dir = tempdir::Dir::new();
    let db = dir.path().join("auth.db");
    let url = format!("sqlite:{}", db.display());
    let secret_path = dir.path().join("credential");
    std::fs::write(&secret_path, format!("{OTHER_SECRET}\n")).unwrap();
    let secret_path = secret_path.display().to_string();

    // Sessions signed with the variable are valid under the same secret read from a file.
    let mut plain = binary::serve(&[("DATABASE_URL", url.as_str()), ("BETTER_AUTH_SECRET", OTHER_SECRET)]);
    let cookie = sign_up(&plain, "file@example.com");
    assert_eq!(plain.terminate(), Some(0));
    let mut from_file = binary::serve(&[
        ("DATABASE_URL", url.as_str()),
        ("BETTER_AUTH_SECRET", ""),
        ("BETTER_AUTH_SECRET_FILE", secret_path.as_str()),
    ]);
    assert!(!listening_line(&from_file).contains("secret in"));
    assert_eq!(session_email(&from_file, &cookie), "file@example.com");
    assert!(
        !dir.path().join("auth.db.secret").exists(),
        "an explicit secret writes no file"
    );
    assert_eq!(from_file.terminate(), Some(0));

    let start = |env: &[(&str, &str)]| {
        let mut cmd = binary::command(dir.path());
        cmd.arg("serve").env("PORT", "0").env("DATABASE_URL", "memory");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = binary::run_bounded(cmd, Duration::from_secs(20)).expect("exits");
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let both = start(&[
        ("BETTER_AUTH_SECRET", OTHER_SECRET),
        ("BETTER_AUTH_SECRET_FILE", secret_path.as_str()),
    ]);
    assert!(
        both.contains("BETTER_AUTH_SECRET and BETTER_AUTH_SECRET_FILE are both set"),
        "{both}"
    );
    let missing = start(&[("BETTER_AUTH_SECRET_FILE", "/nonexistent/credential")]);
    assert!(
        missing.contains("BETTER_AUTH_SECRET_FILE: cannot read /nonexistent/credential"),
        "{missing}"
    );
    assert!(!both.contains(OTHER_SECRET) && !missing.contains(OTHER_SECRET));
}

#[test]
fn config_check_names_the_file_of_every_secret_and_never_its_content() {
    let dir = tempdir::Dir::new();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let smtp = write("smtp", "smtp://mailer:hunter2-smtp@127.0.0.1:2525?tls=none\n");
    let client = write("github", "gh-client-secret-value\n");
    let mut cmd = binary::command(dir.path());
    cmd.args(["config", "check"])
        .env("DATABASE_URL", "memory")
        .env("BETTER_AUTH_SECRET", OTHER_SECRET)
        .env("SESAME_SMTP_URL_FILE", &smtp)
        .env("SESAME_EMAIL_FROM", "a@example.com")
        .env("GITHUB_CLIENT_ID", "gh-id")
        .env("GITHUB_CLIENT_SECRET_FILE", &client);
    let out = binary::run_bounded(cmd, Duration::from_secs(20)).expect("exits");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("SESAME_SMTP_URL=(from SESAME_SMTP_URL_FILE={smtp})")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "GITHUB_CLIENT_SECRET=(from GITHUB_CLIENT_SECRET_FILE={client})"
        )),
        "{stdout}"
    );
    for secret in ["hunter2-smtp", "gh-client-secret-value"] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret), "{secret} leaked");
    }
    // The _FILE names are variables, not unknown names.
    assert!(!stderr.contains("not a Sesame variable"), "{stderr}");
}
