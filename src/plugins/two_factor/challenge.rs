//! The sign-in side of two-factor, as Better Auth's `twoFactor` hook and `verifyTwoFactor`:
//!
//! - [`sign_in_guard`]: a password sign-in of a user with two-factor on gets no session; a
//!   `2fa-<random>` verification row (value: the user's id, 10 minutes) and its attempt counter
//!   `2fa-attempts-<id>` are stored and the identifier goes into the signed `two_factor`
//!   cookie. A valid `trust_device` cookie skips the challenge and is rotated.
//! - [`prover`]: who a second-factor route is proving for: the signed-in user (managing their
//!   own factor) or the pending sign-in of the `two_factor` cookie.
//! - [`Prover::valid`]: the answer to a good second factor: at sign-in the challenge is
//!   consumed (once: of concurrent good answers, one session), the session created, and the
//!   device trusted when asked.
//! - Limits: [`begin_attempt`] (5 per challenge) and the account lockout ([`Lockout`]: 10
//!   consecutive failures lock the second factors for 15 minutes).

use base64::Engine;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use super::{random_token, ACCOUNT_TEMPORARILY_LOCKED, INVALID_TWO_FACTOR_COOKIE, TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE};
use crate::endpoint::current::{self, SignedIn};
use crate::endpoint::session::create_session;
use crate::endpoint::Ctx;
use crate::error::ApiError;
use crate::http::{Request, Response};
use crate::storage::models::{User, Verification};
use crate::storage::two_factor::TwoFactor;

const TWO_FACTOR_COOKIE: &str = "two_factor";
const TRUST_DEVICE_COOKIE: &str = "trust_device";
/// Better Auth's `twoFactorCookieMaxAge`: the time to answer a challenge.
const CHALLENGE_SECS: i64 = 600;
/// Better Auth's `trustDeviceMaxAge`: 30 days.
pub const TRUST_DEVICE_SECS: i64 = 30 * 24 * 60 * 60;
/// Wrong codes one challenge accepts before a new sign-in is needed.
pub const CHALLENGE_ATTEMPTS: u32 = 5;
/// Better Auth's `accountLockout` defaults.
const LOCKOUT_FAILURES: i64 = 10;
const LOCKOUT_SECS: i64 = 900;

fn verification(identifier: String, value: String, expires_at: OffsetDateTime, now: OffsetDateTime) -> Verification {
    Verification {
        id: crate::crypto::new_id(),
        identifier,
        value,
        expires_at,
        created_at: now,
        updated_at: now,
    }
}

/// A live verification row (Better Auth's consume treats an expired row as gone).
fn live(row: Option<Verification>, now: OffsetDateTime) -> Option<Verification> {
    row.filter(|r| r.expires_at > now)
}

fn cookie_value(ctx: &Ctx<'_>, req: &Request, short: &str) -> Option<String> {
    let header = req.cookie_header();
    ctx.app.cookies.read_signed(ctx.secret(), header.as_deref(), short)
}

