//! Sesame embedded in a program, as README.md's "Using it from Rust" shows it (every Rust
//! snippet there is in this file; a test of Sesame's suite checks it): configured in code,
//! called in-process (Better Auth's `auth.api.*`), served on a free port, on memory storage
//! and on an SQLite file. Run it with `cargo run` in this directory; `.ci/run` does.

use std::io::{Read, Write};
use std::net::TcpStream;

use sesame::api::{self, SignInEmailBody, SignUpEmailBody};
use sesame::error::codes;
use sesame::App;

fn main() -> anyhow::Result<()> {
    story("memory")?;
    let file = std::env::temp_dir().join(format!("sesame-embed-{}.db", std::process::id()));
    let result = story(&format!("sqlite:{}", file.display()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
    result?;
    misconfigured()
}

/// Sign up, read the session with the cookie sign-up set, fail to sign in with a wrong
/// password, then serve the same app over HTTP on a free port and stop it.
fn story(database_url: &str) -> anyhow::Result<()> {
    let app = App::builder()
        .secret("a long random secret, from the program's own secret store")
        .base_url("http://localhost:3000")
        .storage_url(database_url) // "memory", "sqlite:auth.db" or "postgres://…"
        .trusted_origins(["http://localhost:5173"])
        .plugins(["username"])
        .set("SESAME_MIN_PASSWORD_LENGTH", "10") // any variable `sesame --help` lists
        .send_email(|mail| {
            // Better Auth's sendVerificationEmail, sendResetPassword, …: `mail.kind` says
            // which; `mail.url` is the link to send, `mail.subject`/`text`/`html` a ready email.
            println!("{:?} email for {}", mail.kind, mail.to);
            Ok(())
        })
        .build()?;

    let signed_up = app
        .endpoint(&api::SIGN_UP_EMAIL)
        .body(SignUpEmailBody {
            name: "Ada".into(),
            email: "ada@example.com".into(),
            password: "correct-horse-battery".into(),
            ..Default::default()
        })
        .with_headers()?; // returnHeaders: status, headers (Set-Cookie) and typed data
    let cookie = signed_up.cookie_header(); // "better-auth.session_token=…"

    // Option<SignedInAnswer>: None when signed out.
    let session = app.endpoint(&api::GET_SESSION).header("cookie", &cookie).send()?;
    let session = session.ok_or_else(|| anyhow::anyhow!("{database_url}: no session for the sign-up cookie"))?;
    anyhow::ensure!(
        session.user.id == signed_up.data.user.id,
        "{database_url}: another user's session"
    );

    let wrong = app
        .endpoint(&api::SIGN_IN_EMAIL)
        .body(SignInEmailBody {
            email: "ada@example.com".into(),
            password: "not her password".into(),
            ..Default::default()
        })
        .send();
    match wrong {
        Err(err) if err.is(codes::INVALID_EMAIL_OR_PASSWORD) => {
            // err.status == 401, err.message == "Invalid email or password"
            println!("refused: {err}");
        }
        Err(err) => return Err(err.into()), // any other ApiError { status, code, message }
        Ok(_) => anyhow::bail!("a wrong password signed in"),
    }

    let server = app.serve("127.0.0.1:0")?; // port 0: any free port
    println!("serving {}", server.url()); // http://127.0.0.1:<port>/api/auth
    let ok = http_get(server.addr, "/api/auth/ok")?;
    anyhow::ensure!(ok.ends_with(r#"{"ok":true}"#), "{database_url}: /ok answered {ok}");
    let sessions = server
        .app()
        .endpoint(&api::LIST_SESSIONS)
        .header("cookie", &cookie)
        .send()?;
    anyhow::ensure!(sessions.len() == 1, "{database_url}: {} sessions", sessions.len());
    server.stop(); // or drop it: in-flight requests finish, threads are joined, the port is freed

    println!("{database_url}: signed up, session found, wrong password refused, served and stopped");
    Ok(())
}

/// A configuration mistake is an error listing every problem, each naming its variable, as
/// `sesame serve` reports them.
fn misconfigured() -> anyhow::Result<()> {
    match App::builder().base_path("auth").storage_url("mysql://db").build() {
        Err(err) => {
            let all = format!("{err:#}"); // "invalid configuration:\n  SESAME_BASE_PATH=…\n  DATABASE_URL=…"
            anyhow::ensure!(
                all.contains("SESAME_BASE_PATH") && all.contains("DATABASE_URL"),
                "{all}"
            );
            println!("refused: {all}");
            Ok(())
        }
        Ok(_) => anyhow::bail!("a bad configuration was accepted"),
    }
}

/// A GET over a plain socket, answered in full (`Connection: close`).
fn http_get(addr: std::net::SocketAddr, path: &str) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}
