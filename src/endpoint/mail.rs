//! The emails endpoints send (core and plugins alike): composing them (`mail::templates`) with the configured app
//! name and link lifetime, building their links, and queueing them on the outbox. Queueing
//! never waits for delivery, so callers' answers do not depend on it; with database storage
//! it fails when the email cannot be kept (a full queue or an unavailable database: 503), and
//! the caller answers that instead of a success that would lie.
//!
//! Each recipient address gets at most `SESAME_EMAIL_RECIPIENT_LIMIT` emails per window and
//! class ([`admit`]); beyond it the email is not sent (logged with the kind and domain) and the
//! answer does not change, so neither the limit nor its state tells a caller anything.

use super::{Ctx, Kind, Transport};
use crate::auth::verification_token::{self, Claims};
use crate::error::ApiError;
use crate::http::js::encode_uri_component;
use crate::http::Request;
use crate::mail::templates::{compose, Letter};
use crate::mail::MailKind;
use crate::ratelimit::MailClass;
use crate::storage::models::User;

/// One email to queue.
pub struct Outgoing<'a> {
    pub kind: MailKind,
    pub to: &'a str,
    pub url: String,
    pub token: String,
    pub expires_in: i64,
    pub new_email: Option<&'a str>,
}

/// Queues the email if its recipient may get one more ([`admit`]); whether it was queued.
pub fn queue(ctx: &Ctx<'_>, out: Outgoing<'_>) -> Result<bool, ApiError> {
    if !admit(ctx, out.kind, out.to) {
        return Ok(false);
    }
    queue_admitted(ctx, out)?;
    Ok(true)
}

/// Whether one more email of this kind may go to `to` now (counts it when yes).
pub fn admit(ctx: &Ctx<'_>, kind: MailKind, to: &str) -> bool {
    let class = if kind.is_security() {
        MailClass::Security
    } else {
        MailClass::Other
    };
    let now_ms = crate::ratelimit::RateLimiter::millis(ctx.now);
    let admitted = ctx.app.rate_limiter.admit_mail(class, to, now_ms);
    if !admitted {
        let domain = to.rsplit_once('@').map(|(_, d)| d).unwrap_or("?");
        tracing::warn!(
            "mail not sent: recipient limit reached kind={} domain={domain}",
            kind.as_str()
        );
    }
    admitted
}

/// Queues an email [`admit`] already let through.
pub fn queue_admitted(ctx: &Ctx<'_>, out: Outgoing<'_>) -> Result<(), ApiError> {
    let mail = compose(&Letter {
        kind: out.kind,
        app_name: &ctx.config().email.app_name,
        to: out.to,
        url: &out.url,
        token: &out.token,
        expires_in: out.expires_in,
        new_email: out.new_email,
    });
    ctx.app.send_mail(mail)
}

/// `<baseURL>/verify-email?token=<jwt>&callbackURL=<encodeURIComponent(callbackURL || "/")>`.
pub fn verification_link(ctx: &Ctx<'_>, token: &str, callback: Option<&str>) -> String {
    let callback = callback.filter(|c| !c.is_empty()).unwrap_or("/");
    format!(
        "{}/verify-email?token={token}&callbackURL={}",
        ctx.config().base_url(),
        encode_uri_component(callback)
    )
}

/// Mails a verification link for the user's current address (spec §6), unless an enabled
/// plugin sends its own proof instead (the email-otp plugin's code).
pub fn send_verification(ctx: &Ctx<'_>, user: &User, callback: Option<&str>) -> Result<(), ApiError> {
    for plugin in &ctx.app.plugins {
        if let Some(sent) = plugin.hooks.send_verification(ctx, user) {
            return sent;
        }
    }
    let expires_in = ctx.config().email.verification_expires_in;
    let claims = Claims::new(&user.email, &user.id, ctx.now, expires_in);
    let token = verification_token::sign(ctx.secret(), &claims);
    queue(
        ctx,
        Outgoing {
            kind: MailKind::Verification,
            to: &user.email,
            url: verification_link(ctx, &token, callback),
            token,
            expires_in,
            new_email: None,
        },
    )?;
    Ok(())
}

/// After a social sign-in (Better Auth's `handleOAuthUserInfo`): a user just created from a
/// provider identity whose email the provider did not call verified gets a verification link,
/// through the same path as an email sign-up, when `SESAME_SEND_VERIFICATION_ON_SIGN_UP` is on
/// (by default it follows `SESAME_REQUIRE_EMAIL_VERIFICATION`). An existing user signing in
/// gets nothing. `callback` is the sign-in's `callbackURL`.
pub fn after_social_sign_in(
    ctx: &Ctx<'_>,
    user: &User,
    is_register: bool,
    callback: Option<&str>,
) -> Result<(), ApiError> {
    if is_register && !user.email_verified && ctx.config().email.send_on_sign_up {
        send_verification(ctx, user, callback)?;
    }
    Ok(())
}

/// Mails the next step of an email change to `new_email`: the verification link, or, when the
/// address already has an account, the notice that it cannot be used. The caller answers the
/// same either way.
pub(crate) fn send_change_email_step(
    ctx: &Ctx<'_>,
    claims: Claims,
    new_email: &str,
    callback: Option<&str>,
) -> Result<(), crate::error::ApiError> {
    let expires_in = ctx.config().email.verification_expires_in;
    let token = verification_token::sign(
        ctx.secret(),
        &claims.changing_to(new_email, verification_token::CHANGE_EMAIL_VERIFICATION),
    );
    let taken = ctx.storage().find_user_by_email(new_email)?.is_some();
    let outgoing = if taken {
        Outgoing {
            kind: MailKind::ChangeEmailInUse,
            to: new_email,
            url: String::new(),
            token: String::new(),
            expires_in,
            new_email: None,
        }
    } else {
        Outgoing {
            kind: MailKind::ChangeEmailVerification,
            to: new_email,
            url: verification_link(ctx, &token, callback),
            token,
            expires_in,
            new_email: None,
        }
    };
    queue(ctx, outgoing)?;
    Ok(())
}

/// Signs a token that is thrown away, so a path that sends nothing costs about as much as one
/// that does.
pub fn sign_dummy_token(ctx: &Ctx<'_>, email: &str) {
    let claims = Claims::new(email, "", ctx.now, ctx.config().email.verification_expires_in);
    let _ = verification_token::sign(ctx.secret(), &claims);
}

crate::input! {
    /// The query of an emailed link (verify-email, delete-user callback).
    pub struct LinkQuery {
        token: String = "token" as Kind::String,
        callback_url: Option<String> = "callbackURL" as Kind::String,
    }
}

/// The `?token=…&callbackURL=…` of an emailed link, already validated ([`LinkQuery`]), with
/// the callbackURL checked against the trusted origins (after validation, as Better Auth's
/// originCheck middleware runs). An empty callbackURL counts as none.
pub fn link_query(ctx: &Ctx<'_>, req: &Request) -> Result<(String, Option<String>), ApiError> {
    let LinkQuery { token, callback_url } = ctx.query(req)?;
    let callback_url = callback_url.filter(|c| !c.is_empty());
    if ctx.transport == Transport::Http {
        crate::http::redirect::check_query_callback(&ctx.app.trusted, req)?;
    }
    Ok((token, callback_url))
}
