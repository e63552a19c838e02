//! A transport that keeps every delivered email in memory, for tests: inject it with
//! `App::with_mailer`, then wait for the email a flow sends and open its link.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::{DeliveryError, Mail, MailKind, Mailer};

#[derive(Default)]
pub struct RecordingMailer {
    mails: Mutex<Vec<Mail>>,
    arrived: Condvar,
}

impl RecordingMailer {
    pub fn new() -> RecordingMailer {
        RecordingMailer::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Mail>> {
        self.mails.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every email delivered so far, oldest first.
    pub fn all(&self) -> Vec<Mail> {
        self.lock().clone()
    }

    /// Forgets the emails delivered so far.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The newest email of this kind to this address, waiting up to `timeout` for one to be
    /// delivered.
    pub fn wait_for(&self, kind: MailKind, to: &str, timeout: Duration) -> Option<Mail> {
        let deadline = Instant::now() + timeout;
        let mut mails = self.lock();
        loop {
            if let Some(m) = mails.iter().rev().find(|m| m.kind == kind && m.to == to) {
                return Some(m.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            mails = self
                .arrived
                .wait_timeout(mails, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

impl Mailer for RecordingMailer {
    fn deliver(&self, mail: &Mail) -> Result<(), DeliveryError> {
        self.lock().push(mail.clone());
        self.arrived.notify_all();
        Ok(())
    }

    fn name(&self) -> &'static str {
        "recording"
    }
}