/// `base64url(HMAC-SHA256(secret, "<userId>!<trustId>"))`, the trust cookie's proof.
fn trust_mac(ctx: &Ctx<'_>, user_id: &str, trust_id: &str) -> String {
    let mac = crate::crypto::hmac_sha256(ctx.secret().as_bytes(), format!("{user_id}!{trust_id}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac)
}

/// Stores a new trusted device for the user and sets its cookie (30 days).
fn trust_device(ctx: &Ctx<'_>, user_id: &str) -> Result<(), ApiError> {
    let trust_id = format!("trust-device-{}", random_token(32));
    let expires = ctx.now + Duration::seconds(TRUST_DEVICE_SECS);
    let row = verification(trust_id.clone(), user_id.to_string(), expires, ctx.now);
    ctx.storage().create_verification(&row)?;
    let value = format!("{}!{trust_id}", trust_mac(ctx, user_id, &trust_id));
    ctx.add_cookie(
        ctx.app
            .cookies
            .signed(ctx.secret(), TRUST_DEVICE_COOKIE, &value, Some(TRUST_DEVICE_SECS)),
    );
    Ok(())
}

/// The trust row id of a `trust_device` cookie that is valid for this user: the proof matches
/// (constant time), and the row exists, names the user and has not expired.
fn trusted_device(ctx: &Ctx<'_>, req: &Request, user_id: &str) -> Result<Option<String>, ApiError> {
    let Some(value) = cookie_value(ctx, req, TRUST_DEVICE_COOKIE) else {
        return Ok(None);
    };
    let Some((mac, trust_id)) = value.split_once('!') else {
        return Ok(None);
    };
    let expected = trust_mac(ctx, user_id, trust_id);
    if trust_id.is_empty() || !crate::crypto::constant_time_eq(mac.as_bytes(), expected.as_bytes()) {
        return Ok(None);
    }
    let row = live(ctx.storage().find_verification(trust_id)?, ctx.now);
    Ok(row.filter(|r| r.value == user_id).map(|_| trust_id.to_string()))
}

/// Disabling two-factor also forgets the device it was disabled from, if trusted.
pub fn forget_trusted_device(ctx: &Ctx<'_>, req: &Request, user_id: &str) -> Result<(), ApiError> {
    if cookie_value(ctx, req, TRUST_DEVICE_COOKIE).is_none() {
        return Ok(());
    }
    if let Some(trust_id) = trusted_device(ctx, req, user_id)? {
        ctx.storage().consume_verification(&trust_id)?;
    }
    ctx.add_cookie(ctx.app.cookies.expire(TRUST_DEVICE_COOKIE));
    Ok(())
}

/// After the password of a sign-in was accepted: `None` when no second factor is needed (the
/// caller creates the session), else the challenge answer; see the module docs.
pub fn sign_in_guard(
    ctx: &Ctx<'_>,
    req: &Request,
    user: &User,
    dont_remember: bool,
) -> Result<Option<Value>, ApiError> {
    if user.two_factor_enabled != Some(true) {
        return Ok(None);
    }
    if let Some(trust_id) = trusted_device(ctx, req, &user.id)? {
        // Each trusted sign-in replaces the trust row and cookie, so a copied cookie dies
        // the next time the device signs in (Better Auth's rotation).
        ctx.storage().consume_verification(&trust_id)?;
        trust_device(ctx, &user.id)?;
        return Ok(None);
    }
    let jar = &ctx.app.cookies;
    if cookie_value(ctx, req, TRUST_DEVICE_COOKIE).is_some() {
        ctx.add_cookie(jar.expire(TRUST_DEVICE_COOKIE));
    }
    // Better Auth's credential handler set these before its hook took the session back.
    if dont_remember {
        ctx.add_cookie(jar.signed(ctx.secret(), "dont_remember", "true", None));
    }
    ctx.add_cookie(jar.expire("session_token"));
    ctx.add_cookie(jar.expire("session_data"));

    let identifier = format!("2fa-{}", random_token(20));
    let expires = ctx.now + Duration::seconds(CHALLENGE_SECS);
    let storage = ctx.storage();
    storage.create_verification(&verification(identifier.clone(), user.id.clone(), expires, ctx.now))?;
    storage.create_verification(&verification(attempts_id(&identifier), "0".into(), expires, ctx.now))?;
    ctx.add_cookie(jar.signed(ctx.secret(), TWO_FACTOR_COOKIE, &identifier, Some(CHALLENGE_SECS)));

    let mut methods = Vec::new();
    if storage.find_two_factor(&user.id)?.is_some_and(|r| r.is_verified()) {
        methods.push("totp");
    }
    // Every user can get an emailed code: Sesame always has a mail transport.
    methods.push("otp");
    Ok(Some(json!({ "twoFactorRedirect": true, "twoFactorMethods": methods })))
}

fn attempts_id(identifier: &str) -> String {
    format!("2fa-attempts-{identifier}")
}

/// A sign-in waiting for its second factor.
pub struct PendingSignIn {
    /// The challenge's verification identifier (the `two_factor` cookie's value).
    pub identifier: String,
    pub user: User,
    expires_at: OffsetDateTime,
    dont_remember: bool,
}

/// Whom a second factor is proved for.
pub enum Prover {
    /// A signed-in user acting on their own factor (confirming TOTP, checking a code).
    Session(SignedIn),
    /// The pending sign-in of the `two_factor` cookie.
    SignIn(PendingSignIn),
}

/// The signed-in user, else the pending sign-in; 401 `INVALID_TWO_FACTOR_COOKIE` when
/// neither (no cookie, a bad signature, an unknown or expired challenge, a deleted user).
pub fn prover(ctx: &Ctx<'_>, req: &Request) -> Result<Prover, ApiError> {
    if let Some(signed_in) = current::resolve(ctx, req, false)? {
        return Ok(Prover::Session(signed_in));
    }
    let invalid = || ApiError::new(401, INVALID_TWO_FACTOR_COOKIE);
    let identifier = cookie_value(ctx, req, TWO_FACTOR_COOKIE).ok_or_else(invalid)?;
    let row = live(ctx.storage().find_verification(&identifier)?, ctx.now).ok_or_else(invalid)?;
    let user = ctx.storage().find_user_by_id(&row.value)?.ok_or_else(invalid)?;
    Ok(Prover::SignIn(PendingSignIn {
        identifier,
        user,
        expires_at: row.expires_at,
        dont_remember: cookie_value(ctx, req, "dont_remember").is_some(),
    }))
}

impl Prover {
    pub fn user(&self) -> &User {
        match self {
            Prover::Session(s) => &s.user,
            Prover::SignIn(p) => &p.user,
        }
    }

    /// The key the email OTP is stored under: the challenge, or the user and session.
    pub fn key(&self) -> String {
        match self {
            Prover::Session(s) => format!("{}!{}", s.user.id, s.session.id),
            Prover::SignIn(p) => p.identifier.clone(),
        }
    }

    pub fn is_sign_in(&self) -> bool {
        matches!(self, Prover::SignIn(_))
    }

    /// The answer to a good second factor: `{token, user}` of the caller's session, or at
    /// sign-in of the session created now (the challenge consumed first: of concurrent good
    /// answers only one gets a session).
    pub fn valid(&self, ctx: &Ctx<'_>, req: &Request, trust: bool) -> Result<Response, ApiError> {
        let pending = match self {
            Prover::Session(s) => {
                return Ok(Response::json(
                    &json!({ "token": s.session.token, "user": ctx.user_json(&s.user) }),
                ))
            }
            Prover::SignIn(p) => p,
        };
        let jar = &ctx.app.cookies;
        let consumed = live(ctx.storage().consume_verification(&pending.identifier)?, ctx.now);
        if consumed.is_none_or(|row| row.value != pending.user.id) {
            ctx.add_cookie(jar.expire(TWO_FACTOR_COOKIE));
            return Err(ApiError::new(401, INVALID_TWO_FACTOR_COOKIE));
        }
        let session = create_session(ctx, req, &pending.user.id, !pending.dont_remember)?;
        ctx.set_session_cookie(&session.token, pending.dont_remember);
        ctx.add_cookie(jar.expire(TWO_FACTOR_COOKIE));
        if trust {
            trust_device(ctx, &pending.user.id)?;
            ctx.add_cookie(jar.expire("dont_remember"));
        }
        Ok(Response::json(
            &json!({ "token": session.token, "user": ctx.user_json(&pending.user) }),
        ))
    }
}

/// One counted attempt at a sign-in challenge: the counter row is taken while the code is
/// checked and put back with the outcome.
pub struct Attempt {
    identifier: String,
    attempts: u32,
    expires_at: OffsetDateTime,
}

/// Starts an attempt at the challenge (a no-op for a signed-in user): 401
/// `INVALID_TWO_FACTOR_COOKIE` when its counter is gone (a concurrent attempt holds it), 400
/// `TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE` after five wrong codes, which also ends the challenge.
pub fn begin_attempt(ctx: &Ctx<'_>, prover: &Prover) -> Result<Option<Attempt>, ApiError> {
    let Prover::SignIn(pending) = prover else {
        return Ok(None);
    };
    let id = attempts_id(&pending.identifier);
    let Some(row) = live(ctx.storage().consume_verification(&id)?, ctx.now) else {
        return Err(ApiError::new(401, INVALID_TWO_FACTOR_COOKIE));
    };
    let attempts = row.value.parse::<u32>().unwrap_or(CHALLENGE_ATTEMPTS);
    if attempts >= CHALLENGE_ATTEMPTS {
        ctx.storage().consume_verification(&pending.identifier)?;
        ctx.add_cookie(ctx.app.cookies.expire(TWO_FACTOR_COOKIE));
        return Err(ApiError::bad_request(TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE));
    }
    Ok(Some(Attempt {
        identifier: id,
        attempts,
        expires_at: pending.expires_at,
    }))
}

impl Attempt {
    fn put(&self, ctx: &Ctx<'_>, count: u32) -> Result<(), ApiError> {
        let row = verification(self.identifier.clone(), count.to_string(), self.expires_at, ctx.now);
        ctx.storage().create_verification(&row)?;
        Ok(())
    }

    /// A wrong code: one more attempt used.
    pub fn failed(&self, ctx: &Ctx<'_>) -> Result<(), ApiError> {
        self.put(ctx, self.attempts + 1)
    }

    /// The check could not run (a storage or decryption failure): the attempt is not counted.
    pub fn restore(&self, ctx: &Ctx<'_>) -> Result<(), ApiError> {
        self.put(ctx, self.attempts)
    }
}

/// The account-wide count of failed second factors at sign-in (Better Auth's
/// `accountLockout`), for a sign-in prover only.
pub struct Lockout<'a> {
    row: Option<&'a TwoFactor>,
}

impl<'a> Lockout<'a> {
    /// 429 `ACCOUNT_TEMPORARILY_LOCKED` while the row is locked; a lock that has ended is
    /// cleared.
    pub fn check(ctx: &Ctx<'_>, prover: &Prover, row: Option<&'a TwoFactor>) -> Result<Lockout<'a>, ApiError> {
        let row = row.filter(|_| prover.is_sign_in());
        if let Some(r) = row {
            if let Some(until) = r.locked_until {
                if until > ctx.now {
                    return Err(ApiError::new(429, ACCOUNT_TEMPORARILY_LOCKED));
                }
                ctx.storage().clear_expired_two_factor_lock(&r.id, ctx.now)?;
            }
        }
        Ok(Lockout { row })
    }

    pub fn failed(&self, ctx: &Ctx<'_>) -> Result<(), ApiError> {
        if let Some(r) = self.row {
            let until = ctx.now + Duration::seconds(LOCKOUT_SECS);
            ctx.storage()
                .record_two_factor_failure(&r.id, LOCKOUT_FAILURES, until)?;
        }
        Ok(())
    }

    pub fn succeeded(&self, ctx: &Ctx<'_>) -> Result<(), ApiError> {
        if let Some(r) = self.row {
            ctx.storage().reset_two_factor_failures(&r.id)?;
        }
        Ok(())
    }
}
