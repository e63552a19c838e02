//! Email delivery. Endpoints compose a [`Mail`] (`templates.rs`) and hand it to the
//! [`Outbox`](outbox::Outbox), whose background thread delivers it through the configured
//! [`Mailer`] — SMTP, a signed webhook, stderr, or a function the embedding program supplies
//! (`callback.rs`) — with retries; with SQLite or PostgreSQL storage the queue is a table, so
//! queued mail survives restarts (`outbox/durable.rs`). Sending therefore never delays an HTTP
//! answer, and a delivery's outcome never changes it, so neither timing nor errors tell a
//! caller whether an address has an account.

pub mod callback;
pub mod log;
pub mod outbox;
pub mod recording;
pub mod smtp;
pub mod templates;
pub mod webhook;

use std::sync::Arc;

use crate::config::{Config, MailTransport};

pub use callback::{from_fn, FnMailer};
pub use outbox::{Outbox, QueueError, RetryPolicy};
pub use recording::RecordingMailer;

/// What an email is for; the webhook's `kind` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailKind {
    /// A link that verifies the address (sign-up, sign-in, send-verification-email).
    Verification,
    ResetPassword,
    /// Sent to the current address of a verified user asking to change it.
    ChangeEmailConfirmation,
    /// Sent to the new address of an email change.
    ChangeEmailVerification,
    /// Sent instead of `ChangeEmailVerification` when the new address already has an account:
    /// no link, just the notice that it cannot be used (the requester sees the same answer).
    ChangeEmailInUse,
    DeleteAccount,
    /// The two-factor plugin's one-time code (no link; the code is the token).
    TwoFactorOtp,
    /// The magic-link plugin's sign-in link (the token is in the link too).
    MagicLink,
    /// The email-otp plugin's codes (no link; the code is the token): to sign in, to verify
    /// the address, to reset the password.
    EmailOtpSignIn,
    EmailOtpVerification,
    EmailOtpResetPassword,
}

impl MailKind {
    pub const ALL: [MailKind; 11] = [
        MailKind::Verification,
        MailKind::ResetPassword,
        MailKind::ChangeEmailConfirmation,
        MailKind::ChangeEmailVerification,
        MailKind::ChangeEmailInUse,
        MailKind::DeleteAccount,
        MailKind::TwoFactorOtp,
        MailKind::MagicLink,
        MailKind::EmailOtpSignIn,
        MailKind::EmailOtpVerification,
        MailKind::EmailOtpResetPassword,
    ];

    /// A one-time code to type in, not a link (`url` is empty; the code is `token`).
    pub fn is_code(self) -> bool {
        matches!(
            self,
            MailKind::TwoFactorOtp
                | MailKind::EmailOtpSignIn
                | MailKind::EmailOtpVerification
                | MailKind::EmailOtpResetPassword
        )
    }

    /// Account-security mail (a link for the recipient's own account): delivered before any
    /// other and limited per recipient apart from it.
    pub fn is_security(self) -> bool {
        matches!(
            self,
            MailKind::Verification
                | MailKind::ResetPassword
                | MailKind::TwoFactorOtp
                | MailKind::MagicLink
                | MailKind::EmailOtpSignIn
                | MailKind::EmailOtpVerification
                | MailKind::EmailOtpResetPassword
        )
    }

    /// The kind [`MailKind::as_str`] names.
    pub fn parse(name: &str) -> Option<MailKind> {
        MailKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Verification => "verification",
            MailKind::ResetPassword => "reset-password",
            MailKind::ChangeEmailConfirmation => "change-email-confirmation",
            MailKind::ChangeEmailVerification => "change-email-verification",
            MailKind::ChangeEmailInUse => "change-email-in-use",
            MailKind::DeleteAccount => "delete-account",
            MailKind::TwoFactorOtp => "two-factor-otp",
            MailKind::MagicLink => "magic-link",
            // Better Auth's `email-otp-<type>`, as its reference posts them.
            MailKind::EmailOtpSignIn => "email-otp-sign-in",
            MailKind::EmailOtpVerification => "email-otp-email-verification",
            MailKind::EmailOtpResetPassword => "email-otp-forget-password",
        }
    }
}

/// One message, ready for any transport. `Debug` hides the link, token and bodies.
#[derive(Clone, PartialEq, Eq)]
pub struct Mail {
    pub kind: MailKind,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The link the recipient opens.
    pub url: String,
    /// The token inside the link (Better Auth passes both to its send callbacks).
    pub token: String,
}

impl Mail {
    /// The recipient's domain: all that logs may say about who an email was for.
    pub fn recipient_domain(&self) -> &str {
        self.to.rsplit_once('@').map(|(_, d)| d).unwrap_or("?")
    }
}

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mail")
            .field("kind", &self.kind)
            .field("domain", &self.recipient_domain())
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Why a delivery failed, in words safe to log (no address, link or server-echoed text), and
/// whether trying again could help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryError {
    pub reason: String,
    pub retryable: bool,
}

impl DeliveryError {
    pub fn transient(reason: impl Into<String>) -> Self {
        DeliveryError {
            reason: reason.into(),
            retryable: true,
        }
    }
    pub fn permanent(reason: impl Into<String>) -> Self {
        DeliveryError {
            reason: reason.into(),
            retryable: false,
        }
    }
}

impl std::fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// A transport. `deliver` blocks until the message is accepted or refused; it runs on the
/// outbox thread, never on a request thread.
pub trait Mailer: Send + Sync {
    fn deliver(&self, mail: &Mail) -> Result<(), DeliveryError>;
    /// A short name for logs (`smtp`, `webhook`, `log`, `recording`).
    fn name(&self) -> &'static str;
    /// Whether mail reaches its recipients (`/ready` checks it); the development transport,
    /// which only prints, says no.
    fn reaches_recipients(&self) -> bool {
        true
    }
}

/// The transport the configuration names.
pub fn from_config(config: &Config) -> anyhow::Result<Arc<dyn Mailer>> {
    Ok(match &config.email.transport {
        MailTransport::Log => Arc::new(log::LogMailer),
        MailTransport::Smtp { url, from } => Arc::new(smtp::SmtpMailer::new(url.expose(), from)?),
        MailTransport::Webhook { url } => Arc::new(webhook::WebhookMailer::new(url.expose(), config.secret.expose())?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_link_and_address() {
        let mail = Mail {
            kind: MailKind::ResetPassword,
            to: "ada@example.com".into(),
            subject: "s".into(),
            text: "t".into(),
            html: "h".into(),
            url: "http://x/reset-password/SECRET".into(),
            token: "SECRET".into(),
        };
        let dbg = format!("{mail:?}");
        assert!(!dbg.contains("SECRET") && !dbg.contains("ada@"), "{dbg}");
        assert_eq!(mail.recipient_domain(), "example.com");
    }
}
