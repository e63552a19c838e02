//! The text of each email: a subject, a plain-text part and an HTML part naming the app, the
//! link and how long it stays valid. Everything interpolated into HTML is escaped.

use super::{Mail, MailKind};
use crate::http::html::escape;

/// What an email says, before rendering.
pub struct Letter<'a> {
    pub kind: MailKind,
    pub app_name: &'a str,
    pub to: &'a str,
    pub url: &'a str,
    pub token: &'a str,
    /// Seconds the link stays valid.
    pub expires_in: i64,
    /// The address being changed to (change-email confirmation only).
    pub new_email: Option<&'a str>,
}

/// Renders a letter into a [`Mail`].
pub fn compose(letter: &Letter<'_>) -> Mail {
    if letter.kind == MailKind::ChangeEmailInUse {
        return in_use_notice(letter);
    }
    if letter.kind.is_code() {
        return code_notice(letter);
    }
    let app = letter.app_name;
    let (subject, intro, action) = match letter.kind {
        MailKind::Verification => (
            format!("Verify your email address for {app}"),
            format!("Please confirm that this is your email address for {app}."),
            "Verify email address",
        ),
        MailKind::ResetPassword => (
            format!("Reset your {app} password"),
            format!("Someone asked to reset the password of your {app} account."),
            "Choose a new password",
        ),
        MailKind::ChangeEmailConfirmation => (
            format!("Confirm the change of your {app} email address"),
            format!(
                "Someone asked to change the email address of your {app} account to {}.",
                letter.new_email.unwrap_or("a new address")
            ),
            "Approve the change",
        ),
        MailKind::ChangeEmailVerification => (
            format!("Verify your new email address for {app}"),
            format!("Please confirm this new email address for your {app} account."),
            "Verify new email address",
        ),
        // Composed by `in_use_notice` and `code_notice`: they have no link.
        MailKind::MagicLink => (
            format!("Sign in to {app}"),
            format!("Someone asked to sign in to {app} with this email address."),
            "Sign in",
        ),
        MailKind::ChangeEmailInUse
        | MailKind::TwoFactorOtp
        | MailKind::EmailOtpSignIn
        | MailKind::EmailOtpVerification
        | MailKind::EmailOtpResetPassword => (String::new(), String::new(), ""),
        MailKind::DeleteAccount => (
            format!("Confirm the deletion of your {app} account"),
            format!("Someone asked to delete your {app} account. This cannot be undone."),
            "Delete my account",
        ),
    };
    let validity = format!("This link expires in {}.", duration_words(letter.expires_in));
    let ignore = "If you did not ask for this, you can ignore this email.";
    let text = format!(
        "{intro}\n\n{action}:\n{}\n\n{validity}\n{ignore}\n\n{app}\n",
        letter.url
    );
    let html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{subject}</title></head>\
<body style=\"font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;color:#222\">\
<p>{intro}</p><p><a href=\"{url}\" style=\"display:inline-block;padding:.6rem 1rem;background:#222;color:#fff;\
text-decoration:none;border-radius:4px\">{action}</a></p>\
<p style=\"font-size:.9rem\">Or open this link: <a href=\"{url}\">{url}</a></p>\
<p style=\"font-size:.9rem\">{validity} {ignore}</p><p style=\"color:#777\">{app}</p></body></html>\n",
        subject = escape(&subject),
        intro = escape(&intro),
        url = escape(letter.url),
        action = escape(action),
        validity = escape(&validity),
        ignore = escape(ignore),
        app = escape(app),
    );
    Mail {
        kind: letter.kind,
        to: letter.to.to_string(),
        subject,
        text,
        html,
        url: letter.url.to_string(),
        token: letter.token.to_string(),
    }
}

/// The notice for an address that is already taken: nothing to click.
fn in_use_notice(letter: &Letter<'_>) -> Mail {
    let app = letter.app_name;
    let subject = format!("Someone tried to use your email address at {app}");
    let intro = format!(
        "Someone asked to change the email address of another {app} account to {}. This address already belongs to a {app} account, so it cannot be used for another one; nothing was changed.",
        letter.to
    );
    let advice =
        "If this was you, sign in to the account that uses this address instead. If not, you can ignore this email.";
    let text = format!("{intro}\n\n{advice}\n\n{app}\n");
    let html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{subject}</title></head>\
<body style=\"font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;color:#222\">\
<p>{intro}</p><p style=\"font-size:.9rem\">{advice}</p><p style=\"color:#777\">{app}</p></body></html>\n",
        subject = escape(&subject),
        intro = escape(&intro),
        advice = escape(advice),
        app = escape(app),
    );
    Mail {
        kind: letter.kind,
        to: letter.to.to_string(),
        subject,
        text,
        html,
        url: String::new(),
        token: String::new(),
    }
}

