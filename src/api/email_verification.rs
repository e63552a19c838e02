//! `POST /send-verification-email` and `GET /verify-email` (spec §3.8, §6), including the
//! steps of an email change that run through `/verify-email`.

use super::session::status_true;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::auth::email;
use crate::auth::verification_token::{self, Claims, TokenError, CHANGE_EMAIL_CONFIRMATION, CHANGE_EMAIL_VERIFICATION};
use crate::crypto::constant_time_eq;
use crate::endpoint::answers::{StatusAnswer, VerifyEmailAnswer};
use crate::endpoint::current::{self, SignedIn};
use crate::endpoint::mail::{self, LinkQuery};
use crate::endpoint::session::create_session;
use crate::endpoint::{Ctx, Kind, NoInput, Produces, Typed};
use crate::error::{codes, ApiError, ErrorCode};
use crate::http::redirect::append_query;
use crate::http::{Request, Response};
use crate::storage::models::{User, UserUpdate, Verification};
use crate::storage::StorageError;

/// `identifier` of the single-use marks of used change-email approval links.
const USED_TOKEN: &str = "used-change-email-confirmation";

/// Unauthenticated requests take at least this long, whether or not an email goes out.
const MINIMUM_UNAUTHENTICATED: Duration = Duration::from_millis(500);

crate::input! {
    /// The body of `POST /send-verification-email`.
    pub struct SendVerificationEmailBody {
        email: String = "email" as Kind::Email,
        callback_url: Option<String> = "callbackURL" as Kind::String,
    }
}

pub static SEND_VERIFICATION_EMAIL: Typed<SendVerificationEmailBody, NoInput, StatusAnswer> = Typed::post(
    "/send-verification-email",
    "sendVerificationEmail",
    send_verification_email,
)
.summary("Email a verification link")
.errors(&[codes::EMAIL_MISMATCH, codes::EMAIL_ALREADY_VERIFIED]);

/// Answers JSON, or redirects to the link's callbackURL (302; in-process an `ApiError` with
/// status 302).
pub static VERIFY_EMAIL: Typed<NoInput, LinkQuery, VerifyEmailAnswer> =
    Typed::get("/verify-email", "verifyEmail", verify_email)
        .summary("Open a verification link (also the steps of an email change)")
        .produces(Produces::Redirect)
        .errors(&[
            codes::INVALID_TOKEN,
            codes::TOKEN_EXPIRED,
            codes::USER_NOT_FOUND,
            codes::INVALID_USER,
            codes::INVALID_CALLBACK_URL,
        ]);

fn send_verification_email(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let started = Instant::now();
    let SendVerificationEmailBody {
        email: address,
        callback_url,
    } = ctx.input()?;
    let Some(signed_in) = current::resolve(ctx, req, false)? else {
        // Unauthenticated: the same answer, no sooner than the floor, whether the address is
        // unknown, verified, or gets an email.
        // A full mail queue answers 503 before the lookup, whoever the address belongs to.
        ctx.app.ensure_mail_room()?;
        let found = ctx.storage().find_user_by_email(&email::normalize(&address));
        let queued = match &found {
            Ok(Some(user)) if !user.email_verified => mail::send_verification(ctx, user, callback_url.as_deref()),
            _ => {
                mail::sign_dummy_token(ctx, &address);
                Ok(())
            }
        };
        if let Some(rest) = MINIMUM_UNAUTHENTICATED.checked_sub(started.elapsed()) {
            std::thread::sleep(rest);
        }
        found?;
        queued?;
        return Ok(status_true());
    };
    if email::normalize(&signed_in.user.email) != email::normalize(&address) {
        return Err(ApiError::bad_request(codes::EMAIL_MISMATCH));
    }
    if signed_in.user.email_verified {
        return Err(ApiError::bad_request(codes::EMAIL_ALREADY_VERIFIED));
    }
    mail::send_verification(ctx, &signed_in.user, callback_url.as_deref())?;
    Ok(status_true())
}

