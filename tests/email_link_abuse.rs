//! Abusing the emailed links and the mail they trigger: a replayed change-email approval, a
//! repeated deletion request, mail someone else triggers to a victim, a link scanner opening a
//! change-email link, the inbox as an oracle for taken addresses, and a verification link as a
//! login CSRF. Each test performs the attack and shows it no longer works.

use std::net::IpAddr;

use serde_json::json;
use sesame::http::Request;
use sesame::mail::{Mail, MailKind};

use crate::support::{assert_error, cookie_header, json_body, Backend, TestApp, BASE, ORIGIN, PASSWORD};

fn app(t: &TestApp, adjust: impl FnOnce(&mut sesame::Config)) -> TestApp {
    TestApp::with_config(t.backend, |c| {
        c.email.change_email = true;
        c.email.delete_user = true;
        adjust(c);
    })
}

/// Emails of `kind` to `to` delivered so far.
fn count(t: &TestApp, kind: MailKind, to: &str) -> usize {
    t.delivered().iter().filter(|m| m.kind == kind && m.to == to).count()
}

/// A verified user, signed in: the cookies.
fn verified(t: &TestApp, email: &str) -> String {
    let (_, cookies) = t.sign_up(email);
    t.mark_verified(email);
    cookies
}

/// A cookie-bearing POST from a given client address (each its own rate-limit bucket).
fn post_from(t: &TestApp, ip: &str, path: &str, body: serde_json::Value, cookies: &str) -> sesame::http::Response {
    t.send(
        Request::post(&format!("{BASE}{path}"))
            .with_json(&body)
            .with_header("cookie", cookies)
            .with_header("origin", ORIGIN)
            .with_remote_addr(ip.parse::<IpAddr>().unwrap()),
    )
}

/// Rows in the `verification` table (SQL backends only).
fn verification_rows(t: &TestApp) -> Option<i64> {
    let sql = r#"select count(*) from "verification""#;
    match t.backend {
        Backend::Memory => None,
        Backend::Sqlite => Some(
            t.sqlite
                .as_ref()
                .unwrap()
                .conn()
                .query_row(sql, [], |r| r.get(0))
                .unwrap(),
        ),
        Backend::Postgres => Some(t.pg.as_ref().unwrap().client().query_one(sql, &[]).unwrap().get(0)),
    }
}

fn a_replayed_change_email_approval_mails_the_new_address_once(t: &TestApp) {
    let t = app(t, |_| {});
    let attacker = verified(&t, "attacker@example.com");
    let resp = t.post_with_cookies("/change-email", json!({"newEmail": "target@victim.example"}), &attacker);
    assert_eq!(resp.status, 200);
    let approval = t.mail_to(MailKind::ChangeEmailConfirmation, "attacker@example.com");
    let first = t.open_link(&approval.url, Some(&attacker));
    assert_eq!(first.status, 302, "the first approval works");
    for cookies in [Some(attacker.as_str()), None, Some(attacker.as_str())] {
        let again = t.open_link(&approval.url.replace("&callbackURL=%2F", ""), cookies);
        assert_error(&again, 401, "INVALID_TOKEN");
    }
    assert_eq!(count(&t, MailKind::ChangeEmailVerification, "target@victim.example"), 1);
}

fn repeated_deletion_requests_mail_an_address_at_most_its_limit(t: &TestApp) {
    // Someone signed up with the victim's address asks again and again.
    let t = app(t, |c| c.rate_limit = true);
    let (_, cookies) = t.sign_up("victim@example.com");
    let rows_before = verification_rows(&t);
    for i in 0..12 {
        let resp = post_from(&t, &format!("203.0.113.{i}"), "/delete-user", json!({}), &cookies);
        assert_eq!(
            (resp.status, json_body(&resp)),
            (200, json!({"success": true, "message": "Verification email sent"})),
            "every answer is the same"
        );
    }
    assert_eq!(
        count(&t, MailKind::DeleteAccount, "victim@example.com"),
        5,
        "SESAME_EMAIL_RECIPIENT_LIMIT"
    );
    if let (Some(before), Some(after)) = (rows_before, verification_rows(&t)) {
        assert_eq!(after - before, 5, "no token row without its email");
    }
}

fn mail_someone_else_triggers_never_uses_up_the_reset_allowance(t: &TestApp) {
    let t = app(t, |c| {
        c.rate_limit = true;
        c.email.change_email_confirmation = false;
    });
    t.sign_up("victim@example.com");
    let attacker = verified(&t, "attacker@example.com");
    for i in 0..10 {
        let resp = post_from(
            &t,
            &format!("198.51.100.{i}"),
            "/change-email",
            json!({"newEmail": "victim@example.com"}),
            &attacker,
        );
        assert_eq!(resp.status, 200);
    }
    assert_eq!(
        count(&t, MailKind::ChangeEmailInUse, "victim@example.com"),
        5,
        "capped per recipient"
    );
    let reset = t.send(
        Request::post(&format!("{BASE}/request-password-reset"))
            .with_json(&json!({"email": "victim@example.com", "redirectTo": "/reset"}))
            .with_remote_addr("192.0.2.1".parse::<IpAddr>().unwrap()),
    );
    assert_eq!(reset.status, 200);
    t.mail_to(MailKind::ResetPassword, "victim@example.com");
}

