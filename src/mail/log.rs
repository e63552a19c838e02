//! The development transport, used when neither SMTP nor a webhook is configured: each email's
//! recipient, kind and link go to stderr. This is the one place Sesame logs a link; it is
//! meant for local development only (README says so, and start-up warns).

use super::{DeliveryError, Mail, Mailer};

pub struct LogMailer;

impl Mailer for LogMailer {
    fn deliver(&self, mail: &Mail) -> Result<(), DeliveryError> {
        tracing::info!(
            "mail (log transport, development only) kind={} to={} link={}",
            mail.kind.as_str(),
            mail.to,
            mail.url
        );
        Ok(())
    }

    fn name(&self) -> &'static str {
        "log"
    }

    fn reaches_recipients(&self) -> bool {
        false
    }
}