fn verify_email(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let (token, callback_url) = crate::endpoint::mail::link_query(ctx, req)?;
    let link = Link {
        ctx,
        callback: callback_url.as_deref(),
    };
    let claims = match verification_token::verify(ctx.secret(), &token, ctx.now) {
        Ok(c) => c,
        Err(TokenError::Expired) => return link.fail(codes::TOKEN_EXPIRED),
        Err(TokenError::Invalid) => return link.fail(codes::INVALID_TOKEN),
    };
    if claims.update_to.is_some() {
        return change_email_step(&link, req, &claims, &token);
    }
    let Some(user) = ctx.storage().find_user_by_email(&email::normalize(&claims.email))? else {
        return link.fail(codes::USER_NOT_FOUND);
    };
    if claims.user_id.as_deref().is_some_and(|id| !same(id, &user.id)) {
        return link.fail(codes::INVALID_TOKEN);
    }
    if !user.email_verified {
        // The link proves control of the address. Opened in a browser signed in as this user,
        // the account holder and the address owner are one person: the address is verified.
        // Opened by anyone else, what was attached while the address was unverified may be an
        // attacker's (pre-account hijacking): provider accounts are dropped, and with them
        // every session (README, "Security model").
        if is_account_holder(ctx, req, &user)? {
            let update = UserUpdate {
                email_verified: Some(true),
                ..UserUpdate::default()
            };
            ctx.storage().update_user(&user.id, &update, ctx.now)?;
        } else {
            ctx.storage().verify_address(&user.id, ctx.now)?;
        }
        if ctx.config().email.auto_sign_in_after_verification {
            sign_in_after_verification(ctx, req, &user)?;
        }
    }
    link.done(json!({ "status": true, "user": null }))
}

/// Whether the request carries a live session of `user`.
fn is_account_holder(ctx: &Ctx<'_>, req: &Request, user: &User) -> Result<bool, ApiError> {
    let Some(token) = current::session_token(ctx, req) else {
        return Ok(false);
    };
    Ok(ctx
        .storage()
        .find_session_with_user(&token)?
        .is_some_and(|(s, _)| s.user_id == user.id && s.expires_at > ctx.now))
}

/// Better Auth's `autoSignInAfterVerification`: a new session unless the browser already has
/// one for this user, whose cookie is then re-issued. A browser signed in as someone else keeps
/// its session (the address is verified all the same): Better Auth replaces it, so opening an
/// attacker's own link would sign the victim into the attacker's account (login CSRF).
fn sign_in_after_verification(ctx: &Ctx<'_>, req: &Request, user: &User) -> Result<(), ApiError> {
    match current::resolve(ctx, req, false)? {
        Some(s) if s.user.id == user.id => ctx.set_session_cookie(&s.session.token, s.dont_remember),
        Some(_) => {}
        None => {
            let session = create_session(ctx, req, &user.id, true)?;
            ctx.set_session_cookie(&session.token, false);
        }
    }
    Ok(())
}

