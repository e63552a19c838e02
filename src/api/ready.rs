//! `GET /ready`: whether this process can serve, for load balancers and orchestrators.
//! `GET /ok` stays Better Auth's liveness answer (the process runs); `/ready` also checks what
//! serving needs: the database answers within [`BUDGET`], its migrations are applied, and a
//! mail transport is configured (without one, reset and verification links only reach
//! stderr). 200 `{"ready": true, "checks": {…}}`, or 503 in the error shape plus the same
//! `checks`, each naming what is wrong. Never rate-limited (`Route::never_rate_limited`);
//! details of a failure (addresses, driver errors) go to the log, not to the answer.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::endpoint::{Ctx, NoInput, Typed};
use crate::error::{codes, ApiError};
use crate::http::{Request, Response};
use crate::storage::sql::Migration;
use crate::storage::{Storage, StorageResult};

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

type Outcome = StorageResult<Vec<&'static str>>;

/// The migrations to expect, and the database check in flight if one outlived its budget: a
/// hung database gets one stuck thread, not one per probe.
pub struct Readiness {
    migrations: Vec<Migration>,
    inflight: Mutex<Option<Receiver<Outcome>>>,
}

impl Readiness {
    /// `migrations`: every migration the app applies (the app hands them over, as to storage).
    pub fn new(migrations: Vec<Migration>) -> Readiness {
        Readiness {
            migrations,
            inflight: Mutex::new(None),
        }
    }

    /// Runs the storage check on a helper thread and waits at most [`BUDGET`] for it.
    fn database(&self, storage: &Arc<dyn Storage>) -> Result<Vec<&'static str>, String> {
        let mut slot = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
        let rx = match slot.take() {
            Some(rx) => rx,
            None => {
                let (tx, rx) = mpsc::channel();
                let storage = storage.clone();
                let migrations = self.migrations.clone();
                let spawned = std::thread::Builder::new()
                    .name("ready-check".to_string())
                    .spawn(move || {
                        let _ = tx.send(storage.health_check(&migrations));
                    });
                if spawned.is_err() {
                    return Err("could not be checked".to_string());
                }
                rx
            }
        };
        match rx.recv_timeout(BUDGET) {
            Ok(Ok(pending)) => Ok(pending),
            Ok(Err(e)) => {
                tracing::warn!("readiness: database check failed: {e}");
                Err("unreachable".to_string())
            }
            Err(RecvTimeoutError::Timeout) => {
                *slot = Some(rx);
                tracing::warn!(
                    "readiness: the database did not answer within {} ms",
                    BUDGET.as_millis()
                );
                Err(format!("no answer within {} ms", BUDGET.as_millis()))
            }
            Err(RecvTimeoutError::Disconnected) => Err("could not be checked".to_string()),
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
