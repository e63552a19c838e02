//! Email helpers: wait for the email a flow sends, open its link in-process, and check that
//! nothing was sent.

use std::time::Duration;

use sesame::http::{Request, Response};
use sesame::mail::{Mail, MailKind};

use super::{TestApp, ORIGIN};

/// Delivery is asynchronous; this bounds every wait for it.
pub const MAIL_WAIT: Duration = Duration::from_secs(10);

impl TestApp {
    /// The newest email of `kind` to `to`, waiting for its delivery.
    pub fn mail_to(&self, kind: MailKind, to: &str) -> Mail {
        self.mail
            .wait_for(kind, to, MAIL_WAIT)
            .unwrap_or_else(|| panic!("no {} email to {to}; delivered: {:?}", kind.as_str(), self.mail.all()))
    }

    /// Every email sent so far, after the outbox has delivered all it accepted.
    pub fn delivered(&self) -> Vec<Mail> {
        assert!(self.app.outbox.flush(MAIL_WAIT), "outbox did not drain");
        self.mail.all()
    }

    pub fn assert_no_mail(&self) {
        let mails = self.delivered();
        assert!(mails.is_empty(), "expected no email, got {mails:?}");
    }

    /// Opens an emailed link in-process, like a browser (with these cookies, if any).
    pub fn open_link(&self, url: &str, cookies: Option<&str>) -> Response {
        let mut req = Request::get(&link_target(url));
        if let Some(c) = cookies {
            req = req.with_header("cookie", c);
        }
        self.send(req)
    }

    /// Marks an address verified directly in storage.
    pub fn mark_verified(&self, email: &str) {
        let user = self.storage().find_user_by_email(email).unwrap().expect("user exists");
        let update = sesame::storage::models::UserUpdate {
            email_verified: Some(true),
            ..Default::default()
        };
        self.storage().update_user(&user.id, &update, self.clock_now()).unwrap();
    }
}

/// The request target (path and query) of an absolute link on the app's origin.
pub fn link_target(url: &str) -> String {
    url.strip_prefix(ORIGIN)
        .unwrap_or_else(|| panic!("link not on {ORIGIN}: {url}"))
        .to_string()
}

/// A decoded query value of a URL or target.
pub fn query_param(url: &str, key: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}
