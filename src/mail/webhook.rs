//! Webhook delivery: each email is POSTed as JSON
//! `{"kind","to","subject","text","html","url","token"}` to `SESAME_EMAIL_WEBHOOK_URL`, signed
//! so the receiver can tell it came from this server:
//!
//! ```text
//! key                = HMAC-SHA256(BETTER_AUTH_SECRET, "sesame-email-webhook")
//! X-Sesame-Signature: sha256=<lower-case hex of HMAC-SHA256(key, raw request body)>
//! ```
//!
//! A 2xx answer is success; 408, 429 and 5xx (and network failures) are retried by the outbox,
//! any other status is final. Redirects are not followed.

use std::time::Duration;

use serde_json::json;

use super::{DeliveryError, Mail, Mailer};
use crate::crypto::hmac_sha256;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Sesame-Signature";
/// The label the signing key is derived with.
pub const KEY_LABEL: &str = "sesame-email-webhook";

pub struct WebhookMailer {
    agent: ureq::Agent,
    url: String,
    key: [u8; 32],
}

impl WebhookMailer {
    pub fn new(url: &str, secret: &str) -> anyhow::Result<WebhookMailer> {
        url::Url::parse(url).map_err(|_| anyhow::anyhow!("SESAME_EMAIL_WEBHOOK_URL is not a URL"))?;
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .redirects(0)
            .build();
        Ok(WebhookMailer {
            agent,
            url: url.to_string(),
            key: signing_key(secret),
        })
    }
}

/// `HMAC-SHA256(secret, "sesame-email-webhook")`.
pub fn signing_key(secret: &str) -> [u8; 32] {
    hmac_sha256(secret.as_bytes(), KEY_LABEL.as_bytes())
}

/// The header value for a body: `sha256=<hex>`.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    let mac = hmac_sha256(key, body);
    let mut out = String::from("sha256=");
    for b in mac {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The JSON body for a mail: `{kind, to, subject, text, html, url, token}`.
pub fn body(mail: &Mail) -> Vec<u8> {
    json!({
        "kind": mail.kind.as_str(),
        "to": mail.to,
        "subject": mail.subject,
        "text": mail.text,
        "html": mail.html,
        // A mail with nothing to click (a one-time code, an in-use notice) has `url: null`, as
        // Better Auth's reference posts its two-factor OTP.
        "url": (!mail.url.is_empty()).then_some(&mail.url),
        "token": mail.token,
    })
    .to_string()
    .into_bytes()
}

impl Mailer for WebhookMailer {
    fn deliver(&self, mail: &Mail) -> Result<(), DeliveryError> {
        let body = body(mail);
        let result = self
            .agent
            .post(&self.url)
            .set("content-type", "application/json")
            .set(SIGNATURE_HEADER, &signature(&self.key, &body))
            .send_bytes(&body);
        match result {
            Ok(resp) if (200..300).contains(&resp.status()) => Ok(()),
            Ok(resp) => Err(status_error(resp.status())),
            Err(ureq::Error::Status(code, _)) => Err(status_error(code)),
            // The URL may carry a credential, so only the kind of failure is reported.
            Err(ureq::Error::Transport(t)) => {
                Err(DeliveryError::transient(format!("webhook unreachable: {}", t.kind())))
            }
        }
    }

    fn name(&self) -> &'static str {
        "webhook"
    }
}

fn status_error(code: u16) -> DeliveryError {
    let reason = format!("the webhook answered {code}");
    if code == 408 || code == 429 || code >= 500 {
        DeliveryError::transient(reason)
    } else {
        DeliveryError::permanent(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_of_the_body_under_the_derived_key() {
        let key = signing_key("secret");
        assert_eq!(key, hmac_sha256(b"secret", b"sesame-email-webhook"));
        let sig = signature(&key, b"{}");
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
        assert_ne!(sig, signature(&signing_key("other"), b"{}"));
        // Known answer, computed independently with Python's hmac module and Node's crypto.
        assert_eq!(
            signature(&signing_key("s"), b"{}"),
            "sha256=86d3465b2afa8f2dcb75e11244553f8b70b33928518b13f6822518a2af9849cb"
        );
    }

    #[test]
    fn statuses() {
        assert!(status_error(503).retryable && status_error(429).retryable);
        assert!(!status_error(400).retryable && !status_error(404).retryable);
    }
}