/// A one-time code to type in (the two-factor and email-otp plugins'): no link to click.
fn code_notice(letter: &Letter<'_>) -> Mail {
    let app = letter.app_name;
    let (subject, intro) = match letter.kind {
        MailKind::EmailOtpSignIn => (
            format!("Your {app} sign-in code"),
            format!("Your code to sign in to {app} is:"),
        ),
        MailKind::EmailOtpResetPassword => (
            format!("Your {app} password reset code"),
            format!("Your code to reset the password of your {app} account is:"),
        ),
        _ => (
            format!("Your {app} verification code"),
            format!("Your {app} verification code is:"),
        ),
    };
    let validity = format!("It expires in {}.", duration_words(letter.expires_in));
    let advice = match letter.kind {
        MailKind::TwoFactorOtp => "If you did not just sign in, someone else knows your password: change it.",
        _ => "If you did not ask for this code, you can ignore this email; never share it with anyone.",
    };
    let text = format!("{intro}\n\n{}\n\n{validity}\n{advice}\n\n{app}\n", letter.token);
    let html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{subject}</title></head>\
<body style=\"font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;color:#222\">\
<p>{intro}</p><p style=\"font-size:1.6rem;letter-spacing:.3rem;font-weight:bold\">{code}</p>\
<p style=\"font-size:.9rem\">{validity} {advice}</p><p style=\"color:#777\">{app}</p></body></html>\n",
        subject = escape(&subject),
        intro = escape(&intro),
        code = escape(letter.token),
        validity = escape(&validity),
        advice = escape(advice),
        app = escape(app),
    );
    Mail {
        kind: letter.kind,
        to: letter.to.to_string(),
        subject,
        text,
        html,
        url: String::new(),
        token: letter.token.to_string(),
    }
}

/// `3600` → `1 hour`, `86400` → `24 hours`, `90` → `90 seconds`.
pub fn duration_words(seconds: i64) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if seconds % 3600 == 0 {
        plural(seconds / 3600, "hour")
    } else if seconds % 60 == 0 {
        plural(seconds / 60, "minute")
    } else {
        plural(seconds, "second")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_parts_name_the_app_link_and_expiry() {
        let url = "http://localhost:3000/api/auth/verify-email?token=a.b.c&callbackURL=%2F";
        for kind in MailKind::ALL
            .into_iter()
            .filter(|k| *k != MailKind::ChangeEmailInUse && !k.is_code())
        {
            let mail = compose(&Letter {
                kind,
                app_name: "Acme <Auth>",
                to: "ada@example.com",
                url,
                token: "a.b.c",
                expires_in: 3600,
                new_email: Some("new@example.com"),
            });
            assert!(mail.text.contains(url) && mail.text.contains("Acme <Auth>"));
            assert!(mail.text.contains("expires in 1 hour"));
            assert!(mail.html.contains(&url.replace('&', "&amp;")));
            assert!(mail.html.contains("Acme &lt;Auth&gt;") && !mail.html.contains("<Auth>"));
            assert!(mail.subject.contains("Acme <Auth>"));
        }
    }

    #[test]
    fn the_in_use_notice_has_no_link() {
        let mail = compose(&Letter {
            kind: MailKind::ChangeEmailInUse,
            app_name: "Acme",
            to: "taken@example.com",
            url: "",
            token: "",
            expires_in: 3600,
            new_email: None,
        });
        assert!(mail.text.contains("taken@example.com") && mail.text.contains("cannot be used"));
        assert!(!mail.text.contains("http") && !mail.html.contains("href"));
        assert_eq!((mail.url.as_str(), mail.token.as_str()), ("", ""));
    }

    #[test]
    fn the_code_notice_shows_the_code_and_no_link() {
        for kind in MailKind::ALL.into_iter().filter(|k| k.is_code()) {
            let mail = compose(&Letter {
                kind,
                app_name: "Acme",
                to: "ada@example.com",
                url: "",
                token: "042917",
                expires_in: 180,
                new_email: None,
            });
            assert!(mail.text.contains("042917") && mail.html.contains("042917"), "{kind:?}");
            assert!(mail.text.contains("expires in 3 minutes") && mail.subject.contains("Acme"));
            assert!(!mail.text.contains("http") && !mail.html.contains("href"));
            assert_eq!((mail.url.as_str(), mail.token.as_str()), ("", "042917"));
        }
    }

    #[test]
    fn durations() {
        assert_eq!(duration_words(3600), "1 hour");
        assert_eq!(duration_words(86_400), "24 hours");
        assert_eq!(duration_words(900), "15 minutes");
        assert_eq!(duration_words(61), "61 seconds");
    }
}