fn a_link_scanner_cannot_complete_an_email_change(t: &TestApp) {
    let t = app(t, |c| c.email.change_email_confirmation = false);
    let attacker = verified(&t, "attacker@example.com");
    let resp = t.post_with_cookies("/change-email", json!({"newEmail": "ceo@corp.example"}), &attacker);
    assert_eq!(resp.status, 200);
    let link = t.mail_to(MailKind::ChangeEmailVerification, "ceo@corp.example");
    // The CEO's mail scanner and a link preview fetch the link, without any session.
    let scanned = t.open_link(&link.url, None);
    assert_eq!(scanned.status, 302);
    assert_eq!(scanned.header("location"), Some("/?error=UNAUTHORIZED"));
    let previewed = t.open_link(&link.url.replace("&callbackURL=%2F", ""), None);
    assert_error(&previewed, 401, "UNAUTHORIZED");
    let me = json_body(&t.get("/get-session", Some(&attacker)));
    assert_eq!(me["user"]["email"], "attacker@example.com", "the address did not move");
    assert!(t.storage().find_user_by_email("ceo@corp.example").unwrap().is_none());
}

/// The text of an approval email with its link and the new address blanked out.
fn shape(mail: &Mail, new_email: &str) -> (MailKind, String, String) {
    let text = mail.text.replace(&mail.url, "LINK").replace(new_email, "NEW");
    (mail.kind, mail.to.clone(), text)
}

fn the_inbox_does_not_tell_a_taken_address_from_a_free_one(t: &TestApp) {
    let t = app(t, |_| {});
    t.sign_up("taken@example.com");
    let mover = verified(&t, "mover@example.com");
    for new_email in ["free@example.com", "taken@example.com"] {
        let resp = t.post_with_cookies("/change-email", json!({"newEmail": new_email}), &mover);
        assert_eq!((resp.status, json_body(&resp)), (200, json!({"status": true})));
    }
    let approvals: Vec<Mail> = t
        .delivered()
        .into_iter()
        .filter(|m| m.to == "mover@example.com")
        .collect();
    assert_eq!(approvals.len(), 2, "an approval email in both cases");
    assert_eq!(
        shape(&approvals[0], "free@example.com"),
        shape(&approvals[1], "taken@example.com")
    );
    let answers: Vec<_> = approvals
        .iter()
        .map(|m| {
            let r = t.open_link(&m.url.replace("&callbackURL=%2F", ""), Some(&mover));
            (r.status, json_body(&r))
        })
        .collect();
    assert_eq!(answers[0], answers[1], "approving answers alike");
    let verify = t.mail_to(MailKind::ChangeEmailVerification, "free@example.com");
    assert!(verify.url.contains("/verify-email?token="));
    let notice = t.mail_to(MailKind::ChangeEmailInUse, "taken@example.com");
    assert_eq!(
        (notice.url.as_str(), notice.token.as_str()),
        ("", ""),
        "nothing to click"
    );
    assert!(notice.text.contains("cannot be used"));
    assert_eq!(count(&t, MailKind::ChangeEmailVerification, "taken@example.com"), 0);
}

fn a_taken_address_gets_a_notice_instead_of_a_link(t: &TestApp) {
    let t = app(t, |_| {});
    t.sign_up("taken@example.com");
    let (_, unverified) = t.sign_up("mover@example.com");
    let resp = t.post_with_cookies("/change-email", json!({"newEmail": "taken@example.com"}), &unverified);
    assert_eq!((resp.status, json_body(&resp)), (200, json!({"status": true})));
    let mails = t.delivered();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(
        (mails[0].kind, mails[0].to.as_str()),
        (MailKind::ChangeEmailInUse, "taken@example.com")
    );
}

fn a_verification_link_never_replaces_another_users_session(t: &TestApp) {
    let t = app(t, |c| c.email.auto_sign_in_after_verification = true);
    let victim = verified(&t, "victim@example.com");
    t.sign_up("attacker@example.com");
    let resp = t.post("/send-verification-email", json!({"email": "attacker@example.com"}));
    assert_eq!(resp.status, 200);
    let link = t.mail_to(MailKind::Verification, "attacker@example.com");
    // The attacker's own link, opened in the victim's signed-in browser.
    let opened = t.open_link(&link.url, Some(&victim));
    assert_eq!(opened.status, 302);
    assert!(
        crate::support::set_cookie(&opened, "better-auth.session_token").is_none(),
        "no new session cookie: {:?}",
        opened.set_cookies()
    );
    let me = json_body(&t.get("/get-session", Some(&victim)));
    assert_eq!(me["user"]["email"], "victim@example.com");
    assert!(
        t.storage()
            .find_user_by_email("attacker@example.com")
            .unwrap()
            .unwrap()
            .email_verified,
        "the address is verified all the same"
    );
    // Without a session, the link still signs its own user in (autoSignInAfterVerification).
    t.sign_up("fresh@example.com");
    t.post("/send-verification-email", json!({"email": "fresh@example.com"}));
    let own = t.mail_to(MailKind::Verification, "fresh@example.com");
    let opened = t.open_link(&own.url, None);
    let cookies = cookie_header(&opened);
    assert_eq!(
        json_body(&t.get("/get-session", Some(&cookies)))["user"]["email"],
        "fresh@example.com"
    );
    assert_eq!(t.sign_in("fresh@example.com", PASSWORD).status, 200);
}

crate::suite!(
    a_replayed_change_email_approval_mails_the_new_address_once,
    repeated_deletion_requests_mail_an_address_at_most_its_limit,
    mail_someone_else_triggers_never_uses_up_the_reset_allowance,
    a_link_scanner_cannot_complete_an_email_change,
    the_inbox_does_not_tell_a_taken_address_from_a_free_one,
    a_taken_address_gets_a_notice_instead_of_a_link,
    a_verification_link_never_replaces_another_users_session,
);
