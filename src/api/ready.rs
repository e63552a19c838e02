//! `GET /ready`: whether this process can serve, for load balancers and orchestrators.
//! `GET /ok` stays Better Auth's liveness answer (the process runs); `/ready` also checks what
//! serving needs: the database answers within [`BUDGET`], its migrations are applied, and a
//! mail transport is configured (without one, reset and verification links only reach
//! stderr). 200 `{"ready": true, "checks": {…}}`, or 503 in the error shape plus the same
//! `checks`, each naming what is wrong. Never rate-limited (`never_rate_limited` in [`READY`]);
//! details of a failure (addresses, driver errors) go to the log, not to the answer.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::endpoint::{Ctx, NoInput, Typed};
use crate::error::{codes, ApiError};
use crate::http::{Request, Response};
use crate::storage::sql::Migration;
use crate::storage::Storage;

pub static READY: Typed<NoInput, NoInput, ReadyAnswer> = Typed::get("/ready", "ready", ready)
    .summary("Readiness: database reachable, migrations applied, mail transport configured")
    .errors(&[codes::NOT_READY])
    .never_rate_limited();

/// `GET /ready` when ready; the 503 answer adds the error fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadyAnswer {
    pub ready: bool,
    /// `database`, `migrations`, `mail`: `ok` or what is wrong.
    pub checks: std::collections::BTreeMap<String, String>,
}

/// How long `/ready` waits for the database.
pub const BUDGET: Duration = Duration::from_millis(1000);

/// The pending migrations, or the database was not reachable (the cause went to the log).
type Outcome = Result<Vec<&'static str>, ()>;

/// The database checks: at most one runs at a time, and every probe that arrives meanwhile
/// waits for that one (within its own budget) instead of starting another. A hung database
/// thus costs one stuck thread, however many probes come, and no probe waits for another.
#[derive(Default)]
struct Checks {
    /// Checks started so far; while `running`, the last of them is in flight.
    started: u64,
    running: bool,
    /// The latest finished check: its number and outcome.
    last: Option<(u64, Outcome)>,
}

/// The migrations to expect, and the database check in flight.
pub struct Readiness {
    migrations: Vec<Migration>,
    checks: Arc<(Mutex<Checks>, Condvar)>,
}

impl Readiness {
    /// `migrations`: every migration the app applies (the app hands them over, as to storage).
    pub fn new(migrations: Vec<Migration>) -> Readiness {
        Readiness {
            migrations,
            checks: Arc::default(),
        }
    }

    /// Starts a storage check on a helper thread unless one is in flight, and waits at most
    /// [`BUDGET`] for it.
    fn database(&self, storage: &Arc<dyn Storage>) -> Result<Vec<&'static str>, String> {
        let (lock, finished) = &*self.checks;
        let mut checks = lock.lock().unwrap_or_else(|p| p.into_inner());
        if !checks.running {
            checks.started += 1;
            let number = checks.started;
            let (shared, storage, migrations) = (self.checks.clone(), storage.clone(), self.migrations.clone());
            let spawned = std::thread::Builder::new()
                .name("ready-check".to_string())
                .spawn(move || {
                    let outcome = storage.health_check(&migrations).map_err(|e| {
                        tracing::warn!("readiness: database check failed: {e}");
                    });
                    let (lock, finished) = &*shared;
                    let mut checks = lock.lock().unwrap_or_else(|p| p.into_inner());
                    checks.last = Some((number, outcome));
                    checks.running = false;
                    finished.notify_all();
                });
            if spawned.is_err() {
                return Err("could not be checked".to_string());
            }
            checks.running = true;
        }
        let wanted = checks.started;
        let (checks, _) = finished
            .wait_timeout_while(checks, BUDGET, |c| c.last.as_ref().is_none_or(|(n, _)| *n < wanted))
            .unwrap_or_else(|p| p.into_inner());
        match &checks.last {
            Some((n, Ok(pending))) if *n >= wanted => Ok(pending.clone()),
            Some((n, Err(()))) if *n >= wanted => Err("unreachable".to_string()),
            _ => {
                tracing::warn!(
                    "readiness: the database did not answer within {} ms",
                    BUDGET.as_millis()
                );
                Err(format!("no answer within {} ms", BUDGET.as_millis()))
            }
        }
    }
}

fn ready(ctx: &Ctx<'_>, _req: &Request) -> Result<Response, ApiError> {
    let mut checks = Map::new();
    let mut problems = Vec::new();
    let mut check = |name: &str, outcome: Result<(), String>| match outcome {
        Ok(()) => {
            checks.insert(name.to_string(), json!("ok"));
        }
        Err(why) => {
            problems.push(format!("{name}: {why}"));
            checks.insert(name.to_string(), json!(why));
        }
    };
    match ctx.app.readiness.database(&ctx.app.storage) {
        Ok(pending) => {
            check("database", Ok(()));
            let migrations = match pending.len() {
                0 => Ok(()),
                n => Err(format!("{n} pending (run `sesame migrate`)")),
            };
            check("migrations", migrations);
        }
        Err(why) => {
            check("database", Err(why));
            check("migrations", Err("unknown (database not reachable)".to_string()));
        }
    }
    let mail = match ctx.app.mailer.reaches_recipients() {
        true => Ok(()),
        false => Err("not configured (emails are printed to stderr)".to_string()),
    };
    check("mail", mail);
    let checks = Value::Object(checks);
    if problems.is_empty() {
        let resp = Response::json(&json!({"ready": true, "checks": checks}));
        return Ok(resp.with_header("cache-control", "no-store"));
    }
    let err = ApiError::with_message(503, codes::NOT_READY, format!("Not ready: {}", problems.join("; ")));
    let mut body = err.body_json();
    if let Some(o) = body.as_object_mut() {
        o.insert("ready".to_string(), json!(false));
        o.insert("checks".to_string(), checks);
    }
    Ok(Response::json_status(503, &body).with_header("cache-control", "no-store"))
}
