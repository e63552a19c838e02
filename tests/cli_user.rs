//! `sesame user …` against a running `sesame serve` on the same SQLite file or PostgreSQL
//! schema: the first admin made on the command line, and bans, revocations, passwords, roles
//! and deletions taking effect on the server at once; `--json` answers and refusals.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::binary::{self, tempdir};
use crate::support::http_client::{send, RawResponse};
use crate::support::PASSWORD;

const SECRET: &str = "binary-test-secret-0123456789abcdefghij";

/// Runs `sesame user <args>` on `database_url` with `stdin`; exit code, stdout, stderr.
fn user(database_url: &str, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let dir = tempdir::Dir::new();
    let mut cmd = binary::command(dir.path());
    cmd.arg("user")
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("BETTER_AUTH_SECRET", SECRET)
        .env("SESAME_BCRYPT_COST", "4")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let Ok(out) = rx.recv_timeout(Duration::from_secs(60)) else {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        panic!("sesame user {args:?} did not finish within 60 s");
    };
    let out = out.unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `sesame user … --json` that must succeed: its JSON.
fn user_json(database_url: &str, args: &[&str], stdin: Option<&str>) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let (code, out, err) = user(database_url, &all, stdin);
    assert_eq!(code, 0, "sesame user {args:?}: {out} {err}");
    serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("not JSON: {out}"))
}

fn sign_in(served: &binary::Served, email: &str, password: &str) -> RawResponse {
    let body = json!({"email": email, "password": password}).to_string();
    send(
        served.addr,
        "POST",
        "/api/auth/sign-in/email",
        &[("content-type", "application/json")],
        body.as_bytes(),
    )
}

