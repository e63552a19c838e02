//! Using a code: `POST /sign-in/email-otp`, `POST /email-otp/verify-email` and
//! `POST /email-otp/check-verification-otp` (which checks a code without using it up).

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{address, verify, OtpType, INVALID_OTP, OTP_EXPIRED, TOO_MANY_ATTEMPTS, TYPES};
use crate::endpoint::answers::{SuccessAnswer, TokenAnswer, UserAnswer};
use crate::endpoint::session::create_session;
use crate::endpoint::{Ctx, Kind, NoInput, Transport, Typed};
use crate::error::{codes, ApiError};
use crate::http::{origin, Request, Response};
use crate::storage::models::User;
use crate::storage::one_time_code::OnRight;
use crate::storage::StorageError;

crate::input! {
    /// The body of `POST /sign-in/email-otp`. `name` and `image` are used only when the code
    /// creates the user; other keys are plugin fields of a new user (the username plugin's).
    pub struct SignInEmailOtpBody {
        email: String = "email" as Kind::String,
        otp: String = "otp" as Kind::String,
        name: Option<String> = "name" as Kind::String,
        image: Option<String> = "image" as Kind::String,
    }
    rest: extra
}

pub static SIGN_IN_EMAIL_OTP: Typed<SignInEmailOtpBody, NoInput, TokenAnswer> =
    Typed::post("/sign-in/email-otp", "signInEmailOTP", sign_in_email_otp)
        .summary("Sign in with email and OTP")
        .object_and_record()
        .errors(&[
            INVALID_OTP,
            OTP_EXPIRED,
            TOO_MANY_ATTEMPTS,
            codes::CROSS_SITE_NAVIGATION_LOGIN_BLOCKED,
        ]);

crate::input! {
    /// The body of `POST /email-otp/verify-email`.
    pub struct VerifyEmailOtpBody {
        email: String = "email" as Kind::String,
        otp: String = "otp" as Kind::String,
    }
}

/// `POST /email-otp/verify-email`'s answer: `token` is the new session's with
/// `SESAME_AUTO_SIGN_IN_AFTER_VERIFICATION`, else `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyEmailOtpAnswer {
    pub status: bool,
    pub token: Option<String>,
    pub user: UserAnswer,
}

pub static VERIFY_EMAIL_OTP: Typed<VerifyEmailOtpBody, NoInput, VerifyEmailOtpAnswer> =
    Typed::post("/email-otp/verify-email", "verifyEmailOTP", verify_email_otp)
        .summary("Verify email with OTP")
        .errors(&[
            codes::INVALID_EMAIL,
            INVALID_OTP,
            OTP_EXPIRED,
            TOO_MANY_ATTEMPTS,
            codes::USER_NOT_FOUND,
        ]);

crate::input! {
    /// The body of `POST /email-otp/check-verification-otp`.
    pub struct CheckVerificationOtpBody {
        email: String = "email" as Kind::String,
        otp_type: String = "type" as Kind::OneOf(TYPES),
        otp: String = "otp" as Kind::String,
    }
}

pub static CHECK_VERIFICATION_OTP: Typed<CheckVerificationOtpBody, NoInput, SuccessAnswer> = Typed::post(
    "/email-otp/check-verification-otp",
    "checkVerificationOTP",
    check_verification_otp,
)
.summary("Check an OTP without using it")
.errors(&[
    codes::INVALID_EMAIL,
    INVALID_OTP,
    OTP_EXPIRED,
    TOO_MANY_ATTEMPTS,
    codes::USER_NOT_FOUND,
]);

