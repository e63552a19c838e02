//! Sending a code: `POST /email-otp/send-verification-otp`, `POST
//! /email-otp/request-password-reset` and its former name `POST /forget-password/email-otp`.
//! Each answers `{success: true}` whatever the address, so none tells who has an account.

use serde_json::json;
use time::Duration;

use super::{address, identifier, new_code, OtpType, INVALID_OTP_TYPE, OTP_EXPIRES_IN, TYPES};
use crate::endpoint::answers::SuccessAnswer;
use crate::endpoint::mail::{self, Outgoing};
use crate::endpoint::{Ctx, Kind, NoInput, Transport, Typed};
use crate::error::{codes, ApiError};
use crate::http::{origin, Request, Response};
use crate::storage::models::Verification;

crate::input! {
    /// The body of `POST /email-otp/send-verification-otp`.
    pub struct SendVerificationOtpBody {
        email: String = "email" as Kind::String,
        otp_type: String = "type" as Kind::OneOf(TYPES),
    }
}

pub static SEND_VERIFICATION_OTP: Typed<SendVerificationOtpBody, NoInput, SuccessAnswer> = Typed::post(
    "/email-otp/send-verification-otp",
    "sendVerificationOTP",
    send_verification_otp,
)
.summary("Send a verification OTP to an email")
.errors(&[
    codes::INVALID_EMAIL,
    INVALID_OTP_TYPE,
    codes::CROSS_SITE_NAVIGATION_LOGIN_BLOCKED,
]);

crate::input! {
    /// The body of `POST /email-otp/request-password-reset` (and `/forget-password/email-otp`).
    pub struct RequestPasswordResetEmailOtpBody {
        email: String = "email" as Kind::String,
    }
}

pub static REQUEST_PASSWORD_RESET_EMAIL_OTP: Typed<RequestPasswordResetEmailOtpBody, NoInput, SuccessAnswer> =
    Typed::post(
        "/email-otp/request-password-reset",
        "requestPasswordResetEmailOTP",
        request_password_reset,
    )
    .summary("Request password reset with email and OTP")
    .errors(&[codes::INVALID_EMAIL]);

/// Better Auth's deprecated name of [`REQUEST_PASSWORD_RESET_EMAIL_OTP`], which 1.7.25 still
/// serves; Sesame counts both against one rate-limit bucket.
pub static FORGET_PASSWORD_EMAIL_OTP: Typed<RequestPasswordResetEmailOtpBody, NoInput, SuccessAnswer> = Typed::post(
    "/forget-password/email-otp",
    "forgetPasswordEmailOTP",
    request_password_reset,
)
.summary("Deprecated: use /email-otp/request-password-reset")
.alias_of("/email-otp/request-password-reset")
.errors(&[codes::INVALID_EMAIL]);

fn send_verification_otp(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let SendVerificationOtpBody { email, otp_type } = ctx.input()?;
    // Better Auth's formCsrfMiddleware: a first step of signing in.
    if ctx.transport == Transport::Http {
        origin::check_login_csrf(&ctx.app.trusted, req)?;
    }
    let email = address(&email)?;
    let kind = match OtpType::parse(&otp_type) {
        Some(OtpType::ChangeEmail) | None => return Err(ApiError::bad_request(INVALID_OTP_TYPE)),
        Some(kind) => kind,
    };
    send_code(ctx, kind, &email)?;
    Ok(success())
}

fn request_password_reset(ctx: &Ctx<'_>, _req: &Request) -> Result<Response, ApiError> {
    let RequestPasswordResetEmailOtpBody { email } = ctx.input()?;
    let email = address(&email)?;
    send_code(ctx, OtpType::ForgetPassword, &email)?;
    Ok(success())
}

fn success() -> Response {
    Response::json(&json!({ "success": true }))
}

/// Mails a new code of `kind` to `email` if it should get one: an address with an account
/// always, a new address only a `sign-in` code while sign-up by code is on. Otherwise nothing
/// is stored or sent. Over the recipient's mail limit (`SESAME_EMAIL_RECIPIENT_LIMIT`) neither
/// is either, and the code mailed before stays good: so a flood of requests neither mails the
/// owner nor hands out more codes to guess. The caller's answer is the same on every path, but
/// for a full mail queue (503 `MAIL_QUEUE_FULL`, before anything is looked up).
pub(super) fn send_code(ctx: &Ctx<'_>, kind: OtpType, email: &str) -> Result<(), ApiError> {
    let Some(mail_kind) = kind.mail_kind() else {
        return Err(ApiError::bad_request(INVALID_OTP_TYPE));
    };
    // A full mail queue answers 503 before the lookup, whoever the address belongs to.
    ctx.app.ensure_mail_room()?;
    let identifier = identifier(kind, email);
    let to = match ctx.storage().find_user_by_email(email)? {
        Some(user) => user.email,
        None if kind == OtpType::SignIn && !ctx.config().email_otp_disable_sign_up => email.to_string(),
        None => {
            // Some of the work of a known address, minus the write and the email.
            ctx.storage().find_verification(&identifier)?;
            return Ok(());
        }
    };
    if !mail::admit(ctx, mail_kind, &to) {
        return Ok(());
    }
    let code = new_code();
    ctx.storage().replace_code(&Verification {
        id: crate::crypto::new_id(),
        identifier,
        value: format!("{code}:0"),
        expires_at: ctx.now + Duration::seconds(OTP_EXPIRES_IN),
        created_at: ctx.now,
        updated_at: ctx.now,
    })?;
    // Queued, never awaited: Better Auth runs sendVerificationOTP in the background too.
    mail::queue_admitted(
        ctx,
        Outgoing {
            kind: mail_kind,
            to: &to,
            url: String::new(),
            token: code,
            expires_in: OTP_EXPIRES_IN,
            new_email: None,
        },
    )?;
    Ok(())
}
