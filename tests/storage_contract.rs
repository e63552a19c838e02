//! The storage contract (`src/storage/mod.rs`): the same stories on every backend, through
//! the `Storage` trait only. A backend passes when it behaves exactly as the others do.

use std::sync::{Arc, Barrier};

use sesame::storage::models::{Account, Session, User, UserUpdate, Verification};
use sesame::storage::{ResetOutcome, SessionChange, Storage, StorageError};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::support::TestApp;

pub(crate) const T0: OffsetDateTime = datetime!(2026-11-26 12:00:00.123 UTC);

pub(crate) fn user(id: &str, email: &str) -> User {
    User {
        id: id.to_string(),
        name: format!("User {id}"),
        email: email.to_string(),
        email_verified: false,
        image: Some("https://img.example/a.png".into()),
        created_at: T0,
        updated_at: T0,
        username: None,
        display_username: None,
        two_factor_enabled: None,
        admin: Default::default(),
        is_anonymous: false,
    }
}

pub(crate) fn session(user_id: &str, token: &str, created: OffsetDateTime) -> Session {
    Session {
        id: format!("sid-{token}"),
        token: token.to_string(),
        user_id: user_id.to_string(),
        expires_at: created + Duration::days(7),
        created_at: created,
        updated_at: created,
        ip_address: Some(String::new()),
        user_agent: None,
        dont_remember_me: false,
        impersonated_by: None,
    }
}

pub(crate) fn oauth(id: &str, user_id: &str, issuer: &str, account_id: &str) -> Account {
    Account {
        id: id.to_string(),
        issuer: issuer.to_string(),
        account_id: account_id.to_string(),
        provider_id: "github".to_string(),
        user_id: user_id.to_string(),
        access_token: Some("at".into()),
        refresh_token: None,
        id_token: None,
        access_token_expires_at: Some(T0 + Duration::hours(1)),
        refresh_token_expires_at: None,
        scope: Some("read:user,user:email".into()),
        password: None,
        created_at: T0 + Duration::seconds(1),
        updated_at: T0 + Duration::seconds(1),
    }
}

pub(crate) fn verification(id: &str, identifier: &str, value: &str, created: OffsetDateTime) -> Verification {
    Verification {
        id: id.to_string(),
        identifier: identifier.to_string(),
        value: value.to_string(),
        expires_at: created + Duration::hours(1),
        created_at: created,
        updated_at: created,
    }
}

/// Creates a user with a credential account whose password is `hash`.
pub(crate) fn seed(s: &dyn Storage, id: &str, email: &str, hash: &str) -> User {
    let u = user(id, email);
    s.create_user_with_account(&u, &Account::credential(id, hash.to_string(), T0))
        .unwrap();
    u
}

fn is_conflict(r: Result<impl std::fmt::Debug, StorageError>, what: &str) -> bool {
    matches!(r, Err(StorageError::Conflict(w)) if w == what)
}

fn users_and_unique_emails(t: &TestApp) {
    let s = t.storage();
    let ada = seed(s, "u1", "ada@example.com", "h1");
    assert_eq!(s.find_user_by_id("u1").unwrap(), Some(ada.clone()));
    assert_eq!(s.find_user_by_email("ada@example.com").unwrap(), Some(ada.clone()));
    // Storage matches exactly: callers lower-case before storing and before looking up.
    assert_eq!(s.find_user_by_email("ADA@example.com").unwrap(), None);
    assert_eq!(s.find_user_by_id("nope").unwrap(), None);

    let (u, account) = s.find_user_with_credential("ada@example.com").unwrap().unwrap();
    assert_eq!(u, ada);
    let account = account.unwrap();
    assert!(account.is_credential());
    assert_eq!(account.password.as_deref(), Some("h1"));
    assert_eq!(s.find_user_with_credential("bob@example.com").unwrap(), None);

    // Same email: refused, and nothing of the second user is left behind.
    let again = user("u2", "ada@example.com");
    let r = s.create_user_with_account(&again, &Account::credential("u2", "h2".into(), T0));
    assert!(is_conflict(r, "user.email"));
    assert_eq!(s.find_user_by_id("u2").unwrap(), None);
    assert_eq!(s.find_credential_account("u2").unwrap(), None);

    // A taken (issuer, accountId) refuses the whole sign-up, the user included.
    let bob = user("u3", "bob@example.com");
    let clash = Account {
        id: "a-clash".into(),
        ..Account::credential("u1", "h".into(), T0)
    };
    assert!(is_conflict(s.create_user_with_account(&bob, &clash), "account"));
    assert_eq!(s.find_user_by_email("bob@example.com").unwrap(), None);

    // A user without a credential account.
    let carol = user("u4", "carol@example.com");
    s.create_user_with_account(&carol, &oauth("a-gh", "u4", "local:oauth:github", "gh-4"))
        .unwrap();
    let (_, none) = s.find_user_with_credential("carol@example.com").unwrap().unwrap();
    assert_eq!(none, None);
}