fn sign_in_email_otp(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let SignInEmailOtpBody {
        email,
        otp,
        name,
        image,
        ..
    } = ctx.input()?;
    // Sesame's login-CSRF rule for every sign-in (Better Auth has none on this route): a
    // cross-site form must not sign a visitor into an account whose code the attacker holds.
    if ctx.transport == Transport::Http {
        origin::check_login_csrf(&ctx.app.trusted, req)?;
    }
    // Better Auth does not check the address's form here: a malformed one has no code.
    let email = crate::auth::email::normalize(&email);
    verify(ctx, OtpType::SignIn, &email, &otp, OnRight::Consume)?;
    let user = match ctx.storage().find_user_by_email(&email)? {
        Some(user) => proven(ctx, user)?,
        None if ctx.config().email_otp_disable_sign_up => return Err(ApiError::bad_request(INVALID_OTP)),
        None => sign_up(ctx, &email, name, image)?,
    };
    let session = create_session(ctx, req, &user.id, true)?;
    ctx.set_session_cookie(&session.token, false);
    Ok(Response::json(
        &json!({ "token": session.token, "user": ctx.user_json(&user) }),
    ))
}

/// An existing user signing in by code: an unverified address is proven now, and whatever was
/// set up on the account before (a password, linked accounts, sessions) by someone who never
/// proved it is removed (Better Auth's `revokeUnprovenAccountAccess`).
fn proven(ctx: &Ctx<'_>, user: User) -> Result<User, ApiError> {
    if user.email_verified {
        return Ok(user);
    }
    ctx.storage()
        .revoke_unproven_account_access(&user.id, ctx.now)?
        .ok_or_else(|| ApiError::bad_request(INVALID_OTP))
}

/// The first sign-in of a new address: a user with the address verified and no account.
fn sign_up(ctx: &Ctx<'_>, email: &str, name: Option<String>, image: Option<String>) -> Result<User, ApiError> {
    let mut user = User::new(name.as_deref().unwrap_or_default(), email, image, ctx.now);
    user.email_verified = true;
    for plugin in &ctx.app.plugins {
        plugin.hooks.user_defaults(&mut user);
        plugin.hooks.before_user_create(ctx, &mut user)?;
    }
    match ctx.storage().create_user(&user) {
        Ok(()) => Ok(user),
        Err(StorageError::Conflict("user.username")) => Err(ApiError::bad_request(
            crate::plugins::username::USERNAME_IS_ALREADY_TAKEN,
        )),
        // An email sign-up of the same address won the race: the code proves it, as for any
        // existing user.
        Err(StorageError::Conflict(_)) => match ctx.storage().find_user_by_email(email)? {
            Some(existing) => proven(ctx, existing),
            None => Err(ApiError::bad_request(codes::FAILED_TO_CREATE_USER)),
        },
        Err(e) => Err(e.into()),
    }
}

fn verify_email_otp(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let VerifyEmailOtpBody { email, otp } = ctx.input()?;
    let email = address(&email)?;
    verify(ctx, OtpType::EmailVerification, &email, &otp, OnRight::Consume)?;
    // Telling that the address has no account is safe: the caller holds its code.
    let user = ctx
        .storage()
        .find_user_by_email(&email)?
        .ok_or_else(|| ApiError::bad_request(codes::USER_NOT_FOUND))?;
    // As an emailed verification link does (provider accounts linked before the proof go).
    let user = ctx
        .storage()
        .verify_address(&user.id, ctx.now)?
        .ok_or_else(|| ApiError::bad_request(codes::USER_NOT_FOUND))?
        .user;
    let token = if ctx.config().email.auto_sign_in_after_verification {
        let session = create_session(ctx, req, &user.id, true)?;
        ctx.set_session_cookie(&session.token, false);
        Some(session.token)
    } else {
        None
    };
    Ok(Response::json(
        &json!({ "status": true, "token": token, "user": ctx.user_json(&user) }),
    ))
}

fn check_verification_otp(ctx: &Ctx<'_>, _req: &Request) -> Result<Response, ApiError> {
    let CheckVerificationOtpBody { email, otp_type, otp } = ctx.input()?;
    let email = address(&email)?;
    let Some(kind) = OtpType::parse(&otp_type) else {
        return Err(ApiError::bad_request(super::INVALID_OTP_TYPE));
    };
    verify(ctx, kind, &email, &otp, OnRight::Keep)?;
    if ctx.storage().find_user_by_email(&email)?.is_none() {
        return Err(ApiError::bad_request(codes::USER_NOT_FOUND));
    }
    Ok(Response::json(&json!({ "success": true })))
}
