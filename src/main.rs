//! The `sesame` binary: parse the command line and environment, build the app, serve.
//! The only place that decides the exit code.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use std::time::Duration;

use sesame::app::migrations;
use sesame::config::{StorageUrl, VARIABLES};
use sesame::storage::postgres::{PgOptions, PgStorage};
use sesame::storage::sqlite::{SqliteOptions, SqliteStorage};
use sesame::{server, App, Config};

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("ERROR {err:#}");
            ExitCode::from(1)
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("serve") => serve(),
        Some("migrate") => migrate(),
        Some("copy-to") => copy_to(args.get(1).map(String::as_str)),
        Some("secret") => {
            println!("{}", sesame::crypto::random_string(48));
            Ok(ExitCode::SUCCESS)
        }
        Some("-h" | "--help" | "help") => {
            print!("{}", help());
            Ok(ExitCode::SUCCESS)
        }
        Some("-V" | "--version") => {
            println!("sesame {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        Some(other) => {
            eprintln!("unknown command {other:?}\n\n{}", help());
            Ok(ExitCode::from(2))
        }
    }
}

fn serve() -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    for warning in config.warnings() {
        eprintln!("WARN {warning}");
    }
    let addr = SocketAddr::new(config.host, config.port);
    let storage = storage_description(&config);
    let app = Arc::new(App::from_config(config)?);
    let running = server::start(app.clone(), addr)?;
    eprintln!(
        "INFO sesame listening on http://{} (endpoints under {}, storage {}, mail {}, {} workers)",
        running.addr,
        app.config.base_url(),
        storage,
        app.mailer.name(),
        app.config.workers
    );
    running.wait_for_signal()?;
    if !app.outbox.flush(std::time::Duration::from_secs(10)) {
        eprintln!("WARN {} email(s) still undelivered at exit", app.outbox.pending());
    }
    Ok(ExitCode::SUCCESS)
}

/// The storage for the start-up line: the SQLite file (and whether it is the default), never
/// a PostgreSQL password.
fn storage_description(config: &Config) -> String {
    match &config.storage {
        StorageUrl::Sqlite(path) if path == ":memory:" => "sqlite (in memory, lost at exit)".to_string(),
        StorageUrl::Sqlite(path) => {
            let defaulted = std::env::var("DATABASE_URL").map_or(true, |v| v.trim().is_empty());
            let note = if defaulted {
                " (the default; set DATABASE_URL to change)"
            } else {
                ""
            };
            format!("sqlite:{path}{note}")
        }
        StorageUrl::Memory => "memory (lost at exit)".to_string(),
        StorageUrl::Postgres(_) => "postgres".to_string(),
    }
}

/// `sesame migrate`: applies pending migrations to `DATABASE_URL` (default
/// `sqlite:sesame.db`) and exits.
fn migrate() -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    let (target, applied) = match &config.storage {
        StorageUrl::Postgres(url) => {
            let storage = PgStorage::new(url.expose(), &PgOptions::from_config(&config))?;
            storage.wait_until_reachable(Duration::from_secs(config.postgres_startup_timeout))?;
            (storage.target(), storage.migrate(&migrations())?)
        }
        StorageUrl::Sqlite(path) => {
            let storage = SqliteStorage::open(path, &SqliteOptions::from_config(&config))?;
            (format!("sqlite:{}", storage.target()), storage.migrate(&migrations())?)
        }
        StorageUrl::Memory => {
            anyhow::bail!(
                "`sesame migrate` needs DATABASE_URL=sqlite:PATH or postgres://…; memory storage has no schema"
            )
        }
    };
    if applied.is_empty() {
        println!("{target}: up to date");
    } else {
        println!("{target}: applied {}", applied.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

/// `sesame copy-to postgres://…`: copies every row of the SQLite database `DATABASE_URL` names
/// (default `sqlite:sesame.db`) into an empty PostgreSQL database, migrating it first.
fn copy_to(target: Option<&str>) -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    let StorageUrl::Sqlite(path) = &config.storage else {
        anyhow::bail!("`sesame copy-to` copies from SQLite: DATABASE_URL must be sqlite:PATH");
    };
    let Some(url) = target.filter(|u| u.starts_with("postgres://") || u.starts_with("postgresql://")) else {
        anyhow::bail!("usage: sesame copy-to postgres://user:pass@host:port/db");
    };
    // Opening creates a missing file: a mistyped path must not leave an empty database behind.
    if !std::path::Path::new(path).is_file() {
        anyhow::bail!("sqlite:{path} does not exist: copy-to reads an existing SQLite database");
    }
    let source = SqliteStorage::open(path, &SqliteOptions::from_config(&config))?;
    if !source.pending_migrations(&migrations())?.is_empty() {
        anyhow::bail!("sqlite:{path} has pending migrations: run `sesame migrate` on it first");
    }
    let snapshot = source.snapshot()?;
    let target = PgStorage::new(url, &PgOptions::from_config(&config))?;
    target.wait_until_reachable(Duration::from_secs(config.postgres_startup_timeout))?;
    target.migrate(&migrations())?;
    target.load(&snapshot)?;
    println!("copied sqlite:{path} to {}: {}", target.target(), snapshot.counts());
    Ok(ExitCode::SUCCESS)
}

fn help() -> String {
    let mut s = String::from(
        "sesame: a Better Auth-compatible authentication server\n\n\
Usage:\n  sesame [serve]     run the server (the default)\n  sesame migrate     apply pending migrations to DATABASE_URL (SQLite or PostgreSQL) and exit\n  sesame copy-to URL copy the SQLite database DATABASE_URL into an empty PostgreSQL database URL\n  sesame secret      print a fresh random secret for BETTER_AUTH_SECRET\n  sesame --help      this text\n  sesame --version   the version\n\n\
Environment:\n",
    );
    for v in VARIABLES {
        s.push_str(&format!(
            "  {:<36} {} (default: {})\n",
            v.name,
            v.help,
            if v.default.is_empty() { "none" } else { v.default }
        ));
    }
    s
}
