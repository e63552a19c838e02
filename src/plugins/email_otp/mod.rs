//! The email-otp plugin (Better Auth's `emailOTP`): a 6-digit code mailed to an address signs
//! its owner in (creating the user the first time, unless sign-up is off), verifies the
//! address, or resets the password. `docs/plugins/email-otp.md` describes the wire behaviour
//! in full.
//!
//! - Sending (`send.rs`): `send-verification-otp` (types `sign-in`, `email-verification`,
//!   `forget-password`), `request-password-reset` and its former name
//!   `/forget-password/email-otp`. An address without an account gets no code and no mail
//!   but the same answer (a `sign-in` code does go to a new address while sign-up is on).
//! - Using (`use_code.rs`, `reset.rs`): `/sign-in/email-otp`, `verify-email`,
//!   `check-verification-otp` (checks without using the code), `reset-password`.
//!
//! Codes, as Better Auth's defaults: 6 digits from the operating system's CSPRNG, good for
//! 300 s and 3 wrong tries; the fourth try is refused with 403 `TOO_MANY_ATTEMPTS` whatever it
//! says, and the code is gone. A new code replaces the old one. Each is stored as Better
//! Auth's `storeOTP: "plain"` stores it (`verification` row `<type>-otp-<email>` →
//! `<code>:<failed tries>`), compared in constant time, never logged, and every guess is one
//! atomic storage step (`storage/one_time_code.rs`). Every route is under the strict rate
//! limit (3 per 60 s per client, the plugin's own rule).

mod reset;
mod send;
mod use_code;

use super::{Hooks, Plugin};
use crate::endpoint::Ctx;
use crate::error::{ApiError, ErrorCode};
use crate::http::{Request, Response};
use crate::mail::MailKind;
use crate::storage::models::User;
use crate::storage::one_time_code::{CodeGuess, Guess, OnRight};
use crate::storage::StorageResult;

macro_rules! email_otp_codes {
    ($($name:ident => $msg:expr,)*) => {
        $(pub const $name: ErrorCode = ErrorCode { code: stringify!($name), message: $msg };)*
        const CODES: &[ErrorCode] = &[$($name),*];
    };
}

email_otp_codes! {
    OTP_EXPIRED => "OTP expired",
    INVALID_OTP => "Invalid OTP",
    TOO_MANY_ATTEMPTS => "Too many attempts",
    // Better Auth answers `{message: "Invalid OTP type"}` without a code.
    INVALID_OTP_TYPE => "Invalid OTP type",
}

pub use reset::{ResetPasswordEmailOtpBody, RESET_PASSWORD_EMAIL_OTP};
pub use send::{
    RequestPasswordResetEmailOtpBody, SendVerificationOtpBody, FORGET_PASSWORD_EMAIL_OTP,
    REQUEST_PASSWORD_RESET_EMAIL_OTP, SEND_VERIFICATION_OTP,
};
pub use use_code::{
    CheckVerificationOtpBody, SignInEmailOtpBody, VerifyEmailOtpAnswer, VerifyEmailOtpBody, CHECK_VERIFICATION_OTP,
    SIGN_IN_EMAIL_OTP, VERIFY_EMAIL_OTP,
};

pub const PLUGIN: Plugin = Plugin {
    id: "email-otp",
    endpoints: &[
        &SEND_VERIFICATION_OTP,
        &CHECK_VERIFICATION_OTP,
        &VERIFY_EMAIL_OTP,
        &SIGN_IN_EMAIL_OTP,
        &REQUEST_PASSWORD_RESET_EMAIL_OTP,
        &FORGET_PASSWORD_EMAIL_OTP,
        &RESET_PASSWORD_EMAIL_OTP,
    ],
    error_codes: CODES,
    // The codes live in the core `verification` table.
    migrations: &[],
    hooks: &EmailOtpHooks,
};

/// Better Auth's `otpLength` default.
pub const OTP_LENGTH: usize = 6;
/// Better Auth's `expiresIn` default, seconds.
pub const OTP_EXPIRES_IN: i64 = 300;
/// Better Auth's `allowedAttempts` default: wrong tries a code survives.
pub const ALLOWED_ATTEMPTS: u32 = 3;

/// The `type` values Better Auth's schema accepts (`change-email` is refused by
/// `send-verification-otp`, and no route here stores such a code).
pub const TYPES: &[&str] = &["email-verification", "sign-in", "forget-password", "change-email"];

/// What a code is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpType {
    SignIn,
    EmailVerification,
    ForgetPassword,
    ChangeEmail,
}

impl OtpType {
    /// A validated `type` ([`TYPES`]); `None` for anything else.
    pub fn parse(s: &str) -> Option<OtpType> {
        match s {
            "sign-in" => Some(OtpType::SignIn),
            "email-verification" => Some(OtpType::EmailVerification),
            "forget-password" => Some(OtpType::ForgetPassword),
            "change-email" => Some(OtpType::ChangeEmail),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OtpType::SignIn => "sign-in",
            OtpType::EmailVerification => "email-verification",
            OtpType::ForgetPassword => "forget-password",
            OtpType::ChangeEmail => "change-email",
        }
    }