fn cookies(resp: &RawResponse) -> String {
    resp.set_cookies()
        .iter()
        .filter(|c| !c.contains("Max-Age=0"))
        .filter_map(|c| c.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

fn get(served: &binary::Served, path: &str, cookie: &str) -> RawResponse {
    send(
        served.addr,
        "GET",
        &format!("/api/auth{path}"),
        &[("cookie", cookie)],
        b"",
    )
}

fn the_commands_act_on_a_running_server(database_url: &str) {
    let served = binary::serve(&[("DATABASE_URL", database_url), ("SESAME_PLUGINS", "admin")]);

    // The first admin, made on the command line.
    let admin = user_json(
        database_url,
        &[
            "create",
            "--email",
            "Root@Example.com",
            "--name",
            "Root",
            "--role",
            "admin",
            "--password-stdin",
            "--verified",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert_eq!(admin["user"]["email"], "root@example.com");
    assert_eq!(admin["user"]["role"], "admin");
    assert_eq!(admin["user"]["emailVerified"], true);
    let root = cookies(&sign_in(&served, "root@example.com", PASSWORD));
    let listed = get(&served, "/admin/list-users", &root);
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json()["total"], 1);

    let (code, out, _) = user(
        database_url,
        &["create", "--email", "bob@example.com", "--password-stdin"],
        Some(PASSWORD),
    );
    assert_eq!(code, 0);
    assert!(out.contains("bob@example.com") && out.contains("role=user"), "{out}");
    let bob = cookies(&sign_in(&served, "bob@example.com", PASSWORD));
    assert_eq!(
        get(&served, "/get-session", &bob).json()["user"]["email"],
        "bob@example.com"
    );

    // A ban ends the session on the server at once and refuses the next sign-in.
    let banned = user_json(
        database_url,
        &["ban", "bob@example.com", "--reason", "spam", "--expires", "7d"],
        None,
    );
    assert_eq!(banned["user"]["banned"], true);
    assert_eq!(banned["user"]["banReason"], "spam");
    assert!(banned["user"]["banExpires"].is_string());
    assert_eq!(get(&served, "/get-session", &bob).json(), Value::Null);
    let refused = sign_in(&served, "bob@example.com", PASSWORD);
    assert_eq!(
        (refused.status, refused.json()["code"].clone()),
        (403, json!("BANNED_USER"))
    );
    let shown = user_json(database_url, &["show", "bob@example.com"], None);
    assert_eq!(
        (shown["user"]["banned"].clone(), shown["sessions"].clone()),
        (json!(true), json!(0))
    );
    let (code, out, _) = user(database_url, &["show", "bob@example.com"], None);
    assert_eq!(code, 0);
    assert!(out.contains("banned:         spam"), "{out}");

    assert_eq!(
        user_json(database_url, &["unban", "bob@example.com"], None)["user"]["banned"],
        false
    );
    let bob = cookies(&sign_in(&served, "bob@example.com", PASSWORD));
    assert_eq!(
        get(&served, "/get-session", &bob).json()["user"]["email"],
        "bob@example.com"
    );

    assert_eq!(
        user_json(database_url, &["revoke-sessions", "bob@example.com"], None),
        json!({"success": true})
    );
    assert_eq!(get(&served, "/get-session", &bob).json(), Value::Null);

    let bob_id = shown["user"]["id"].as_str().unwrap().to_string();
    let set = user_json(
        database_url,
        &["set-password", &bob_id, "--password-stdin"],
        Some("a-new-password-for-bob\n"),
    );
    assert_eq!(set, json!({"status": true}));
    assert_eq!(sign_in(&served, "bob@example.com", PASSWORD).status, 401);
    let bob = cookies(&sign_in(&served, "bob@example.com", "a-new-password-for-bob"));

    assert_eq!(get(&served, "/admin/list-users", &bob).status, 403);
    assert_eq!(
        user_json(database_url, &["set-role", "bob@example.com", "admin"], None)["user"]["role"],
        "admin"
    );
    assert_eq!(get(&served, "/admin/list-users", &bob).status, 200);

    let list = user_json(database_url, &["list", "--search", "bob"], None);
    assert_eq!(list["total"], 1);
    assert_eq!(list["users"][0]["email"], "bob@example.com");
    let (code, out, _) = user(database_url, &["list"], None);
    assert_eq!(code, 0);
    assert!(out.contains("2 of 2 user(s)"), "{out}");

    assert_eq!(
        user_json(database_url, &["delete", "bob@example.com"], None),
        json!({"success": true})
    );
    assert_eq!(get(&served, "/get-session", &bob).json(), Value::Null);
    assert_eq!(
        sign_in(&served, "bob@example.com", "a-new-password-for-bob").status,
        401
    );

    // Refusals: exit 1, the error as JSON on stdout with --json, and on stderr.
    let (code, out, err) = user(database_url, &["delete", "nobody@example.com", "--json"], None);
    assert_eq!(code, 1);
    let body: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (body["code"].clone(), body["status"].clone()),
        (json!("USER_NOT_FOUND"), json!(404))
    );
    assert!(err.contains("User not found"), "{err}");
    let (code, _, err) = user(database_url, &["set-role", "root@example.com", "owner"], None);
    assert_eq!(code, 1);
    assert!(err.contains("YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE"), "{err}");
    let (code, _, err) = user(database_url, &["create", "--email", "root@example.com"], None);
    assert_eq!(code, 1);
    assert!(err.contains("USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL"), "{err}");
    let (code, _, err) = user(
        database_url,
        &["ban", "root@example.com", "--expires", "yesterday"],
        None,
    );
    assert_eq!(code, 1);
    assert!(err.contains("--expires"), "{err}");
    let (code, _, err) = user(
        database_url,
        &["set-password", "root@example.com", "--password-stdin"],
        Some("short\n"),
    );
    assert_eq!(code, 1);
    assert!(err.contains("PASSWORD_TOO_SHORT"), "{err}");
    // Nothing of that changed the admin.
    assert_eq!(get(&served, "/get-session", &root).json()["user"]["role"], "admin");
}

#[test]
fn user_commands_on_sqlite() {
    let db = crate::support::sqlite::SqliteFile::new();
    the_commands_act_on_a_running_server(&db.url());
}

#[test]
fn user_commands_on_postgres() {
    let Some(schema) = crate::support::postgres::PgSchema::create() else {
        return;
    };
    the_commands_act_on_a_running_server(&schema.url());
}

#[test]
fn user_commands_refuse_memory_storage() {
    let (code, _, err) = user("memory", &["list"], None);
    assert_eq!(code, 1);
    assert!(err.contains("memory storage"), "{err}");
}
