//! `sesame user …`: the admin plugin's operations (`plugins::admin::ops`) on the configured
//! storage, for an operator at a shell. It works on the database a running server uses:
//! sessions are read from the database on every request (Sesame keeps no session cache), so a
//! ban or a revocation takes effect there at once.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand};
use serde_json::{json, Value};
use sesame::app::migrations;
use sesame::clock::{iso, Clock, SystemClock};
use sesame::config::StorageUrl;
use sesame::plugins::admin::{self, ops};
use sesame::storage::admin::{Condition, Op, UserField, UserQuery};
use sesame::storage::models::User;
use sesame::storage::postgres::PgStorage;
use sesame::storage::sqlite::SqliteStorage;
use sesame::storage::Storage;
use sesame::{ApiError, Config};

#[derive(Args)]
pub struct UserArgs {
    /// Print JSON (the admin endpoints' shapes) instead of text
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: UserCommand,
}

#[derive(Subcommand)]
enum UserCommand {
    /// List users (newest last), optionally those whose email (or name) contains a text
    List {
        /// Only users whose email contains this text (case-sensitive)
        #[arg(long)]
        search: Option<String>,
        /// Search the name instead of the email
        #[arg(long)]
        by_name: bool,
        /// At most this many
        #[arg(long)]
        limit: Option<u64>,
        /// Skip this many
        #[arg(long)]
        offset: Option<u64>,
    },
    /// Show one user (by email or id) with their sessions and accounts
    Show { user: String },
    /// Create a user; `--role admin` makes an admin (the way to make the first one)
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
        /// Read the password from the first line of stdin (without one, the user has no
        /// password: social or emailed-link sign-in only, or `set-password` later)
        #[arg(long)]
        password_stdin: bool,
        /// `admin` or `user` (default), or both comma separated
        #[arg(long)]
        role: Option<String>,
        /// Mark the address as verified
        #[arg(long)]
        verified: bool,
    },
    /// Set a user's password, read from the first line of stdin
    SetPassword {
        user: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Set a user's role: `admin`, `user`, or both comma separated
    SetRole { user: String, role: String },
    /// Ban a user: their sessions end and every sign-in is refused
    Ban {
        user: String,
        #[arg(long)]
        reason: Option<String>,
        /// When the ban lifts itself: a duration (`3600`, `12h`, `7d`) or an RFC 3339 time
        #[arg(long)]
        expires: Option<String>,
    },
    /// Lift a ban
    Unban { user: String },
    /// End every session of a user
    RevokeSessions { user: String },
    /// Delete a user with their sessions and accounts
    Delete { user: String },
}

/// The storage `DATABASE_URL` names, migrated as `sesame serve` would.
fn open(config: &Config) -> anyhow::Result<Arc<dyn Storage>> {
    Ok(match &config.storage {
        StorageUrl::Postgres(url) => Arc::new(PgStorage::connect(url.expose(), config, &migrations())?),
        StorageUrl::Sqlite(path) => Arc::new(SqliteStorage::connect(path, config, &migrations())?),
        StorageUrl::Memory => anyhow::bail!(
            "`sesame user` needs DATABASE_URL=sqlite:PATH or postgres://…; memory storage lives only inside a server"
        ),
    })
}

/// The first line of stdin, without its line ending.
fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("password (one line, then Enter):");
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let pass = line.trim_end_matches(['\n', '\r']).to_string();
    if pass.is_empty() {
        anyhow::bail!("no password on stdin");
    }
    Ok(pass)
}

/// `--expires`: seconds from now, a duration, or a time.
fn expiry(value: &str, now: time::OffsetDateTime) -> anyhow::Result<time::OffsetDateTime> {
    if let Some(secs) = sesame::config::plugins::parse_duration(value).filter(|s| *s > 0) {
        return Ok(now + time::Duration::seconds(secs));
    }
    match sesame::storage::admin::parse_date(value) {
        Some(t) if t > now => Ok(t),
        Some(_) => anyhow::bail!("--expires {value} is in the past"),
        None => anyhow::bail!("--expires takes a duration (3600, 12h, 7d) or an RFC 3339 time, not {value:?}"),
    }
}

/// One line per user for humans.
fn line(u: &User) -> String {
    let role = u.admin.role.as_deref().unwrap_or("-");
    let banned = if u.admin.banned == Some(true) { "  banned" } else { "" };
    format!("{}  {}  {:?}  role={role}{banned}", u.id, u.email, u.name)
}

fn details(u: &User) -> String {
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let mut out = vec![
        format!("id:             {}", u.id),
        format!("email:          {}", u.email),
        format!("name:           {}", u.name),
        format!("email verified: {}", u.email_verified),
        format!("role:           {}", opt(u.admin.role.clone())),
        format!("created:        {}", iso(u.created_at)),
        format!("updated:        {}", iso(u.updated_at)),
    ];
    if u.admin.banned == Some(true) {
        out.push(format!(
            "banned:         {} (until {})",
            opt(u.admin.ban_reason.clone()),
            u.admin.ban_expires.map_or("lifted by hand".into(), iso)
        ));
    }
    out.join("\n")
}