fn user_updates(t: &TestApp) {
    let s = t.storage();
    seed(s, "u1", "ada@example.com", "h");
    seed(s, "u2", "bob@example.com", "h");
    let later = T0 + Duration::minutes(5);
    let up = UserUpdate {
        name: Some("Ada L".into()),
        image: Some(None),
        ..UserUpdate::default()
    };
    let u = s.update_user("u1", &up, later).unwrap().unwrap();
    assert_eq!((u.name.as_str(), u.image.clone(), u.updated_at), ("Ada L", None, later));
    assert_eq!(u.email, "ada@example.com");
    assert_eq!(s.find_user_by_id("u1").unwrap(), Some(u));

    let verified = UserUpdate {
        email: Some("ada2@example.com".into()),
        email_verified: Some(true),
        ..UserUpdate::default()
    };
    let u = s.update_user("u1", &verified, later).unwrap().unwrap();
    assert!(u.email_verified);
    assert_eq!(s.find_user_by_email("ada@example.com").unwrap(), None);
    assert_eq!(s.find_user_by_email("ada2@example.com").unwrap().unwrap().id, "u1");

    let taken = UserUpdate {
        email: Some("bob@example.com".into()),
        ..UserUpdate::default()
    };
    assert!(is_conflict(s.update_user("u1", &taken, later), "user.email"));
    assert_eq!(s.find_user_by_id("u1").unwrap().unwrap().email, "ada2@example.com");
    assert_eq!(s.update_user("ghost", &up, later).unwrap(), None);
}

fn sessions(t: &TestApp) {
    let s = t.storage();
    let ada = seed(s, "u1", "ada@example.com", "h");
    seed(s, "u2", "bob@example.com", "h");
    let first = session("u1", "tok-1", T0);
    let second = session("u1", "tok-2", T0 + Duration::seconds(2));
    let bobs = session("u2", "tok-b", T0);
    for x in [&second, &first, &bobs] {
        s.create_session(x).unwrap();
    }
    assert_eq!(
        s.find_session_with_user("tok-1").unwrap(),
        Some((first.clone(), ada.clone()))
    );
    assert_eq!(s.find_session_with_user("nope").unwrap(), None);
    assert!(is_conflict(
        s.create_session(&session("u2", "tok-1", T0)),
        "session.token"
    ));
    assert!(matches!(
        s.create_session(&session("ghost", "tok-g", T0)),
        Err(StorageError::Other(_))
    ));

    let tokens = |u: &str| -> Vec<String> { s.list_user_sessions(u).unwrap().into_iter().map(|x| x.token).collect() };
    assert_eq!(tokens("u1"), ["tok-1", "tok-2"], "ordered by createdAt");

    let (exp, now) = (T0 + Duration::days(8), T0 + Duration::days(1));
    let refreshed = s.refresh_session("tok-1", exp, now).unwrap().unwrap();
    assert_eq!(
        (refreshed.expires_at, refreshed.updated_at, refreshed.created_at),
        (exp, now, T0)
    );
    assert_eq!(s.find_session_with_user("tok-1").unwrap().unwrap().0, refreshed);
    assert_eq!(s.refresh_session("nope", exp, now).unwrap(), None);

    assert!(!s.delete_user_session("u2", "tok-1").unwrap(), "not bob's session");
    assert!(s.delete_user_session("u1", "tok-1").unwrap());
    assert_eq!(tokens("u1"), ["tok-2"]);
    s.delete_session("tok-2").unwrap();
    s.delete_session("tok-2").unwrap();
    assert!(tokens("u1").is_empty());

    for tok in ["k1", "k2", "k3"] {
        s.create_session(&session("u1", tok, T0)).unwrap();
    }
    s.delete_other_sessions("u1", "k2").unwrap();
    assert_eq!(tokens("u1"), ["k2"]);
    s.delete_user_sessions("u1").unwrap();
    assert!(tokens("u1").is_empty());
    assert_eq!(tokens("u2"), ["tok-b"], "other users' sessions stay");
}

