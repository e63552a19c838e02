//! The `sesame` binary: parse the command line (clap) and the environment, build the app,
//! serve. The only place that decides the exit code: 0 done, 1 failed, 2 usage error.
#![forbid(unsafe_code)]

mod user_command;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use sesame::app::migrations;
use sesame::config::{report, ConfigBuilder, Loaded, StorageUrl};
use sesame::storage::postgres::{PgOptions, PgStorage};
use sesame::storage::sqlite::{SqliteOptions, SqliteStorage};
use sesame::{server, App, Config};

/// sesame: a Better Auth-compatible authentication server.
///
/// Settings come from environment variables (listed below), not from flags.
#[derive(Parser)]
#[command(name = "sesame", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default when no command is given)
    Serve,
    /// Apply pending migrations to DATABASE_URL (SQLite or PostgreSQL) and exit
    Migrate,
    /// Copy the SQLite database DATABASE_URL into an empty PostgreSQL database
    CopyTo {
        /// The target, postgres://user:pass@host:port/db
        url: String,
    },
    /// Print a fresh random secret for BETTER_AUTH_SECRET
    Secret,
    /// Inspect the configuration
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage users on DATABASE_URL (the admin plugin's operations): list, show, create,
    /// set-password, set-role, ban, unban, revoke-sessions, delete
    User(user_command::UserArgs),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration (secrets redacted); exit 1 on any error or unknown
    /// SESAME_*/BETTER_AUTH_* variable
    Check,
    /// Print every variable as Markdown tables (the README's "Configuration" section)
    Docs,
}

fn main() -> ExitCode {
    let command = match parse_args() {
        Ok(c) => c,
        Err(code) => return code,
    };
    match run(command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("ERROR {err:#}");
            ExitCode::from(1)
        }
    }
}

/// The command, or the exit code after clap printed help, the version or a usage error.
fn parse_args() -> Result<Command, ExitCode> {
    let env_help = report::help();
    let cli = Cli::command()
        .after_help(env_help.clone())
        .mut_subcommand("serve", |serve| serve.after_help(env_help));
    let parsed = cli.try_get_matches().and_then(|m| Cli::from_arg_matches(&m));
    match parsed {
        Ok(cli) => Ok(cli.command.unwrap_or(Command::Serve)),
        Err(err) => {
            let _ = err.print();
            if let Some(hint) = flag_hint(&err) {
                eprintln!("\n{hint}");
            }
            Err(ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2)))
        }
    }
}

/// Sesame has no settings flags: point someone typing `--port 7302` at the variable. `None`
/// for anything but an unknown flag (a stray word is not a setting).
fn flag_hint(err: &clap::Error) -> Option<String> {
    if err.kind() != clap::error::ErrorKind::UnknownArgument {
        return None;
    }
    let flag = err
        .get(clap::error::ContextKind::InvalidArg)
        .map(|v| v.to_string())
        .filter(|arg| arg.starts_with('-'))?;
    let guess = flag
        .trim_start_matches('-')
        .split('=')
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase()
        .replace('-', "_");
    let variable = sesame::config::variables()
        .map(|v| v.name)
        .find(|name| !guess.is_empty() && (*name == guess || *name == format!("SESAME_{guess}")));
    Some(match variable {
        Some(name) => format!("Sesame is configured through environment variables: `{name}=… sesame serve`."),
        None => "Sesame is configured through environment variables; `sesame --help` lists them.".to_string(),
    })
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve => serve(),
        Command::Migrate => migrate(),
        Command::CopyTo { url } => copy_to(&url),
        Command::Secret => {
            println!("{}", sesame::crypto::random_string(48));
            Ok(ExitCode::SUCCESS)
        }
        Command::Config(ConfigCommand::Check) => config_check(),
        Command::Config(ConfigCommand::Docs) => {
            print!("{}", report::markdown());
            Ok(ExitCode::SUCCESS)
        }
        Command::User(args) => {
            let (config, _) = load()?;
            user_command::run(config, args)
        }
    }
}

