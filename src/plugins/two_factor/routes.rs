//! Setting up TOTP and switching two-factor: `POST /two-factor/enable`, `/two-factor/disable`,
//! `/two-factor/get-totp-uri` and `/two-factor/verify-totp` (which also answers a sign-in
//! challenge).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::challenge::{begin_attempt, prover, Lockout, Prover};
use super::{backup, issuer, totp, vault};
use super::{
    INVALID_CODE, INVALID_TWO_FACTOR_COOKIE, TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE, TOTP_ALREADY_ENABLED, TOTP_NOT_ENABLED,
};
use crate::auth::password;
use crate::auth::session::new_session;
use crate::endpoint::answers::{StatusAnswer, UserAnswer};
use crate::endpoint::current::{self, SignedIn};
use crate::endpoint::session::count_password_attempt;
use crate::endpoint::{Ctx, Kind, NoInput, Typed};
use crate::error::{codes, ApiError};
use crate::http::{Request, Response};
use crate::storage::models::{User, Verification};
use crate::storage::two_factor::{RowChange, TwoFactor, TwoFactorSwitch};

fn method_is_known(v: &Value) -> Option<String> {
    match v.as_str() {
        Some("otp" | "totp") => None,
        _ => Some(r#"Invalid option: expected one of "otp"|"totp""#.to_string()),
    }
}

crate::input! {
    /// The body of `POST /two-factor/enable`.
    pub struct EnableBody {
        password: String = "password" as Kind::String,
        method: Option<String> = "method" as Kind::String => method_is_known,
        issuer: Option<String> = "issuer" as Kind::String,
    }
}

/// `POST /two-factor/enable`'s answer: `totpURI` and `backupCodes` for the TOTP method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnableAnswer {
    pub method: String,
    #[serde(rename = "totpURI", default, skip_serializing_if = "Option::is_none")]
    pub totp_uri: Option<String>,
    #[serde(rename = "backupCodes", default, skip_serializing_if = "Option::is_none")]
    pub backup_codes: Option<Vec<String>>,
}

pub static ENABLE: Typed<EnableBody, NoInput, EnableAnswer> =
    Typed::post("/two-factor/enable", "enableTwoFactor", enable)
        .summary("Enable two factor authentication")
        .session()
        .hashing()
        .errors(&[
            codes::UNAUTHORIZED,
            codes::INVALID_PASSWORD,
            codes::PASSWORD_TOO_LONG,
            TOTP_ALREADY_ENABLED,
        ]);

crate::input! {
    /// A body with the user's password (disable, get-totp-uri, generate-backup-codes).
    pub struct PasswordBody {
        password: String = "password" as Kind::String,
    }
}

pub static DISABLE: Typed<PasswordBody, NoInput, StatusAnswer> =
    Typed::post("/two-factor/disable", "disableTwoFactor", disable)
        .summary("Disable two factor authentication")
        .session()
        .hashing()
        .errors(&[codes::UNAUTHORIZED, codes::INVALID_PASSWORD, codes::PASSWORD_TOO_LONG]);

/// `POST /two-factor/get-totp-uri`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TotpUriAnswer {
    #[serde(rename = "totpURI")]
    pub totp_uri: String,
}

pub static GET_TOTP_URI: Typed<PasswordBody, NoInput, TotpUriAnswer> =
    Typed::post("/two-factor/get-totp-uri", "getTOTPURI", get_totp_uri)
        .summary("Get TOTP URI")
        .session()
        .hashing()
        .errors(&[
            codes::UNAUTHORIZED,
            codes::INVALID_PASSWORD,
            codes::PASSWORD_TOO_LONG,
            TOTP_NOT_ENABLED,
        ]);

crate::input! {
    /// The body of `POST /two-factor/verify-totp` and `/two-factor/verify-otp`.
    pub struct VerifyCodeBody {
        code: String = "code" as Kind::String,
        trust_device: Option<bool> = "trustDevice" as Kind::Boolean,
    }
}

/// A second factor's answer: the session's token and the user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifiedAnswer {
    pub token: Option<String>,
    pub user: UserAnswer,
}

pub static VERIFY_TOTP: Typed<VerifyCodeBody, NoInput, VerifiedAnswer> =
    Typed::post("/two-factor/verify-totp", "verifyTOTP", verify_totp)
        .summary("Verify two factor TOTP")
        .errors(&[
            INVALID_CODE,
            INVALID_TWO_FACTOR_COOKIE,
            TOTP_NOT_ENABLED,
            TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE,
            super::ACCOUNT_TEMPORARILY_LOCKED,
        ]);