fn accounts(t: &TestApp) {
    let s = t.storage();
    seed(s, "u1", "ada@example.com", "h");
    seed(s, "u2", "bob@example.com", "h");
    let gh = oauth("a1", "u1", "local:oauth:github", "123");
    s.create_account(&gh).unwrap();
    assert_eq!(
        s.find_account_by_issuer("local:oauth:github", "123").unwrap(),
        Some(gh.clone())
    );
    assert_eq!(s.find_account_by_issuer("local:oauth:github", "999").unwrap(), None);
    // (issuer, accountId) is unique across users; the same subject at another issuer is not.
    assert!(is_conflict(
        s.create_account(&oauth("a2", "u2", "local:oauth:github", "123")),
        "account"
    ));
    s.create_account(&oauth("a3", "u2", "https://accounts.google.com", "123"))
        .unwrap();
    assert!(matches!(
        s.create_account(&oauth("a4", "ghost", "x", "y")),
        Err(StorageError::Other(_))
    ));

    let list = s.list_user_accounts("u1").unwrap();
    assert_eq!(list.len(), 2);
    assert!(list[0].is_credential(), "credential first (older)");
    assert_eq!(list[1], gh);
    assert_eq!(
        s.find_credential_account("u1").unwrap().unwrap().password.as_deref(),
        Some("h")
    );

    let updated = Account {
        access_token: Some("at2".into()),
        refresh_token: Some("rt2".into()),
        scope: Some("read:user".into()),
        access_token_expires_at: None,
        updated_at: T0 + Duration::hours(2),
        ..gh.clone()
    };
    assert!(s.update_account(&updated).unwrap());
    assert_eq!(
        s.find_account_by_issuer("local:oauth:github", "123").unwrap(),
        Some(updated)
    );
    assert!(!s.update_account(&oauth("nope", "u1", "i", "a")).unwrap());

    assert!(!s.delete_account("u2", "a1").unwrap(), "not bob's account");
    assert!(s.delete_account("u1", "a1").unwrap());
    assert_eq!(s.list_user_accounts("u1").unwrap().len(), 1);
}

fn verifications_are_consumed_once(t: &TestApp) {
    let s = t.storage();
    s.create_verification(&verification("v1", "reset-password:abc", "u1", T0))
        .unwrap();
    s.create_verification(&verification(
        "v2",
        "reset-password:abc",
        "u2",
        T0 + Duration::seconds(1),
    ))
    .unwrap();
    s.create_verification(&verification("v3", "other", "x", T0)).unwrap();
    assert_eq!(
        s.find_verification("reset-password:abc").unwrap().unwrap().id,
        "v2",
        "newest wins"
    );
    assert_eq!(s.find_verification("missing").unwrap(), None);
    let taken = s.consume_verification("reset-password:abc").unwrap().unwrap();
    assert_eq!((taken.id.as_str(), taken.value.as_str()), ("v2", "u2"));
    assert_eq!(
        s.consume_verification("reset-password:abc").unwrap(),
        None,
        "all rows are gone"
    );
    assert_eq!(s.find_verification("reset-password:abc").unwrap(), None);
    assert!(s.find_verification("other").unwrap().is_some());

    // Of concurrent consumers, exactly one gets the row.
    s.create_verification(&verification("v4", "race", "u1", T0)).unwrap();
    let barrier = Arc::new(Barrier::new(8));
    let winners = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let b = barrier.clone();
                scope.spawn(move || {
                    b.wait();
                    s.consume_verification("race").unwrap().is_some()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).filter(|w| *w).count()
    });
    assert_eq!(winners, 1);
}

