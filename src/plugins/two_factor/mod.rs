//! The two-factor plugin (Better Auth's `twoFactor`): a second factor for password sign-in,
//! as TOTP from an authenticator app, a one-time code by email, or a single-use backup code,
//! with "trust this device" for 30 days. `docs/plugins/two-factor.md` describes the wire
//! behaviour in full.
//!
//! - Set-up (`routes.rs`): `enable` (password) stores a new TOTP secret and backup codes,
//!   unverified, and answers the `totpURI`; the first good code to `verify-totp` confirms it
//!   and switches `user.twoFactorEnabled` on; `disable` (password) switches it off and forgets
//!   the secret. Each switch re-issues the session, as Better Auth does.
//! - Sign-in (`challenge.rs`): a password sign-in of a user with two-factor on creates no
//!   session; it answers `{twoFactorRedirect: true, twoFactorMethods}` and the signed
//!   `two_factor` cookie (10 minutes), and the session comes from the second factor.
//! - Limits, as Better Auth: 5 wrong codes per challenge, then a new sign-in is needed; 10
//!   consecutive failures per account lock its second factors for 15 minutes; the routes are
//!   under the strict rate limit (3 per 10 s per client). Beyond Better Auth, a TOTP code that
//!   was accepted once is refused when it comes again.
//!
//! The `twoFactor` row's secret and backup codes are encrypted in Better Auth's own format
//! (`vault.rs`), so a database Better Auth wrote keeps working, both ways.

pub mod backup;
mod challenge;
mod otp;
mod routes;
pub mod totp;
pub mod vault;

use serde_json::Value;

use super::{Hooks, Plugin};
use crate::endpoint::current::SignedIn;
use crate::endpoint::Ctx;
use crate::error::{codes, ApiError, ErrorCode};
use crate::http::Request;
use crate::storage::models::{User, UserUpdate};

macro_rules! two_factor_codes {
    ($($name:ident => $msg:expr,)*) => {
        $(pub const $name: ErrorCode = ErrorCode { code: stringify!($name), message: $msg };)*
        const CODES: &[ErrorCode] = &[$($name),*];
    };
}

two_factor_codes! {
    OTP_NOT_ENABLED => "OTP not enabled",
    OTP_NOT_CONFIGURED => "OTP is not available",
    OTP_HAS_EXPIRED => "OTP has expired",
    TOTP_NOT_ENABLED => "TOTP not enabled",
    TOTP_ALREADY_ENABLED => "TOTP is already enabled",
    TOTP_NOT_CONFIGURED => "TOTP is not available",
    TWO_FACTOR_NOT_ENABLED => "Two factor isn't enabled",
    BACKUP_CODES_NOT_ENABLED => "Backup codes aren't enabled",
    INVALID_BACKUP_CODE => "Invalid backup code",
    INVALID_CODE => "Invalid code",
    TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE => "Too many attempts. Please request a new code.",
    ACCOUNT_TEMPORARILY_LOCKED => "Too many failed verification attempts. Your account is temporarily locked. Please try again later.",
    INVALID_TWO_FACTOR_COOKIE => "Invalid two factor cookie",
}

pub use backup::{BackupCodesAnswer, VerifyBackupCodeBody, GENERATE_BACKUP_CODES, VERIFY_BACKUP_CODE};
pub use otp::{OtpSentAnswer, SendOtpBody, SEND_OTP, VERIFY_OTP};
pub use routes::{
    EnableAnswer, EnableBody, PasswordBody, TotpUriAnswer, VerifiedAnswer, VerifyCodeBody, DISABLE, ENABLE,
    GET_TOTP_URI, VERIFY_TOTP,
};

pub const PLUGIN: Plugin = Plugin {
    id: "two-factor",
    endpoints: &[
        &ENABLE,
        &DISABLE,
        &GET_TOTP_URI,
        &VERIFY_TOTP,
        &SEND_OTP,
        &VERIFY_OTP,
        &GENERATE_BACKUP_CODES,
        &VERIFY_BACKUP_CODE,
    ],
    error_codes: CODES,
    migrations: &[crate::migration!("plugin_two_factor_0001", "plugins/two_factor")],
    hooks: &TwoFactorHooks,
};

/// `len` characters of Better Auth's `generateRandomString` alphabet (`[a-z0-9A-Z_-]`).
fn random_token(len: usize) -> String {
    crate::crypto::random_from(b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_", len)
}

/// The issuer shown in authenticator apps: `SESAME_TWO_FACTOR_ISSUER`, else the app name.
fn issuer(ctx: &Ctx<'_>) -> String {
    ctx.config()
        .two_factor_issuer
        .clone()
        .unwrap_or_else(|| ctx.config().email.app_name.clone())
}

struct TwoFactorHooks;

impl Hooks for TwoFactorHooks {
    /// `twoFactorEnabled` is `input: false` with default `false`: a new user always starts
    /// without two-factor, whatever the sign-up body says.
    fn before_user_create(&self, _ctx: &Ctx<'_>, user: &mut User) -> Result<(), ApiError> {
        user.two_factor_enabled = Some(false);
        Ok(())
    }

    /// Only the plugin's own routes switch two-factor: update-user with a truthy
    /// `twoFactorEnabled` is refused as Better Auth refuses an `input: false` field.
    fn before_user_update(&self, ctx: &Ctx<'_>, _current: &SignedIn, _update: &mut UserUpdate) -> Result<(), ApiError> {
        let given = ctx.body.as_ref().and_then(|b| b.get("twoFactorEnabled"));
        if given.is_some_and(crate::http::js::truthy) {
            return Err(ApiError::with_message(
                400,
                codes::FIELD_NOT_ALLOWED,
                "twoFactorEnabled is not allowed to be set",
            ));
        }
        Ok(())
    }

    fn sign_in_challenge(
        &self,
        ctx: &Ctx<'_>,
        req: &Request,
        user: &User,
        dont_remember: bool,
    ) -> Result<Option<Value>, ApiError> {
        challenge::sign_in_guard(ctx, req, user, dont_remember)
    }
}
