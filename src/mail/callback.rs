//! A transport the embedding program supplies as a function, like Better Auth's
//! `sendVerificationEmail` / `sendResetPassword` callbacks: it gets each [`Mail`] (recipient,
//! subject, text and HTML bodies, and the link and token Better Auth passes its callbacks) on
//! the outbox thread, and says whether it was delivered. A transient error is retried as for
//! SMTP and the webhook.

use super::{DeliveryError, Mail, Mailer};

/// A [`Mailer`] made from a function (see [`from_fn`]).
pub struct FnMailer<F>(F);

/// The transport that calls `send` for every email.
pub fn from_fn<F>(send: F) -> FnMailer<F>
where
    F: Fn(&Mail) -> Result<(), DeliveryError> + Send + Sync + 'static,
{
    FnMailer(send)
}

impl<F> Mailer for FnMailer<F>
where
    F: Fn(&Mail) -> Result<(), DeliveryError> + Send + Sync + 'static,
{
    fn deliver(&self, mail: &Mail) -> Result<(), DeliveryError> {
        (self.0)(mail)
    }

    fn name(&self) -> &'static str {
        "program"
    }
}
