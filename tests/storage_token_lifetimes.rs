//! The storage contract for token lifetimes, on every backend: password-reset tokens end with a
//! password change, a reset and an email change (in the same transaction); a single-use mark
//! is claimed once; a session row keeps `rememberMe: false`.

use std::sync::Barrier;

use sesame::storage::models::{Account, Session, User, UserUpdate, Verification};
use sesame::storage::{ResetOutcome, SessionChange, Storage, RESET_PASSWORD_PREFIX};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::support::TestApp;

const T0: OffsetDateTime = datetime!(2026-11-26 12:00:00.123 UTC);

fn seed(s: &dyn Storage, id: &str, email: &str) {
    let mut u = User::new("N", email, None, T0);
    u.id = id.to_string();
    s.create_user_with_account(&u, &Account::credential(id, "hash".into(), T0))
        .unwrap();
}

fn row(id: &str, identifier: &str, value: &str) -> Verification {
    Verification {
        id: id.to_string(),
        identifier: identifier.to_string(),
        value: value.to_string(),
        expires_at: T0 + Duration::hours(1),
        created_at: T0,
        updated_at: T0,
    }
}

/// Two reset tokens for u1, one for u2, and a non-reset row of u1.
fn tokens(s: &dyn Storage) {
    for (id, tok, user) in [("r1", "t1", "u1"), ("r2", "t2", "u1"), ("r3", "t3", "u2")] {
        s.create_verification(&row(id, &format!("{RESET_PASSWORD_PREFIX}{tok}"), user))
            .unwrap();
    }
    s.create_verification(&row("d1", "delete-account-x", "u1")).unwrap();
}

fn live(s: &dyn Storage, tok: &str) -> bool {
    s.find_verification(&format!("{RESET_PASSWORD_PREFIX}{tok}"))
        .unwrap()
        .is_some()
}

fn reset_tokens_end_with_a_password_change(t: &TestApp) {
    let s = t.storage();
    seed(s, "u1", "ada@example.com");
    seed(s, "u2", "bob@example.com");
    tokens(s);
    s.set_password("u1", "h2", T0, &SessionChange::Keep, false).unwrap();
    assert!(live(s, "t1") && live(s, "t2"), "a re-hash keeps them");
    s.set_password("u1", "h3", T0, &SessionChange::RevokeAll, true).unwrap();
    assert!(!live(s, "t1") && !live(s, "t2"), "every reset token of the user ends");
    assert!(live(s, "t3"), "another user's token stays");
    assert!(
        s.find_verification("delete-account-x").unwrap().is_some(),
        "other rows stay"
    );
}

fn a_reset_ends_the_users_other_reset_tokens(t: &TestApp) {
    let s = t.storage();
    seed(s, "u1", "ada@example.com");
    seed(s, "u2", "bob@example.com");
    tokens(s);
    let id = format!("{RESET_PASSWORD_PREFIX}t1");
    assert_eq!(
        s.reset_password(&id, T0, "h", false).unwrap(),
        ResetOutcome::Done("u1".into())
    );
    assert!(!live(s, "t2"), "the other token of the user ends with the reset");
    assert!(live(s, "t3"));
    assert_eq!(
        s.reset_password(&format!("{RESET_PASSWORD_PREFIX}t2"), T0, "h2", false)
            .unwrap(),
        ResetOutcome::InvalidToken
    );
}

fn reset_tokens_end_with_an_email_change(t: &TestApp) {
    let s = t.storage();
    seed(s, "u1", "ada@example.com");
    seed(s, "u2", "bob@example.com");
    tokens(s);
    let rename = UserUpdate {
        name: Some("Ada".into()),
        ..Default::default()
    };
    s.update_user("u1", &rename, T0).unwrap().unwrap();
    assert!(live(s, "t1"), "a name change keeps them");
    let move_to = UserUpdate {
        email: Some("ada@new.example".into()),
        ..Default::default()
    };
    s.update_user("u1", &move_to, T0).unwrap().unwrap();
    assert!(!live(s, "t1") && !live(s, "t2"));
    assert!(live(s, "t3"));
}

fn single_use_marks_are_claimed_once(t: &TestApp) {
    let s = t.storage();
    let mark = row("used:abc", "used-token", "u1");
    assert!(s.claim_verification(&mark).unwrap());
    assert!(!s.claim_verification(&mark).unwrap(), "the second claim loses");
    let mut expired = row("used:old", "used-token", "u1");
    expired.expires_at = T0 - Duration::hours(1);
    assert!(s.claim_verification(&expired).unwrap());
    assert!(
        !s.claim_verification(&expired).unwrap(),
        "expired or not, the id is taken"
    );
    let race = row("used:race", "used-token", "u1");
    let barrier = Barrier::new(8);
    let winners = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    s.claim_verification(&race).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).filter(|w| *w).count()
    });
    assert_eq!(winners, 1);
}

fn session_rows_keep_remember_me_false(t: &TestApp) {
    let s = t.storage();
    seed(s, "u1", "ada@example.com");
    let short = Session {
        id: "s1".into(),
        token: "tok-short".into(),
        user_id: "u1".into(),
        expires_at: T0 + Duration::days(1),
        created_at: T0,
        updated_at: T0,
        ip_address: None,
        user_agent: None,
        dont_remember_me: true,
        impersonated_by: None,
    };
    s.create_session(&short).unwrap();
    assert_eq!(s.find_session_with_user("tok-short").unwrap().unwrap().0, short);
    let refreshed = s
        .refresh_session("tok-short", T0 + Duration::days(2), T0)
        .unwrap()
        .unwrap();
    assert!(refreshed.dont_remember_me);
    assert!(s.list_user_sessions("u1").unwrap()[0].dont_remember_me);
}

crate::suite!(
    reset_tokens_end_with_a_password_change,
    a_reset_ends_the_users_other_reset_tokens,
    reset_tokens_end_with_an_email_change,
    single_use_marks_are_claimed_once,
    session_rows_keep_remember_me_false,
);
