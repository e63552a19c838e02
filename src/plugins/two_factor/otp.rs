//! The email one-time code: `POST /two-factor/send-otp` and `/two-factor/verify-otp`, as Better
//! Auth's `otp2fa`. A 6-digit code is mailed (kind `two-factor-otp`, the code in `token`) and is
//! good for 3 minutes and 5 tries; a new code replaces the old one. It is stored as
//! `2fa-otp-<key>` → `<hash>:<failed tries>`, the key being the sign-in challenge or the user
//! and session; the hash is Better Auth's `storeOTP: "hashed"` (base64url SHA-256), never the
//! code.

use serde::{Deserialize, Serialize};
use serde_json::json;
use time::Duration;

use super::challenge::{prover, Lockout, Prover};
use super::routes::{switch, VerifiedAnswer, VerifyCodeBody};
use super::{INVALID_CODE, INVALID_TWO_FACTOR_COOKIE, OTP_HAS_EXPIRED, TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE};
use crate::endpoint::mail::{queue, Outgoing};
use crate::endpoint::{Ctx, Kind, NoInput, Typed};
use crate::error::{codes, ApiError};
use crate::http::{Request, Response};
use crate::mail::MailKind;
use crate::storage::models::Verification;
use crate::storage::two_factor::RowChange;

/// Better Auth's `otpOptions.period` default: 3 minutes.
const OTP_SECS: i64 = 3 * 60;
/// Better Auth's `otpOptions.allowedAttempts` default.
const OTP_ATTEMPTS: u32 = 5;

crate::input! {
    /// The body of `POST /two-factor/send-otp` (optional).
    pub struct SendOtpBody {
        trust_device: Option<bool> = "trustDevice" as Kind::Boolean,
    }
}

/// `{status: true}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OtpSentAnswer {
    pub status: bool,
}

pub static SEND_OTP: Typed<SendOtpBody, NoInput, OtpSentAnswer> =
    Typed::post("/two-factor/send-otp", "sendTwoFactorOTP", send_otp)
        .summary("Send two factor OTP")
        .optional_body()
        .errors(&[INVALID_TWO_FACTOR_COOKIE]);

pub static VERIFY_OTP: Typed<VerifyCodeBody, NoInput, VerifiedAnswer> =
    Typed::post("/two-factor/verify-otp", "verifyTwoFactorOTP", verify_otp)
        .summary("Verify two factor OTP")
        .errors(&[
            INVALID_CODE,
            INVALID_TWO_FACTOR_COOKIE,
            OTP_HAS_EXPIRED,
            TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE,
            super::ACCOUNT_TEMPORARILY_LOCKED,
        ]);

fn otp_id(prover: &Prover) -> String {
    format!("2fa-otp-{}", prover.key())
}

fn hash(code: &str) -> String {
    crate::crypto::sha256_base64url(code)
}

fn send_otp(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let _: SendOtpBody = ctx.input()?;
    let prover = prover(ctx, req)?;
    ctx.app.ensure_mail_room()?;
    let code = crate::crypto::random_from(b"0123456789", 6);
    let row = Verification {
        id: crate::crypto::new_id(),
        identifier: otp_id(&prover),
        value: format!("{}:0", hash(&code)),
        expires_at: ctx.now + Duration::seconds(OTP_SECS),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    ctx.storage().create_verification(&row)?;
    // Queued, never awaited, and the answer is the same whether the recipient's mail limit let
    // it through: Better Auth runs sendOTP in the background too.
    queue(
        ctx,
        Outgoing {
            kind: MailKind::TwoFactorOtp,
            to: &prover.user().email,
            url: String::new(),
            token: code,
            expires_in: OTP_SECS,
            new_email: None,
        },
    )?;
    Ok(Response::json(&json!({ "status": true })))
}

fn verify_otp(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let VerifyCodeBody { code, trust_device } = ctx.input()?;
    let prover = prover(ctx, req)?;
    let user = prover.user().clone();
    // Only an account with an authenticator row has the account-wide count (Better Auth).
    let row = match prover.is_sign_in() {
        true => ctx.storage().find_two_factor(&user.id)?,
        false => None,
    };
    let lockout = Lockout::check(ctx, &prover, row.as_ref())?;
    let id = otp_id(&prover);
    let stored = ctx
        .storage()
        .consume_verification(&id)?
        .filter(|r| r.expires_at > ctx.now)
        .ok_or_else(|| ApiError::bad_request(OTP_HAS_EXPIRED))?;
    let (expected, tries) = stored.value.rsplit_once(':').unwrap_or((stored.value.as_str(), ""));
    let tries = tries.parse::<u32>().unwrap_or(0);
    if tries >= OTP_ATTEMPTS {
        return Err(ApiError::bad_request(TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE));
    }
    if !crate::crypto::constant_time_eq(expected.as_bytes(), hash(&code).as_bytes()) {
        // Put the code back with one more try used (it was taken so that concurrent guesses
        // each count: a second one finds no code and is refused).
        ctx.storage().create_verification(&Verification {
            id: crate::crypto::new_id(),
            value: format!("{expected}:{}", tries + 1),
            updated_at: ctx.now,
            ..stored.clone()
        })?;
        lockout.failed(ctx)?;
        return Err(ApiError::new(401, INVALID_CODE));
    }
    lockout.succeeded(ctx)?;
    if user.two_factor_enabled != Some(true) {
        // A signed-in user proving the email code switches two-factor on (Better Auth).
        let Prover::Session(signed_in) = &prover else {
            return Err(ApiError::bad_request(codes::FAILED_TO_CREATE_SESSION));
        };
        let (user, token) = switch(ctx, req, signed_in, true, RowChange::Keep)?;
        return Ok(Response::json(&json!({ "token": token, "user": user.to_json() })));
    }
    prover.valid(ctx, req, trust_device == Some(true))
}