/// The two-step email change (spec §6, step 3), as Better Auth 1.7.25 does it: the token is
/// bound to a user id and to that user's address at the time it was issued. Two rules of
/// Sesame's: the approval step works once (it mails the new address, and replaying the link
/// must not mail it again and again), and the step that moves the address needs the user's
/// own signed-in browser, so a mail scanner or link preview opening the link changes nothing.
fn change_email_step(link: &Link<'_, '_>, req: &Request, claims: &Claims, token: &str) -> Result<Response, ApiError> {
    let ctx = link.ctx;
    let (Some(user_id), Some(new_email)) = (claims.user_id.as_deref(), claims.update_to.as_deref()) else {
        return link.fail(codes::INVALID_TOKEN);
    };
    let Some(user) = ctx.storage().find_user_by_id(user_id)? else {
        return link.fail(codes::USER_NOT_FOUND);
    };
    // Once the address changed, every older token for it stops working.
    if user.email != email::normalize(&claims.email) {
        return link.fail(codes::INVALID_TOKEN);
    }
    let session = current::resolve(ctx, req, false)?;
    if session.as_ref().is_some_and(|s| s.user.id != user.id) {
        return link.fail(codes::INVALID_USER);
    }
    match claims.request_type.as_deref() {
        Some(CHANGE_EMAIL_CONFIRMATION) => {
            if !claim_once(ctx, token, &user.id, claims.exp)? {
                return link.fail(codes::INVALID_TOKEN);
            }
            // The old address approved: now prove the new one.
            let expires_in = ctx.config().email.verification_expires_in;
            let next = Claims::new(&claims.email, &user.id, ctx.now, expires_in);
            mail::send_change_email_step(ctx, next, new_email, link.callback)?;
            link.done(json!({ "status": true }))
        }
        Some(CHANGE_EMAIL_VERIFICATION) | None => {
            let Some(session) = session else {
                return link.fail(codes::UNAUTHORIZED);
            };
            // Better Auth keeps the user's verified flag on a two-step change; its legacy
            // one-step tokens (Sesame issues none) leave the new address unverified and mail
            // it a verification link.
            let legacy = claims.request_type.is_none();
            switch_address(link, &session, &user, new_email, legacy)
        }
        Some(_) => link.fail(codes::INVALID_TOKEN),
    }
}

/// Marks a token used; false when it was already. The mark (a `verification` row keyed by the
/// token's SHA-256, never the token) lives as long as the token could.
fn claim_once(ctx: &Ctx<'_>, token: &str, user_id: &str, exp: i64) -> Result<bool, ApiError> {
    let expires_at = time::OffsetDateTime::from_unix_timestamp(exp).unwrap_or(ctx.now);
    Ok(ctx.storage().claim_verification(&Verification {
        id: format!("used:{}", crate::crypto::sha256_base64url(token)),
        identifier: USED_TOKEN.to_string(),
        value: user_id.to_string(),
        expires_at,
        created_at: ctx.now,
        updated_at: ctx.now,
    })?)
}

/// Moves the user to `new_email` and re-issues the browser's session cookie. A legacy token
/// leaves the new address unverified and mails it a verification link.
fn switch_address(
    link: &Link<'_, '_>,
    session: &SignedIn,
    user: &User,
    new_email: &str,
    legacy: bool,
) -> Result<Response, ApiError> {
    let ctx = link.ctx;
    let update = UserUpdate {
        email: Some(new_email.to_string()),
        email_verified: Some(user.email_verified && !legacy),
        ..UserUpdate::default()
    };
    let updated = match ctx.storage().update_user(&user.id, &update, ctx.now) {
        Ok(Some(u)) => u,
        Ok(None) => return link.fail(codes::USER_NOT_FOUND),
        // Taken since the request: only the holder of both addresses learns this.
        Err(StorageError::Conflict(_)) => return link.fail(codes::USER_ALREADY_EXISTS),
        Err(e) => return Err(e.into()),
    };
    if legacy {
        mail::send_verification(ctx, &updated, link.callback)?;
    }
    ctx.set_session_cookie(&session.session.token, session.dont_remember);
    link.done(json!({ "status": true, "user": ctx.user_json(&updated) }))
}

/// How `/verify-email` answers: a 302 to the callback when there is one, JSON otherwise.
struct Link<'c, 'a> {
    ctx: &'c Ctx<'a>,
    callback: Option<&'c str>,
}

impl Link<'_, '_> {
    /// `302 <callbackURL>?error=CODE`, or `401 {code}` without a callback.
    fn fail(&self, code: ErrorCode) -> Result<Response, ApiError> {
        match self.callback {
            Some(cb) => Ok(Response::redirect(&append_query(cb, "error", code.code))),
            None => Err(ApiError::new(401, code)),
        }
    }

    fn done(&self, body: Value) -> Result<Response, ApiError> {
        match self.callback {
            Some(cb) => Ok(Response::redirect(cb)),
            None => Ok(Response::json(&body)),
        }
    }
}

fn same(a: &str, b: &str) -> bool {
    constant_time_eq(a.as_bytes(), b.as_bytes())
}
