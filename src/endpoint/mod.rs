//! The endpoints' floor: what every endpoint handler, core (`api/`) or plugin (`plugins/`),
//! is written against. A request's context ([`Ctx`]) over the app's [`Services`]; each
//! endpoint's one declaration ([`Typed`], [`Endpoint`]) and the [`Router`] that matches them;
//! resolving the signed-in session
//! ([`current`]); input validation with Better Auth's messages ([`validate`]); and the flows
//! several endpoints share ([`session`]: creating a session, a password sign-in).
//!
//! It knows nothing of the pipeline that runs handlers (`app.rs`) or of the transport.

pub mod answer_json;
pub mod answers;
pub mod ctx;
pub mod current;
pub mod declare;
pub mod mail;
mod router;
pub mod session;
pub mod social;
pub mod validate;

pub use ctx::{Ctx, Services, Transport};
pub use declare::{Declared, Endpoint, Input, NoInput, OnInvalid, Produces, Typed};
pub use router::{Handler, Match, Router};
pub use validate::{Field, Kind, Schema};

use crate::error::{codes, ApiError};
use crate::storage::StorageError;

/// How a storage failure answers: 503 `DATABASE_UNAVAILABLE` when the database cannot be
/// reached, a plain 500 otherwise. The cause rides along for the pipeline's log line; a
/// `Conflict` a handler did not expect is a 500 too.
impl From<StorageError> for ApiError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::Unavailable(cause) => {
                ApiError::new(503, codes::DATABASE_UNAVAILABLE).with_cause("storage unavailable", &cause)
            }
            StorageError::Conflict(what) => {
                ApiError::internal().with_cause("unexpected storage conflict", &anyhow::anyhow!("{what}"))
            }
            StorageError::Other(cause) => ApiError::internal().with_cause("storage failure", &cause),
        }
    }
}
