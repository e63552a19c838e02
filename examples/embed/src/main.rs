//! Sesame embedded in a program: the in-process API (Better Auth's `auth.api.*`) on memory
//! storage and on an SQLite file. Run with `cargo run` in this directory; `.ci/run` does.

use std::collections::HashMap;

use sesame::api::{self, SignInEmailBody, SignUpEmailBody};
use sesame::error::codes;
use sesame::{App, Config};

fn main() -> anyhow::Result<()> {
    story("memory", "memory")?;
    let file = std::env::temp_dir().join(format!("sesame-embed-{}.db", std::process::id()));
    let result = story("SQLite file", &format!("sqlite:{}", file.display()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
    result
}

/// Sign up, read the session with the cookie sign-up set, and fail to sign in with a wrong
/// password.
fn story(label: &str, database_url: &str) -> anyhow::Result<()> {
    let vars: HashMap<String, String> = [
        (
            "BETTER_AUTH_SECRET",
            "an example secret that is long enough to be accepted",
        ),
        ("BETTER_AUTH_URL", "http://localhost:3000"),
        ("DATABASE_URL", database_url),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let app = App::from_config(Config::from_vars(&vars)?)?;

    let signed_up = app
        .endpoint(&api::SIGN_UP_EMAIL)
        .body(SignUpEmailBody {
            name: "Ada".into(),
            email: "ada@example.com".into(),
            password: "correct-horse-battery".into(),
            ..Default::default()
        })
        .with_headers()?;
    let cookie = signed_up.cookie_header();

    let session = app.endpoint(&api::GET_SESSION).header("cookie", &cookie).send()?;
    let session = session.ok_or_else(|| anyhow::anyhow!("{label}: no session for the sign-up cookie"))?;
    anyhow::ensure!(
        session.user.id == signed_up.data.user.id,
        "{label}: another user's session"
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
            anyhow::ensure!(err.status == 401, "{label}: {err}");
        }
        Err(err) => anyhow::bail!("{label}: unexpected error {err}"),
        Ok(_) => anyhow::bail!("{label}: a wrong password signed in"),
    }
    println!(
        "{label}: signed up {}, session found, wrong password refused",
        session.user.email
    );
    Ok(())
}