    /// The mail that carries a code of this type; `change-email` codes are never sent here.
    fn mail_kind(self) -> Option<MailKind> {
        match self {
            OtpType::SignIn => Some(MailKind::EmailOtpSignIn),
            OtpType::EmailVerification => Some(MailKind::EmailOtpVerification),
            OtpType::ForgetPassword => Some(MailKind::EmailOtpResetPassword),
            OtpType::ChangeEmail => None,
        }
    }
}

/// The `verification` identifier of a code: Better Auth's `<type>-otp-<email>`.
pub fn identifier(kind: OtpType, email: &str) -> String {
    format!("{}-otp-{email}", kind.as_str())
}

/// A new code: [`OTP_LENGTH`] digits, each drawn uniformly from the thread's CSPRNG.
fn new_code() -> String {
    crate::crypto::random_from(b"0123456789", OTP_LENGTH)
}

/// One guess at the code of `kind` for `email` (atomic; see `storage/one_time_code.rs`), as
/// Better Auth's `atomicVerifyOTP` answers it: no code or a wrong one 400 `INVALID_OTP`, an
/// expired one 400 `OTP_EXPIRED`, one whose tries are used up 403 `TOO_MANY_ATTEMPTS`.
fn verify(ctx: &Ctx<'_>, kind: OtpType, email: &str, otp: &str, on_right: OnRight) -> Result<(), ApiError> {
    refusal(guessing(ctx, kind, email, otp, |guess| {
        ctx.storage().guess_code(guess, on_right)
    })?)
}

/// Runs `step` with the guess `otp` at the code of `kind` for `email`: the stored code is
/// compared in constant time.
fn guessing<T>(
    ctx: &Ctx<'_>,
    kind: OtpType,
    email: &str,
    otp: &str,
    step: impl FnOnce(&Guess<'_>) -> StorageResult<T>,
) -> StorageResult<T> {
    let identifier = identifier(kind, email);
    let matches = |stored: &str| crate::crypto::constant_time_eq(stored.as_bytes(), otp.as_bytes());
    step(&Guess {
        identifier: &identifier,
        now: ctx.now,
        allowed_tries: ALLOWED_ATTEMPTS,
        matches: &matches,
    })
}

/// `Ok` for a right guess, else Better Auth's answer.
fn refusal(outcome: CodeGuess) -> Result<(), ApiError> {
    match outcome {
        CodeGuess::Right => Ok(()),
        CodeGuess::Expired => Err(ApiError::bad_request(OTP_EXPIRED)),
        CodeGuess::Exhausted => Err(ApiError::new(403, TOO_MANY_ATTEMPTS)),
        CodeGuess::Missing | CodeGuess::Wrong => Err(ApiError::bad_request(INVALID_OTP)),
    }
}

/// An address as Better Auth keys codes and users: lower-cased; 400 `INVALID_EMAIL` when it is
/// not an address.
fn address(raw: &str) -> Result<String, ApiError> {
    let email = crate::auth::email::normalize(raw);
    if !crate::auth::email::is_valid(&email) {
        return Err(ApiError::bad_request(crate::error::codes::INVALID_EMAIL));
    }
    Ok(email)
}

struct EmailOtpHooks;

impl Hooks for EmailOtpHooks {
    /// Better Auth's `overrideDefaultEmailVerification`: wherever core would mail a
    /// verification link, an `email-verification` code goes to the user's address instead.
    fn send_verification(&self, ctx: &Ctx<'_>, user: &User) -> Option<Result<(), ApiError>> {
        if !ctx.config().email_otp_override_email_verification {
            return None;
        }
        Some(send::send_code(ctx, OtpType::EmailVerification, &user.email))
    }

    /// Better Auth's `sendVerificationOnSignUp` (its after hook on `/sign-up*`, off with the
    /// override, which codes core's own verification email instead): the address the sign-up
    /// answered with gets an `email-verification` code. The sign-up has succeeded by then; a
    /// code that cannot be queued (a full mail queue) is logged, and `send-verification-otp`
    /// sends another.
    fn after(&self, ctx: &Ctx<'_>, req: &Request, resp: &mut Response) {
        let config = ctx.config();
        if !config.email_otp_send_verification_on_sign_up || config.email_otp_override_email_verification {
            return;
        }
        let path = req.path.strip_prefix(config.base_path.as_str()).unwrap_or(&req.path);
        if !path.starts_with("/sign-up") {
            return;
        }
        let answer: Option<serde_json::Value> = serde_json::from_slice(&resp.body).ok();
        let Some(email) = answer.as_ref().and_then(|a| a["user"]["email"].as_str()) else {
            return;
        };
        if let Err(e) = send::send_code(ctx, OtpType::EmailVerification, email) {
            tracing::warn!("the verification code after a sign-up was not sent: {}", e.code);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_types_are_better_auths() {
        assert_eq!(identifier(OtpType::SignIn, "a@x.io"), "sign-in-otp-a@x.io");
        assert_eq!(
            identifier(OtpType::EmailVerification, "a@x.io"),
            "email-verification-otp-a@x.io"
        );
        assert_eq!(
            identifier(OtpType::ForgetPassword, "a@x.io"),
            "forget-password-otp-a@x.io"
        );
        for t in TYPES {
            assert_eq!(OtpType::parse(t).map(OtpType::as_str), Some(*t));
        }
        assert_eq!(OtpType::parse("Sign-In"), None);
    }

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..100 {
            let code = new_code();
            assert_eq!(code.len(), OTP_LENGTH);
            assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
        }
    }
}
