//! SMTP delivery with lettre's blocking transport: `smtp://` upgrades with STARTTLS and
//! refuses to go on without it, `smtps://` speaks TLS from the start (rustls, WebPKI roots).
//! Upgrading only "when offered" would let a network attacker strip the offer and read the
//! SMTP password and every emailed link; plain text needs `?tls=none` in the URL (a relay on
//! the same host). A new connection per message, with connect and I/O timeouts. Errors are
//! reduced to the SMTP status class and code, so nothing the server echoes (such as the
//! address) is logged.

use std::time::Duration;

use anyhow::{bail, Context};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use percent_encoding::percent_decode_str;

use super::{DeliveryError, Mail, Mailer};

/// Connect, read and write timeout of one SMTP conversation step.
pub const TIMEOUT: Duration = Duration::from_secs(10);

pub struct SmtpMailer {
    transport: SmtpTransport,
    from: Mailbox,
}

impl SmtpMailer {
    /// `url` is `smtp[s]://[user[:pass]@]host[:port]`; `from` a mailbox such as
    /// `Sesame <no-reply@example.com>`.
    pub fn new(url: &str, from: &str) -> anyhow::Result<SmtpMailer> {
        let from: Mailbox = from
            .parse()
            .with_context(|| format!("SESAME_EMAIL_FROM is not an email address: {from:?}"))?;
        // The URL may hold a password: errors below never include it.
        let parsed = url::Url::parse(url).map_err(|_| anyhow::anyhow!("SESAME_SMTP_URL is not a URL"))?;
        let Some(host) = parsed.host_str().map(str::to_string) else {
            bail!("SESAME_SMTP_URL has no host");
        };
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let tls_params = TlsParameters::new(host.clone()).context("SESAME_SMTP_URL: TLS set-up failed")?;
        let plaintext = plaintext_opt_in(&parsed)?;
        let (tls, default_port) = match (parsed.scheme(), plaintext) {
            ("smtp", false) => (Tls::Required(tls_params), 25),
            ("smtp", true) => (Tls::None, 25),
            ("smtps", false) => (Tls::Wrapper(tls_params), 465),
            ("smtps", true) => bail!("SESAME_SMTP_URL: smtps:// is TLS from the start; ?tls=none is for smtp://"),
            _ => bail!("SESAME_SMTP_URL must start with smtp:// or smtps://"),
        };
        let mut builder = SmtpTransport::builder_dangerous(host)
            .port(parsed.port().unwrap_or(default_port))
            .tls(tls)
            .timeout(Some(TIMEOUT));
        if !parsed.username().is_empty() {
            let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            builder = builder.credentials(Credentials::new(
                decode(parsed.username()),
                decode(parsed.password().unwrap_or_default()),
            ));
        }
        Ok(SmtpMailer {
            transport: builder.build(),
            from,
        })
    }

    fn message(&self, mail: &Mail) -> Result<Message, DeliveryError> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|_| DeliveryError::permanent("the recipient is not a valid mailbox"))?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .multipart(MultiPart::alternative_plain_html(mail.text.clone(), mail.html.clone()))
            .map_err(|_| DeliveryError::permanent("the message could not be built"))
    }
}

impl Mailer for SmtpMailer {
    fn deliver(&self, mail: &Mail) -> Result<(), DeliveryError> {
        let message = self.message(mail)?;
        self.transport.send(&message).map(|_| ()).map_err(|e| classify(&e))
    }

    fn name(&self) -> &'static str {
        "smtp"
    }
}

/// The URL's query: nothing, `tls=required` (the default), or `tls=none`, the explicit opt-in
/// to plain text. Anything else is refused rather than guessed (the URL may hold a password:
/// the error does not quote it).
fn plaintext_opt_in(url: &url::Url) -> anyhow::Result<bool> {
    let mut plaintext = false;
    for (key, value) in url.query_pairs() {
        match (key.as_ref(), value.as_ref()) {
            ("tls", "required") => plaintext = false,
            ("tls", "none") => plaintext = true,
            _ => bail!("SESAME_SMTP_URL accepts only ?tls=required (the default) or ?tls=none (plain text)"),
        }
    }
    Ok(plaintext)
}

fn classify(e: &lettre::transport::smtp::Error) -> DeliveryError {
    let code = e.status().map(|c| c.to_string()).unwrap_or_default();
    if e.is_permanent() {
        DeliveryError::permanent(format!("the SMTP server refused the message ({code})"))
    } else if e.is_transient() {
        DeliveryError::transient(format!("the SMTP server deferred the message ({code})"))
    } else if e.is_timeout() {
        DeliveryError::transient("the SMTP server timed out")
    } else if e.is_tls() {
        DeliveryError::transient("TLS with the SMTP server failed")
    } else if e.is_client() && e.to_string().contains("STARTTLS") {
        // Possibly an attacker stripping the offer; the credentials were not sent.
        DeliveryError::transient(
            "the SMTP server did not offer STARTTLS, which is required (?tls=none in SESAME_SMTP_URL allows plain text)",
        )
    } else {
        DeliveryError::transient("could not talk to the SMTP server")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_senders_are_checked() {
        assert!(SmtpMailer::new("smtp://u:p%40ss@127.0.0.1:2525", "Sesame <a@example.com>").is_ok());
        assert!(SmtpMailer::new("smtp://127.0.0.1:2525?tls=none", "a@example.com").is_ok());
        assert!(SmtpMailer::new("smtp://127.0.0.1:2525?tls=required", "a@example.com").is_ok());
        assert!(SmtpMailer::new("smtps://127.0.0.1?tls=none", "a@example.com").is_err());
        assert!(SmtpMailer::new("smtps://mail.example.com", "a@example.com").is_ok());
        let err = SmtpMailer::new("smtp://u:hunter2@127.0.0.1:2525", "not an address")
            .err()
            .unwrap();
        assert!(format!("{err:#}").contains("SESAME_EMAIL_FROM"));
        let err = SmtpMailer::new("smtp://u:hunter2@", "a@example.com").err().unwrap();
        assert!(!format!("{err:#}").contains("hunter2"));
    }
}
