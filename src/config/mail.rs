//! Mail area: the transport email leaves through, and the flows that send email (verification,
//! password reset, change-email, delete-user).

use super::accounts::seconds;
use super::var::{boolean, http_url, positive, text, Default, Reader, Spec, Var};
use super::Secret;

pub const TITLE: &str = "Email";

/// Where email goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailTransport {
    /// Printed to stderr (development).
    Log,
    Smtp {
        url: Secret,
        from: String,
    },
    Webhook {
        url: Secret,
    },
}

/// Email delivery and the flows that send email.
#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub app_name: String,
    pub transport: MailTransport,
    pub verification_expires_in: i64,
    pub send_on_sign_up: bool,
    pub send_on_sign_in: bool,
    pub auto_sign_in_after_verification: bool,
    pub reset_password_expires_in: i64,
    pub revoke_sessions_on_password_reset: bool,
    pub change_email: bool,
    pub change_email_confirmation: bool,
    pub delete_user: bool,
    pub delete_user_verification: bool,
    pub delete_user_expires_in: i64,
    /// Mails per recipient address and class (`SESAME_EMAIL_RECIPIENT_LIMIT`); `None`: no limit.
    pub recipient_limit: Option<crate::ratelimit::Rule>,
    /// The durable outbox of a SQLite or PostgreSQL database.
    pub outbox: OutboxConfig,
}

/// How long and how often the durable outbox (SQL storage) tries, and how much it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxConfig {
    /// `SESAME_MAIL_RETRY_HOURS`: an email not delivered this long after it was queued is given up.
    pub give_up_after: std::time::Duration,
    /// `SESAME_MAIL_RETRY_MAX_SECONDS`: the longest wait between two attempts (the wait doubles
    /// from two seconds up to it).
    pub max_backoff: std::time::Duration,
    /// `SESAME_MAIL_QUEUE_CAPACITY`: emails waiting at most; beyond it a request that would
    /// send one is answered 503.
    pub capacity: u64,
}

pub const APP_NAME: Var<String> = Var::new(
    "SESAME_APP_NAME",
    Default::Value("Sesame"),
    "Application name shown in emails",
    text,
);
pub const SMTP_URL: Var<String> = Var::new(
    "SESAME_SMTP_URL",
    Default::None,
    "Send email over SMTP: `smtp://user:pass@host:587` (STARTTLS required) or `smtps://…:465` (implicit TLS); plain text only with `?tls=none`",
    smtp_url,
)
.url_with_credentials();
pub const EMAIL_FROM: Var<String> = Var::new(
    "SESAME_EMAIL_FROM",
    Default::None,
    "Sender of SMTP email, e.g. `Sesame <no-reply@example.com>` (required with SESAME_SMTP_URL)",
    text,
);
pub const WEBHOOK_URL: Var<String> = Var::new(
    "SESAME_EMAIL_WEBHOOK_URL",
    Default::None,
    "POST every email as signed JSON to this URL instead (header X-Sesame-Signature)",
    http_url,
)
.secret();
pub const VERIFICATION_EXPIRES_IN: Var<i64> = Var::new(
    "SESAME_EMAIL_VERIFICATION_EXPIRES_IN",
    Default::Value("3600"),
    "Lifetime in seconds of email verification and change-email links",
    seconds,
);
pub const SEND_ON_SIGN_UP: Var<bool> = Var::new(
    "SESAME_SEND_VERIFICATION_ON_SIGN_UP",
    Default::Computed("= SESAME_REQUIRE_EMAIL_VERIFICATION"),
    "Email a verification link after sign-up",
    boolean,
);
pub const SEND_ON_SIGN_IN: Var<bool> = Var::new(
    "SESAME_SEND_VERIFICATION_ON_SIGN_IN",
    Default::Value("false"),
    "Email a new verification link when sign-in is refused for an unverified email",
    boolean,
);
pub const AUTO_SIGN_IN_AFTER_VERIFICATION: Var<bool> = Var::new(
    "SESAME_AUTO_SIGN_IN_AFTER_VERIFICATION",
    Default::Value("false"),
    "Sign the user in when they open the verification link",
    boolean,
);
pub const RESET_PASSWORD_EXPIRES_IN: Var<i64> = Var::new(
    "SESAME_RESET_PASSWORD_EXPIRES_IN",
    Default::Value("3600"),
    "Lifetime in seconds of password reset links",
    seconds,
);
pub const REVOKE_SESSIONS_ON_PASSWORD_RESET: Var<bool> = Var::new(
    "SESAME_REVOKE_SESSIONS_ON_PASSWORD_RESET",
    Default::Value("false"),
    "Sign the user out everywhere when the password is reset",
    boolean,
);
pub const CHANGE_EMAIL: Var<bool> = Var::new(
    "SESAME_CHANGE_EMAIL",
    Default::Value("false"),
    "Enable POST /change-email",
    boolean,
);
pub const CHANGE_EMAIL_CONFIRMATION: Var<bool> = Var::new(
    "SESAME_CHANGE_EMAIL_CONFIRMATION",
    Default::Value("true"),
    "A verified user first confirms an email change from the old address",
    boolean,
);
pub const DELETE_USER: Var<bool> = Var::new(
    "SESAME_DELETE_USER",
    Default::Value("false"),
    "Enable POST /delete-user (else 404)",
    boolean,
);
pub const DELETE_USER_VERIFICATION: Var<bool> = Var::new(
    "SESAME_DELETE_USER_VERIFICATION",
    Default::Value("true"),
    "Deleting an account always goes through an emailed link",
    boolean,
);
pub const DELETE_USER_EXPIRES_IN: Var<i64> = Var::new(
    "SESAME_DELETE_USER_EXPIRES_IN",
    Default::Value("86400"),
    "Lifetime in seconds of account deletion links",
    seconds,
);

