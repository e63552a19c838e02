//! Backup codes: ten single-use codes of ten letters and digits, shown as `xxxxx-xxxxx`
//! (Better Auth's defaults), stored together as an encrypted JSON array;
//! `POST /two-factor/generate-backup-codes` replaces the set and
//! `POST /two-factor/verify-backup-code` spends one as a second factor.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::challenge::{begin_attempt, prover, Lockout, Prover};
use super::routes::{check_password, PasswordBody, VerifiedAnswer};
use super::vault;
use super::{
    ACCOUNT_TEMPORARILY_LOCKED, BACKUP_CODES_NOT_ENABLED, INVALID_BACKUP_CODE, INVALID_TWO_FACTOR_COOKIE,
    TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE, TWO_FACTOR_NOT_ENABLED,
};
use crate::endpoint::current;
use crate::endpoint::{Ctx, Kind, NoInput, Typed};
use crate::error::{codes, ApiError};
use crate::http::{Request, Response};

/// Codes per set.
const AMOUNT: usize = 10;

/// A new set of backup codes.
pub fn generate() -> Vec<String> {
    (0..AMOUNT)
        .map(|_| {
            let code =
                crate::crypto::random_from(b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", 10);
            format!("{}-{}", &code[..5], &code[5..])
        })
        .collect()
}

crate::input! {
    /// The body of `POST /two-factor/verify-backup-code`.
    pub struct VerifyBackupCodeBody {
        code: String = "code" as Kind::String,
        disable_session: Option<bool> = "disableSession" as Kind::Boolean,
        trust_device: Option<bool> = "trustDevice" as Kind::Boolean,
    }
}

/// `POST /two-factor/generate-backup-codes`' answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupCodesAnswer {
    pub status: bool,
    #[serde(rename = "backupCodes")]
    pub backup_codes: Vec<String>,
}

pub static GENERATE_BACKUP_CODES: Typed<PasswordBody, NoInput, BackupCodesAnswer> = Typed::post(
    "/two-factor/generate-backup-codes",
    "generateBackupCodes",
    generate_backup_codes,
)
.summary("Generate new backup codes for two-factor authentication")
.session()
.hashing()
.errors(&[
    codes::UNAUTHORIZED,
    codes::INVALID_PASSWORD,
    codes::PASSWORD_TOO_LONG,
    TWO_FACTOR_NOT_ENABLED,
]);

pub static VERIFY_BACKUP_CODE: Typed<VerifyBackupCodeBody, NoInput, VerifiedAnswer> =
    Typed::post("/two-factor/verify-backup-code", "verifyBackupCode", verify_backup_code)
        .summary("Verify a backup code for two-factor authentication")
        .errors(&[
            INVALID_BACKUP_CODE,
            INVALID_TWO_FACTOR_COOKIE,
            BACKUP_CODES_NOT_ENABLED,
            TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE,
            ACCOUNT_TEMPORARILY_LOCKED,
        ]);

fn sealing_failed(e: anyhow::Error) -> ApiError {
    ApiError::internal().with_cause("encrypting the backup codes", &e)
}

fn generate_backup_codes(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let PasswordBody { password: pass } = ctx.input()?;
    let signed_in = current::require(ctx, req)?;
    if signed_in.user.two_factor_enabled != Some(true) {
        return Err(ApiError::bad_request(TWO_FACTOR_NOT_ENABLED));
    }
    check_password(ctx, &signed_in, GENERATE_BACKUP_CODES.endpoint.path, &pass)?;
    let mut row = ctx
        .storage()
        .find_two_factor(&signed_in.user.id)?
        .ok_or_else(|| ApiError::bad_request(TWO_FACTOR_NOT_ENABLED))?;
    let codes = generate();
    row.backup_codes = vault::seal_codes(ctx.secret(), &codes).map_err(sealing_failed)?;
    ctx.storage().save_two_factor(&row)?;
    Ok(Response::json(&json!({ "status": true, "backupCodes": codes })))
}

/// Whether `code` is one of `codes`, every one compared in constant time.
fn position(codes: &[String], code: &str) -> Option<usize> {
    let mut found = None;
    for (i, c) in codes.iter().enumerate() {
        if crate::crypto::constant_time_eq(c.as_bytes(), code.as_bytes()) {
            found = Some(i);
        }
    }
    found
}

fn verify_backup_code(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let VerifyBackupCodeBody {
        code,
        disable_session,
        trust_device,
    } = ctx.input()?;
    let prover = prover(ctx, req)?;
    let row = ctx
        .storage()
        .find_two_factor(&prover.user().id)?
        .ok_or_else(|| ApiError::bad_request(BACKUP_CODES_NOT_ENABLED))?;
    let lockout = Lockout::check(ctx, &prover, Some(&row))?;
    let attempt = begin_attempt(ctx, &prover)?;
    let codes = match vault::open_codes(ctx.secret(), &row.backup_codes) {
        Ok(codes) => codes.unwrap_or_default(),
        Err(e) => {
            if let Some(a) = &attempt {
                a.restore(ctx)?;
            }
            return Err(ApiError::internal().with_cause("reading the backup codes", &e));
        }
    };
    let invalid = || ApiError::new(401, INVALID_BACKUP_CODE);
    let Some(used) = position(&codes, &code) else {
        if let Some(a) = &attempt {
            a.failed(ctx)?;
        }
        lockout.failed(ctx)?;
        return Err(invalid());
    };
    let rest: Vec<String> = codes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != used)
        .map(|(_, c)| c.clone())
        .collect();
    let sealed = vault::seal_codes(ctx.secret(), &rest).map_err(sealing_failed)?;
    // Spent only if the set is still the one read: of two requests with the same code, one
    // wins and the other is refused (Better Auth answers it 409; here it is simply invalid).
    if !ctx
        .storage()
        .replace_backup_codes(&row.id, &row.backup_codes, &sealed)?
    {
        if let Some(a) = &attempt {
            a.restore(ctx)?;
        }
        return Err(invalid());
    }
    lockout.succeeded(ctx)?;
    if disable_session == Some(true) {
        // The code is spent and nothing else happens: no session, the challenge stays.
        if let Some(a) = &attempt {
            a.restore(ctx)?;
        }
        let mut body = json!({ "user": prover.user().to_json() });
        if let Prover::Session(s) = &prover {
            body["token"] = json!(s.session.token);
        }
        return Ok(Response::json(&body));
    }
    prover.valid(ctx, req, trust_device == Some(true))
}

#[cfg(test)]
mod tests {
    #[test]
    fn ten_distinct_codes_in_better_auths_shape() {
        let codes = super::generate();
        assert_eq!(codes.len(), 10);
        for c in &codes {
            assert_eq!(c.len(), 11);
            assert_eq!(&c[5..6], "-");
            assert!(c.chars().filter(|&ch| ch != '-').all(|ch| ch.is_ascii_alphanumeric()));
        }
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), 10);
    }
}