pub fn run(config: Config, args: UserArgs) -> anyhow::Result<ExitCode> {
    let storage = open(&config)?;
    let now = SystemClock.now();
    let s = storage.as_ref();
    let result = execute(s, &config, args.command, now);
    match result {
        Ok((value, text)) => {
            if args.json {
                println!("{value}");
            } else {
                println!("{text}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if args.json {
                println!("{}", json!({"message": e.message, "code": e.code, "status": e.status}));
            }
            eprintln!("ERROR {} ({})", e.message, e.code);
            Ok(ExitCode::from(1))
        }
    }
}

/// Runs one command: its JSON answer and its text.
fn execute(
    s: &dyn Storage,
    config: &Config,
    command: UserCommand,
    now: time::OffsetDateTime,
) -> Result<(Value, String), ApiError> {
    let cli_error =
        |e: anyhow::Error| ApiError::with_message(400, sesame::error::codes::VALIDATION_ERROR, format!("{e:#}"));
    Ok(match command {
        UserCommand::List {
            search,
            by_name,
            limit,
            offset,
        } => {
            let field = if by_name { UserField::Name } else { UserField::Email };
            let conditions = search
                .filter(|v| !v.is_empty())
                .and_then(|v| Condition::new(field, Op::Contains, &[Value::String(v)]))
                .into_iter()
                .collect();
            let query = UserQuery {
                conditions,
                sort: None,
                limit,
                offset,
            };
            let (users, total) = ops::list(s, &query)?;
            let mut text: Vec<String> = users.iter().map(line).collect();
            text.push(format!("{} of {total} user(s)", users.len()));
            let value = json!({
                "users": users.iter().map(admin::user_json).collect::<Vec<_>>(),
                "total": total,
            });
            (value, text.join("\n"))
        }
        UserCommand::Show { user } => {
            let u = ops::find(s, &user)?;
            let sessions: Vec<_> = s
                .list_user_sessions(&u.id)?
                .into_iter()
                .filter(|x| x.expires_at > now)
                .collect();
            let accounts = s.list_user_accounts(&u.id)?;
            let mut text = details(&u);
            text.push_str(&format!(
                "\nsessions:       {}\naccounts:       {}",
                sessions.len(),
                accounts
                    .iter()
                    .map(|a| a.provider_id.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            let value = json!({
                "user": admin::user_json(&u),
                "sessions": sessions.len(),
                "accounts": accounts.iter().map(|a| a.provider_id.clone()).collect::<Vec<_>>(),
            });
            (value, text)
        }
        UserCommand::Create {
            email,
            name,
            password_stdin,
            role,
            verified,
        } => {
            let password = if password_stdin {
                Some(read_password().map_err(cli_error)?)
            } else {
                None
            };
            let role = role
                .map(|r| ops::parse_roles(&Value::Array(r.split(',').map(|x| json!(x.trim())).collect())))
                .transpose()?;
            let name = name.unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_string());
            let new = ops::NewUser {
                email,
                name,
                password,
                role,
                email_verified: verified,
                image: None,
            };
            let u = ops::create_user(s, config, &ops::hash_here(config), new, now)?;
            (json!({ "user": admin::user_json(&u) }), format!("created {}", line(&u)))
        }
        UserCommand::SetPassword { user, .. } => {
            let u = ops::find(s, &user)?;
            let pass = read_password().map_err(cli_error)?;
            ops::set_password(s, config, &ops::hash_here(config), &u.id, &pass, now)?;
            (json!({ "status": true }), format!("password set for {}", u.email))
        }
        UserCommand::SetRole { user, role } => {
            let u = ops::find(s, &user)?;
            let role = ops::parse_roles(&Value::Array(role.split(',').map(|x| json!(x.trim())).collect()))?;
            let u = ops::set_role(s, &u.id, role, now)?;
            (json!({ "user": admin::user_json(&u) }), line(&u))
        }
        UserCommand::Ban { user, reason, expires } => {
            let u = ops::find(s, &user)?;
            let expires = expires.map(|e| expiry(&e, now)).transpose().map_err(cli_error)?;
            let u = ops::ban(s, &u.id, reason, expires, now)?;
            (
                json!({ "user": admin::user_json(&u) }),
                format!("banned {}; their sessions ended", u.email),
            )
        }
        UserCommand::Unban { user } => {
            let u = ops::find(s, &user)?;
            let u = ops::unban(s, &u.id, now)?;
            (json!({ "user": admin::user_json(&u) }), format!("unbanned {}", u.email))
        }
        UserCommand::RevokeSessions { user } => {
            let u = ops::find(s, &user)?;
            ops::revoke_sessions(s, &u.id)?;
            (
                json!({ "success": true }),
                format!("ended every session of {}", u.email),
            )
        }
        UserCommand::Delete { user } => {
            let u = ops::find(s, &user)?;
            ops::remove(s, &u.id)?;
            (json!({ "success": true }), format!("deleted {}", u.email))
        }
    })
}