fn set_password_variants(t: &TestApp) {
    let s = t.storage();
    seed(s, "u1", "ada@example.com", "old");
    let now = T0 + Duration::hours(1);
    let tokens = || -> Vec<String> {
        s.list_user_sessions("u1")
            .unwrap()
            .into_iter()
            .map(|x| x.token)
            .collect()
    };
    s.create_session(&session("u1", "a", T0)).unwrap();
    s.create_session(&session("u1", "b", T0 + Duration::seconds(1)))
        .unwrap();

    s.set_password("u1", "new1", now, &SessionChange::Keep, false).unwrap();
    let acc = s.find_credential_account("u1").unwrap().unwrap();
    assert_eq!((acc.password.as_deref(), acc.updated_at), (Some("new1"), now));
    assert_eq!(s.list_user_accounts("u1").unwrap().len(), 1, "updated in place");
    assert_eq!(tokens(), ["a", "b"]);

    let fresh = session("u1", "c", now);
    s.set_password(
        "u1",
        "new2",
        now,
        &SessionChange::RevokeAllAndCreate(fresh.clone()),
        false,
    )
    .unwrap();
    assert_eq!(tokens(), ["c"]);
    assert_eq!(s.find_session_with_user("c").unwrap().unwrap().0, fresh);

    s.set_password("u1", "new3", now, &SessionChange::RevokeAll, false)
        .unwrap();
    assert!(tokens().is_empty());
    assert_eq!(
        s.find_credential_account("u1").unwrap().unwrap().password.as_deref(),
        Some("new3")
    );

    // A user without a credential account gets one.
    s.create_user_with_account(
        &user("u2", "bob@example.com"),
        &oauth("gh", "u2", "local:oauth:github", "7"),
    )
    .unwrap();
    s.set_password("u2", "bobs", now, &SessionChange::Keep, false).unwrap();
    let acc = s.find_credential_account("u2").unwrap().unwrap();
    assert!(acc.is_credential());
    assert_eq!(acc.password.as_deref(), Some("bobs"));
    assert_eq!(s.list_user_accounts("u2").unwrap().len(), 2);

    assert!(s.set_password("ghost", "x", now, &SessionChange::Keep, false).is_err());
    assert_eq!(s.find_credential_account("ghost").unwrap(), None);
}

fn reset_password_outcomes(t: &TestApp) {
    let s = t.storage();
    seed(s, "u1", "ada@example.com", "old");
    // A verified address: what a reset does to an unverified one is `storage_address.rs`'s story.
    let verified = UserUpdate {
        email_verified: Some(true),
        ..UserUpdate::default()
    };
    s.update_user("u1", &verified, T0).unwrap();
    s.create_session(&session("u1", "a", T0)).unwrap();
    let now = T0 + Duration::minutes(10);
    let id = |tok: &str| format!("reset-password:{tok}");

    assert_eq!(
        s.reset_password(&id("none"), now, "h", true).unwrap(),
        ResetOutcome::InvalidToken
    );

    let mut expired = verification("v1", &id("old"), "u1", T0 - Duration::hours(2));
    expired.expires_at = now;
    s.create_verification(&expired).unwrap();
    assert_eq!(
        s.reset_password(&id("old"), now, "h", true).unwrap(),
        ResetOutcome::InvalidToken
    );
    assert_eq!(
        s.find_verification(&id("old")).unwrap(),
        None,
        "expired rows are consumed too"
    );

    s.create_verification(&verification("v2", &id("ghost"), "ghost", T0))
        .unwrap();
    assert_eq!(
        s.reset_password(&id("ghost"), now, "h", true).unwrap(),
        ResetOutcome::UserNotFound
    );
    assert_eq!(s.find_verification(&id("ghost")).unwrap(), None);

    s.create_verification(&verification("v3", &id("keep"), "u1", T0))
        .unwrap();
    assert_eq!(
        s.reset_password(&id("keep"), now, "h-keep", false).unwrap(),
        ResetOutcome::Done("u1".into())
    );
    assert_eq!(
        s.find_credential_account("u1").unwrap().unwrap().password.as_deref(),
        Some("h-keep")
    );
    assert_eq!(s.list_user_sessions("u1").unwrap().len(), 1, "sessions kept");
    assert_eq!(
        s.reset_password(&id("keep"), now, "again", false).unwrap(),
        ResetOutcome::InvalidToken
    );

    s.create_verification(&verification("v4", &id("revoke"), "u1", T0))
        .unwrap();
    assert_eq!(
        s.reset_password(&id("revoke"), now, "h-revoke", true).unwrap(),
        ResetOutcome::Done("u1".into())
    );
    assert!(s.list_user_sessions("u1").unwrap().is_empty(), "sessions revoked");
    assert_eq!(
        s.find_credential_account("u1").unwrap().unwrap().password.as_deref(),
        Some("h-revoke")
    );
}