pub const RECIPIENT_LIMIT: Var<Option<crate::ratelimit::Rule>> = Var::new(
    "SESAME_EMAIL_RECIPIENT_LIMIT",
    Default::Value("5/3600"),
    "Emails per recipient address per SECONDS (MAX/SECONDS or off), counted apart for verification, reset and two-factor code mail and for other mail; more are not sent. Off with SESAME_RATE_LIMIT=false",
    recipient_limit,
);

pub const MAIL_RETRY_HOURS: Var<std::time::Duration> = Var::new(
    "SESAME_MAIL_RETRY_HOURS",
    Default::Value("24"),
    "With SQLite or PostgreSQL storage, hours an email is retried (kept in the database across restarts) before it is given up with a logged error; fractions allowed",
    hours,
);
pub const MAIL_RETRY_MAX_SECONDS: Var<i64> = Var::new(
    "SESAME_MAIL_RETRY_MAX_SECONDS",
    Default::Value("600"),
    "With SQLite or PostgreSQL storage, the longest wait between two delivery attempts of an email (waits double from 2 seconds up to it)",
    seconds,
);
pub const MAIL_QUEUE_CAPACITY: Var<u64> = Var::new(
    "SESAME_MAIL_QUEUE_CAPACITY",
    Default::Value("10000"),
    "With SQLite or PostgreSQL storage, emails the database outbox holds at most; while it is full, requests that would send email are answered 503 MAIL_QUEUE_FULL",
    positive,
);

pub const VARIABLES: &[&Spec] = &[
    &APP_NAME.spec,
    &SMTP_URL.spec,
    &EMAIL_FROM.spec,
    &WEBHOOK_URL.spec,
    &VERIFICATION_EXPIRES_IN.spec,
    &SEND_ON_SIGN_UP.spec,
    &SEND_ON_SIGN_IN.spec,
    &AUTO_SIGN_IN_AFTER_VERIFICATION.spec,
    &RESET_PASSWORD_EXPIRES_IN.spec,
    &REVOKE_SESSIONS_ON_PASSWORD_RESET.spec,
    &CHANGE_EMAIL.spec,
    &CHANGE_EMAIL_CONFIRMATION.spec,
    &DELETE_USER.spec,
    &DELETE_USER_VERIFICATION.spec,
    &DELETE_USER_EXPIRES_IN.spec,
    &RECIPIENT_LIMIT.spec,
    &MAIL_RETRY_HOURS.spec,
    &MAIL_RETRY_MAX_SECONDS.spec,
    &MAIL_QUEUE_CAPACITY.spec,
];