/// The environment read once, then the log set up as it says and unknown names reported; or
/// every configuration error.
fn load() -> anyhow::Result<(Config, Loaded)> {
    let mut loaded = ConfigBuilder::from_env().load();
    let Some(config) = loaded.config.take() else {
        return Err(loaded.error());
    };
    sesame::log::init(&config.log_filter, config.log_format)?;
    for unknown in &loaded.unknown {
        tracing::warn!("{unknown}");
    }
    Ok((config, loaded))
}

fn serve() -> anyhow::Result<ExitCode> {
    let (mut config, loaded) = load()?;
    let kept = sesame::config::secret_file::settle(&mut config)?;
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    let addr = SocketAddr::new(config.host, config.port);
    let mut storage = storage_description(&config, &loaded);
    if let Some(kept) = kept {
        // Where the secret is, so it is backed up with the database (and never lost with it).
        storage.push_str(&format!(", secret in {kept}"));
    }
    let app = Arc::new(App::from_config(config)?);
    let signals = server::ShutdownSignals::install()?;
    let running = server::start(app.clone(), addr)?;
    // Before the listening line, which scripts and tests take as "started".
    if let Some(at) = running.metrics_addr {
        tracing::info!("metrics on http://{at}/metrics");
    }
    tracing::info!(
        "sesame listening on http://{} (endpoints under {}, storage {}, mail {}, {} workers)",
        running.addr,
        app.config.base_url(),
        storage,
        app.mailer.name(),
        app.config.workers
    );
    running.wait_for_signal(signals)?;
    if !app.outbox.shut_down(Duration::from_secs(10)) {
        tracing::warn!("{} email(s) still undelivered at exit", app.outbox.pending());
    } else if app.outbox.is_durable() {
        let queued = app.outbox.pending();
        if queued > 0 {
            tracing::info!("{queued} email(s) stay queued in the database for the next start");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `sesame config check`: the effective configuration on stdout, problems on stderr.
fn config_check() -> anyhow::Result<ExitCode> {
    let loaded = ConfigBuilder::from_env().load();
    print!("{}", report::effective(&loaded.effective));
    let mut failed = false;
    for problem in &loaded.problems {
        eprintln!("ERROR {problem}");
        failed = true;
    }
    for unknown in &loaded.unknown {
        eprintln!("ERROR {unknown}");
        failed = true;
    }
    if let Some(config) = &loaded.config {
        if let Err(e) = sesame::mail::from_config(config) {
            eprintln!("ERROR {e:#}");
            failed = true;
        }
        for warning in config.warnings() {
            eprintln!("WARN {warning}");
        }
    }
    if failed {
        eprintln!("configuration has errors");
        return Ok(ExitCode::from(1));
    }
    eprintln!("configuration is valid");
    Ok(ExitCode::SUCCESS)
}

/// The storage for the start-up line: the SQLite file (and whether it is the default), never
/// a PostgreSQL password.
fn storage_description(config: &Config, loaded: &Loaded) -> String {
    match &config.storage {
        StorageUrl::Sqlite(path) if path == ":memory:" => "sqlite (in memory, lost at exit)".to_string(),
        StorageUrl::Sqlite(path) => {
            let defaulted = loaded
                .effective
                .iter()
                .any(|e| e.name == "DATABASE_URL" && e.origin == sesame::config::var::Origin::Default);
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
    let (config, _) = load()?;
    let (target, applied) = match &config.storage {
        StorageUrl::Postgres(url) => {
            let options = PgOptions {
                session_cache: None,
                ..PgOptions::from_config(&config)
            };
            let storage = PgStorage::new(url.expose(), &options)?;
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
fn copy_to(url: &str) -> anyhow::Result<ExitCode> {
    let (config, _) = load()?;
    let StorageUrl::Sqlite(path) = &config.storage else {
        anyhow::bail!("`sesame copy-to` copies from SQLite: DATABASE_URL must be sqlite:PATH");
    };
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
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
    let options = PgOptions {
        session_cache: None,
        ..PgOptions::from_config(&config)
    };
    let target = PgStorage::new(url, &options)?;
    target.wait_until_reachable(Duration::from_secs(config.postgres_startup_timeout))?;
    target.migrate(&migrations())?;
    target.load(&snapshot)?;
    println!("copied sqlite:{path} to {}: {}", target.target(), snapshot.counts());
    Ok(ExitCode::SUCCESS)
}