fn delete_user_cascades(t: &TestApp) {
    let s = t.storage();
    seed(s, "u1", "ada@example.com", "h");
    seed(s, "u2", "bob@example.com", "h");
    s.create_account(&oauth("gh", "u1", "local:oauth:github", "1")).unwrap();
    s.create_session(&session("u1", "a", T0)).unwrap();
    s.create_session(&session("u2", "b", T0)).unwrap();
    s.create_verification(&verification("v1", "delete-account-x", "u1", T0))
        .unwrap();
    s.create_verification(&verification("v2", "reset-password:y", "u2", T0))
        .unwrap();

    assert!(s.delete_user("u1").unwrap());
    assert_eq!(s.find_user_by_id("u1").unwrap(), None);
    assert_eq!(s.find_user_by_email("ada@example.com").unwrap(), None);
    assert!(s.list_user_sessions("u1").unwrap().is_empty());
    assert!(s.list_user_accounts("u1").unwrap().is_empty());
    assert_eq!(s.find_account_by_issuer("local:oauth:github", "1").unwrap(), None);
    assert_eq!(s.find_verification("delete-account-x").unwrap(), None);
    // Everything of the other user stays.
    assert!(s.find_verification("reset-password:y").unwrap().is_some());
    assert_eq!(s.list_user_sessions("u2").unwrap().len(), 1);
    assert!(!s.delete_user("u1").unwrap());
    // The email is free again.
    seed(s, "u3", "ada@example.com", "h");
}

fn usernames_are_unique_and_found_with_the_credential(t: &TestApp) {
    let s = t.storage();
    let mut a = user("u1", "a@example.com");
    a.username = Some("ada".into());
    a.display_username = Some("Ada".into());
    s.create_user_with_account(&a, &Account::credential("u1", "h1".into(), T0))
        .unwrap();
    let (found, account) = s.find_user_with_credential_by_username("ada").unwrap().unwrap();
    assert_eq!(found, a);
    assert_eq!(account.unwrap().password.as_deref(), Some("h1"));
    assert_eq!(s.find_user_with_credential_by_username("nobody").unwrap(), None);

    let mut b = user("u2", "b@example.com");
    b.username = Some("ada".into());
    assert!(is_conflict(
        s.create_user_with_account(&b, &Account::credential("u2", "h".into(), T0)),
        "user.username"
    ));
    assert_eq!(
        s.find_user_by_email("b@example.com").unwrap(),
        None,
        "a refused sign-up leaves nothing behind"
    );
    b.username = Some("bob".into());
    s.create_user_with_account(&b, &Account::credential("u2", "h".into(), T0))
        .unwrap();

    let taken = UserUpdate {
        username: Some("ada".into()),
        ..UserUpdate::default()
    };
    assert!(is_conflict(s.update_user("u2", &taken, T0), "user.username"));
    let rename = UserUpdate {
        username: Some("bobby".into()),
        display_username: Some("Bobby".into()),
        ..UserUpdate::default()
    };
    let updated = s.update_user("u2", &rename, T0).unwrap().unwrap();
    assert_eq!(
        (updated.username.as_deref(), updated.display_username.as_deref()),
        (Some("bobby"), Some("Bobby"))
    );
    assert_eq!(
        s.find_user_with_credential_by_username("bob").unwrap(),
        None,
        "the old name is free"
    );
    assert!(s.delete_user("u1").unwrap());
    assert_eq!(s.find_user_with_credential_by_username("ada").unwrap(), None);
}

crate::suite!(
    usernames_are_unique_and_found_with_the_credential,
    users_and_unique_emails,
    user_updates,
    sessions,
    accounts,
    verifications_are_consumed_once,
    set_password_variants,
    reset_password_outcomes,
    delete_user_cascades,
);