fn hours(s: &str) -> Result<std::time::Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(h) if h > 0.0 && h <= 24.0 * 365.0 => Ok(std::time::Duration::from_secs_f64(h * 3600.0)),
        _ => Err("must be a positive number of hours, at most a year".to_string()),
    }
}

fn recipient_limit(s: &str) -> Result<Option<crate::ratelimit::Rule>, String> {
    crate::ratelimit::rules::parse_rule(s).map_err(|e| format!("{e:#}"))
}

fn smtp_url(s: &str) -> Result<String, String> {
    if !(s.starts_with("smtp://") || s.starts_with("smtps://")) {
        return Err("must start with smtp:// or smtps://".to_string());
    }
    Ok(s.to_string())
}

/// `require_verification` is `SESAME_REQUIRE_EMAIL_VERIFICATION` (the accounts area), the
/// default of `SESAME_SEND_VERIFICATION_ON_SIGN_UP` as Better Auth's `sendOnSignUp`.
pub fn read(r: &Reader, require_verification: bool) -> EmailConfig {
    r.area(TITLE);
    let smtp = r.opt(&SMTP_URL);
    let from = r.opt(&EMAIL_FROM);
    let webhook = r.opt(&WEBHOOK_URL);
    let transport = match (smtp, webhook) {
        (Some(_), Some(_)) => {
            r.problem("set only one of SESAME_SMTP_URL and SESAME_EMAIL_WEBHOOK_URL");
            MailTransport::Log
        }
        (Some(url), None) => match from {
            Some(from) => MailTransport::Smtp {
                url: Secret::new(url),
                from,
            },
            None => {
                r.problem("SESAME_EMAIL_FROM is required with SESAME_SMTP_URL");
                MailTransport::Log
            }
        },
        (None, Some(url)) => MailTransport::Webhook { url: Secret::new(url) },
        (None, None) => MailTransport::Log,
    };
    let send_on_sign_up = r.get_or(&SEND_ON_SIGN_UP, || require_verification);
    r.note_default(&SEND_ON_SIGN_UP, send_on_sign_up);
    EmailConfig {
        app_name: r.get(&APP_NAME),
        transport,
        verification_expires_in: r.get(&VERIFICATION_EXPIRES_IN),
        send_on_sign_up,
        send_on_sign_in: r.get(&SEND_ON_SIGN_IN),
        auto_sign_in_after_verification: r.get(&AUTO_SIGN_IN_AFTER_VERIFICATION),
        reset_password_expires_in: r.get(&RESET_PASSWORD_EXPIRES_IN),
        revoke_sessions_on_password_reset: r.get(&REVOKE_SESSIONS_ON_PASSWORD_RESET),
        change_email: r.get(&CHANGE_EMAIL),
        change_email_confirmation: r.get(&CHANGE_EMAIL_CONFIRMATION),
        delete_user: r.get(&DELETE_USER),
        delete_user_verification: r.get(&DELETE_USER_VERIFICATION),
        delete_user_expires_in: r.get(&DELETE_USER_EXPIRES_IN),
        recipient_limit: r.get(&RECIPIENT_LIMIT),
        outbox: OutboxConfig {
            give_up_after: r.get(&MAIL_RETRY_HOURS),
            max_backoff: std::time::Duration::from_secs(r.get(&MAIL_RETRY_MAX_SECONDS).unsigned_abs()),
            capacity: r.get(&MAIL_QUEUE_CAPACITY),
        },
    }
}
