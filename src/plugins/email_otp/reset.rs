//! `POST /email-otp/reset-password`: a `forget-password` code sets a new password, as a reset
//! link does (`api/password_reset.rs`): sessions end with `SESAME_REVOKE_SESSIONS_ON_PASSWORD_RESET`,
//! the user's reset links end, and an unverified address is proven.

use serde_json::json;

use super::{address, guessing, refusal, verify, OtpType, INVALID_OTP, OTP_EXPIRED, TOO_MANY_ATTEMPTS};
use crate::endpoint::answers::SuccessAnswer;
use crate::endpoint::session::{check_password_length, hash_password};
use crate::endpoint::{Ctx, Kind, NoInput, Typed};
use crate::error::{codes, ApiError};
use crate::http::{Request, Response};
use crate::storage::one_time_code::{CodeReset, OnRight};

crate::input! {
    /// The body of `POST /email-otp/reset-password`.
    pub struct ResetPasswordEmailOtpBody {
        email: String = "email" as Kind::String,
        otp: String = "otp" as Kind::String,
        password: String = "password" as Kind::String,
    }
}

pub static RESET_PASSWORD_EMAIL_OTP: Typed<ResetPasswordEmailOtpBody, NoInput, SuccessAnswer> =
    Typed::post("/email-otp/reset-password", "resetPasswordEmailOTP", reset_password)
        .summary("Reset password with email and OTP")
        .hashing()
        .errors(&[
            codes::INVALID_EMAIL,
            codes::PASSWORD_TOO_SHORT,
            codes::PASSWORD_TOO_LONG,
            INVALID_OTP,
            OTP_EXPIRED,
            TOO_MANY_ATTEMPTS,
            codes::USER_NOT_FOUND,
        ]);

fn reset_password(ctx: &Ctx<'_>, _req: &Request) -> Result<Response, ApiError> {
    let ResetPasswordEmailOtpBody { email, otp, password } = ctx.input()?;
    let email = address(&email)?;
    // The configured lengths, as every password; a long one is never cut short (see
    // `auth/password.rs`).
    check_password_length(ctx, &password)?;
    // The code first, kept for the step below, so a wrong one costs no password hash (and
    // counts as a try, as Better Auth's check before the reset does).
    verify(ctx, OtpType::ForgetPassword, &email, &otp, OnRight::Keep)?;
    let user = ctx
        .storage()
        .find_user_by_email(&email)?
        .ok_or_else(|| ApiError::bad_request(codes::USER_NOT_FOUND))?;
    let hash = hash_password(ctx, &password)?;
    // The code is used up in the transaction that sets the password: of two resets with one
    // code, one wins.
    let revoke = ctx.config().email.revoke_sessions_on_password_reset;
    match guessing(ctx, OtpType::ForgetPassword, &email, &otp, |guess| {
        ctx.storage().reset_password_with_code(guess, &user.id, &hash, revoke)
    })? {
        CodeReset::Done => Ok(Response::json(&json!({ "success": true }))),
        CodeReset::UserNotFound => Err(ApiError::bad_request(codes::USER_NOT_FOUND)),
        CodeReset::Refused(outcome) => refusal(outcome).and(Err(ApiError::bad_request(INVALID_OTP))),
    }
}