/// Checks the signed-in user's password, counted against the account's password attempts as
/// `/verify-password` is (a stolen session cannot guess the password here faster).
pub(super) fn check_password(ctx: &Ctx<'_>, signed_in: &SignedIn, path: &str, pass: &str) -> Result<(), ApiError> {
    if password::length(pass) > ctx.config().max_password_length {
        return Err(ApiError::bad_request(codes::PASSWORD_TOO_LONG));
    }
    count_password_attempt(ctx, path, &format!("user|{}", signed_in.user.id))?;
    let hash = ctx
        .storage()
        .find_credential_account(&signed_in.user.id)?
        .and_then(|a| a.password);
    let Some(hash) = hash.filter(|_| !pass.is_empty()) else {
        // Spend a hash's time either way, as Better Auth's checkPassword does.
        ctx.verify_password(pass, ctx.app.dummy_hash())?;
        return Err(ApiError::bad_request(codes::INVALID_PASSWORD));
    };
    if !ctx.verify_password(pass, &hash)? {
        return Err(ApiError::bad_request(codes::INVALID_PASSWORD));
    }
    Ok(())
}

/// Switches `twoFactorEnabled`, replacing the caller's session with a new one (Better Auth
/// re-issues it so that the cookie carries the new user), and sets its cookie.
pub(super) fn switch(
    ctx: &Ctx<'_>,
    req: &Request,
    signed_in: &SignedIn,
    enabled: bool,
    row: RowChange,
) -> Result<(User, String), ApiError> {
    // Plugins have their say on the new session as on any other (a ban refuses it).
    crate::endpoint::session::admit(ctx, &signed_in.user.id)?;
    let user_agent = req.header("user-agent").unwrap_or_default().to_string();
    let mut session = new_session(
        &signed_in.user.id,
        ctx.now,
        ctx.config(),
        !signed_in.dont_remember,
        ctx.client_ip(req),
        user_agent,
    );
    // An admin's impersonation session stays one: marked, and no longer than it was.
    if signed_in.session.impersonated_by.is_some() {
        session.impersonated_by = signed_in.session.impersonated_by.clone();
        session.expires_at = session.expires_at.min(signed_in.session.expires_at);
    }
    let user = ctx
        .storage()
        .switch_two_factor(&TwoFactorSwitch {
            user_id: &signed_in.user.id,
            enabled,
            now: ctx.now,
            row,
            rotate: Some((&signed_in.session.token, &session)),
        })?
        .ok_or_else(ApiError::unauthorized)?;
    ctx.app.metrics.sessions_created.inc();
    ctx.set_session_cookie(&session.token, signed_in.dont_remember);
    Ok((user, session.token))
}

fn decrypt_key(ctx: &Ctx<'_>, row: &TwoFactor) -> Result<Vec<u8>, ApiError> {
    vault::open(ctx.secret(), &row.secret)
        .and_then(|s| totp::key(&s))
        .map_err(|e| ApiError::internal().with_cause("reading the TOTP secret", &e))
}

fn enable(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let EnableBody {
        password: pass,
        method,
        issuer: custom_issuer,
    } = ctx.input()?;
    let signed_in = current::require(ctx, req)?;
    check_password(ctx, &signed_in, ENABLE.endpoint.path, &pass)?;
    if method.as_deref() == Some("otp") {
        // Codes go by email, so there is nothing to set up: two-factor is on at once.
        switch(ctx, req, &signed_in, true, RowChange::Keep)?;
        return Ok(Response::json(&json!({ "method": "otp" })));
    }
    let user = &signed_in.user;
    let existing = ctx.storage().find_two_factor(&user.id)?;
    if existing.as_ref().is_some_and(TwoFactor::is_verified) {
        return Err(ApiError::bad_request(TOTP_ALREADY_ENABLED));
    }
    let secret = totp::new_secret();
    let codes = backup::generate();
    let seal = |plain: anyhow::Result<String>| {
        plain.map_err(|e| ApiError::internal().with_cause("encrypting the two-factor secrets", &e))
    };
    // A set-up stays unverified (and two-factor off) until a first good code.
    let row = TwoFactor {
        id: existing.map_or_else(crate::crypto::new_id, |r| r.id),
        secret: seal(vault::seal(ctx.secret(), &secret))?,
        backup_codes: seal(vault::seal_codes(ctx.secret(), &codes))?,
        user_id: user.id.clone(),
        verified: Some(false),
        failed_verification_count: Some(0),
        locked_until: None,
    };
    ctx.storage().save_two_factor(&row)?;
    let issuer = custom_issuer.filter(|i| !i.is_empty()).unwrap_or_else(|| issuer(ctx));
    Ok(Response::json(&json!({
        "method": "totp",
        "totpURI": totp::uri(secret.as_bytes(), &issuer, &user.email),
        "backupCodes": codes,
    })))
}

