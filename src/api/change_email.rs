//! `POST /change-email`, enabled by `SESAME_CHANGE_EMAIL`. A verified user first
//! approves from the current address (`SESAME_CHANGE_EMAIL_CONFIRMATION`), then proves the new
//! one; otherwise one email goes to the new address. The switch itself happens in
//! `/verify-email`. A taken address gets the same answer, and its owner the notice that it
//! cannot be used instead of a link (`mail::send_change_email_step`).

use serde_json::json;

use crate::auth::email;
use crate::auth::verification_token::{self, Claims, CHANGE_EMAIL_CONFIRMATION};
use crate::endpoint::answers::StatusAnswer;
use crate::endpoint::current;
use crate::endpoint::mail::{self, Outgoing};
use crate::endpoint::{Ctx, Kind, NoInput, Typed};
use crate::error::{codes, ApiError};
use crate::http::{Request, Response};
use crate::mail::MailKind;

crate::input! {
    /// The body of `POST /change-email`.
    pub struct ChangeEmailBody {
        new_email: String = "newEmail" as Kind::Email,
        callback_url: Option<String> = "callbackURL" as Kind::String,
    }
}

pub static CHANGE_EMAIL: Typed<ChangeEmailBody, NoInput, StatusAnswer> =
    Typed::post("/change-email", "changeEmail", change_email)
        .summary("Start changing the email address (SESAME_CHANGE_EMAIL)")
        .session()
        .errors(&[
            codes::CHANGE_EMAIL_DISABLED,
            codes::EMAIL_IS_THE_SAME,
            codes::UNAUTHORIZED,
        ]);

fn change_email(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let ChangeEmailBody {
        new_email,
        callback_url,
    } = ctx.input()?;
    let signed_in = current::require(ctx, req)?;
    let config = &ctx.config().email;
    if !config.change_email {
        return Err(ApiError::bad_request(codes::CHANGE_EMAIL_DISABLED));
    }
    let new_email = email::normalize(&new_email);
    let user = &signed_in.user;
    if new_email == user.email {
        return Err(ApiError::bad_request(codes::EMAIL_IS_THE_SAME));
    }
    ctx.app.ensure_mail_room()?;
    let expires_in = config.verification_expires_in;
    let claims = Claims::new(&user.email, &user.id, ctx.now, expires_in);
    if user.email_verified && config.change_email_confirmation {
        // The approval goes to the current address whether or not the new one is free, so the
        // requester's inbox tells nothing the answer hides; the approved step finds out.
        let token = verification_token::sign(ctx.secret(), &claims.changing_to(&new_email, CHANGE_EMAIL_CONFIRMATION));
        mail::queue(
            ctx,
            Outgoing {
                kind: MailKind::ChangeEmailConfirmation,
                to: &user.email,
                url: mail::verification_link(ctx, &token, callback_url.as_deref()),
                token,
                expires_in,
                new_email: Some(&new_email),
            },
        )?;
    } else {
        mail::send_change_email_step(ctx, claims, &new_email, callback_url.as_deref())?;
    }
    Ok(Response::json(&json!({ "status": true })))
}