fn disable(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let PasswordBody { password: pass } = ctx.input()?;
    let signed_in = current::require(ctx, req)?;
    check_password(ctx, &signed_in, DISABLE.endpoint.path, &pass)?;
    switch(ctx, req, &signed_in, false, RowChange::DeleteAll)?;
    super::challenge::forget_trusted_device(ctx, req, &signed_in.user.id)?;
    Ok(Response::json(&json!({ "status": true })))
}

fn get_totp_uri(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let PasswordBody { password: pass } = ctx.input()?;
    let signed_in = current::require(ctx, req)?;
    let row = ctx
        .storage()
        .find_two_factor(&signed_in.user.id)?
        .ok_or_else(|| ApiError::bad_request(TOTP_NOT_ENABLED))?;
    let key = decrypt_key(ctx, &row)?;
    check_password(ctx, &signed_in, GET_TOTP_URI.endpoint.path, &pass)?;
    Ok(Response::json(&json!({
        "totpURI": totp::uri(&key, &issuer(ctx), &signed_in.user.email),
    })))
}

/// Marks a TOTP step used for the user; false when it already was. The mark is a
/// `verification` row keyed by user and step, living until the step can no longer match.
fn claim_step(ctx: &Ctx<'_>, user_id: &str, step: u64) -> Result<bool, ApiError> {
    let last_valid = i64::try_from((step + 2) * totp::PERIOD).unwrap_or(i64::MAX);
    let expires_at = time::OffsetDateTime::from_unix_timestamp(last_valid).unwrap_or(ctx.now);
    Ok(ctx.storage().claim_verification(&Verification {
        id: format!("totp-used:{user_id}:{step}"),
        identifier: "2fa-totp-used".to_string(),
        value: user_id.to_string(),
        expires_at,
        created_at: ctx.now,
        updated_at: ctx.now,
    })?)
}

fn verify_totp(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let VerifyCodeBody { code, trust_device } = ctx.input()?;
    let prover = prover(ctx, req)?;
    let user = prover.user().clone();
    let row = ctx
        .storage()
        .find_two_factor(&user.id)?
        .filter(|r| r.is_verified() || !prover.is_sign_in())
        .ok_or_else(|| ApiError::bad_request(TOTP_NOT_ENABLED))?;
    let lockout = Lockout::check(ctx, &prover, Some(&row))?;
    let attempt = begin_attempt(ctx, &prover)?;
    let key = match decrypt_key(ctx, &row) {
        Ok(key) => key,
        Err(e) => {
            if let Some(a) = &attempt {
                a.restore(ctx)?;
            }
            return Err(e);
        }
    };
    let now_secs = u64::try_from(ctx.now.unix_timestamp()).unwrap_or(0);
    let step = totp::matching_step(&key, &code, now_secs);
    // A code is good once: the step's mark is claimed atomically, so of two requests with the
    // same code (a replay, or a double submit) only one succeeds.
    let good = match step {
        Some(step) => claim_step(ctx, &user.id, step)?,
        None => false,
    };
    if !good {
        if let Some(a) = &attempt {
            a.failed(ctx)?;
        }
        lockout.failed(ctx)?;
        return Err(ApiError::new(401, INVALID_CODE));
    }
    lockout.succeeded(ctx)?;
    if !row.is_verified() {
        if let Prover::Session(signed_in) = &prover {
            return confirm_set_up(ctx, req, signed_in, &row);
        }
    }
    prover.valid(ctx, req, trust_device == Some(true))
}

/// The first good code of a TOTP set-up: the row is verified and two-factor switched on (the
/// session re-issued). Better Auth answers here with the replaced session's token and the user
/// as it was; Sesame answers with the new session and the user as it is now.
fn confirm_set_up(ctx: &Ctx<'_>, req: &Request, signed_in: &SignedIn, row: &TwoFactor) -> Result<Response, ApiError> {
    let change = RowChange::MarkVerified(row.id.clone());
    if signed_in.user.two_factor_enabled == Some(true) {
        // Already on (by email OTP): confirm the row only, the session stays.
        let user = ctx
            .storage()
            .switch_two_factor(&TwoFactorSwitch {
                user_id: &signed_in.user.id,
                enabled: true,
                now: ctx.now,
                row: change,
                rotate: None,
            })?
            .ok_or_else(ApiError::unauthorized)?;
        return Ok(Response::json(
            &json!({ "token": signed_in.session.token, "user": ctx.user_json(&user) }),
        ));
    }
    let (user, token) = switch(ctx, req, signed_in, true, change)?;
    Ok(Response::json(&json!({ "token": token, "user": ctx.user_json(&user) })))
}
