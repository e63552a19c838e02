//! The storage contract of proving an address, on every backend: `verify_address`,
//! `revoke_unproven_account_access` and the proof a password reset carries
//! (`src/storage/mod.rs`). Provider accounts linked while the address was unverified are
//! dropped (every account, for `revoke_unproven_account_access`), the address becomes
//! verified, sessions are revoked;
//! a verified address is left alone.

use sesame::storage::models::{Account, UserUpdate};
use sesame::storage::{ResetOutcome, Storage};
use time::Duration;

use crate::storage_contract::{oauth, seed, session, user, verification, T0};
use crate::support::TestApp;

fn providers(s: &dyn Storage, user_id: &str) -> Vec<String> {
    let mut p: Vec<String> = s
        .list_user_accounts(user_id)
        .unwrap()
        .into_iter()
        .map(|a| a.provider_id)
        .collect();
    p.sort();
    p
}

fn tokens(s: &dyn Storage, user_id: &str) -> Vec<String> {
    let mut t: Vec<String> = s
        .list_user_sessions(user_id)
        .unwrap()
        .into_iter()
        .map(|s| s.token)
        .collect();
    t.sort();
    t
}

fn verifying_an_address_drops_provider_accounts_and_sessions(t: &TestApp) {
    let s = t.storage();
    let now = T0 + Duration::minutes(5);
    // Unverified, with a provider account and a credential account, and two sessions.
    seed(s, "u1", "ada@example.com", "hash");
    s.create_account(&oauth("gh1", "u1", "local:oauth:github", "1"))
        .unwrap();
    s.create_session(&session("u1", "a", T0)).unwrap();
    s.create_session(&session("u1", "b", T0)).unwrap();
    // Someone else's account and session are untouched.
    seed(s, "u2", "bob@example.com", "hash");
    s.create_account(&oauth("gh2", "u2", "local:oauth:github", "2"))
        .unwrap();
    s.create_session(&session("u2", "c", T0)).unwrap();

    let done = s.verify_address("u1", now).unwrap().unwrap();
    assert_eq!(done.removed_accounts, 1);
    assert!(done.user.email_verified);
    assert_eq!(done.user.updated_at, now);
    assert!(s.find_user_by_id("u1").unwrap().unwrap().email_verified);
    assert_eq!(providers(s, "u1"), ["credential"]);
    assert!(tokens(s, "u1").is_empty());
    assert_eq!(providers(s, "u2"), ["credential", "github"]);
    assert_eq!(tokens(s, "u2"), ["c"]);

    // Verified now: a second proof changes nothing.
    s.create_account(&oauth("gh3", "u1", "local:oauth:github", "3"))
        .unwrap();
    s.create_session(&session("u1", "d", T0)).unwrap();
    let again = s.verify_address("u1", now).unwrap().unwrap();
    assert_eq!(again.removed_accounts, 0);
    assert_eq!(providers(s, "u1"), ["credential", "github"]);
    assert_eq!(tokens(s, "u1"), ["d"]);
    assert!(s.verify_address("ghost", now).unwrap().is_none());
}

fn verifying_an_address_without_provider_accounts_keeps_sessions(t: &TestApp) {
    let s = t.storage();
    seed(s, "u1", "ada@example.com", "hash");
    s.create_session(&session("u1", "a", T0)).unwrap();
    s.create_session(&session("u1", "b", T0)).unwrap();
    let done = s.verify_address("u1", T0).unwrap().unwrap();
    assert_eq!(done.removed_accounts, 0);
    assert!(done.user.email_verified);
    assert_eq!(tokens(s, "u1"), ["a", "b"]);
}

fn resetting_an_unverified_address_drops_provider_accounts_and_every_session(t: &TestApp) {
    let s = t.storage();
    let now = T0 + Duration::minutes(5);
    // Created by a provider sign-in: no credential account yet.
    s.create_user_with_account(
        &user("u1", "ada@example.com"),
        &oauth("gh1", "u1", "local:oauth:github", "1"),
    )
    .unwrap();
    s.create_session(&session("u1", "a", T0)).unwrap();
    s.create_verification(&verification("v1", "reset-password:t1", "u1", T0))
        .unwrap();
    assert_eq!(
        s.reset_password("reset-password:t1", now, "new-hash", false).unwrap(),
        ResetOutcome::Done("u1".into())
    );
    assert_eq!(providers(s, "u1"), ["credential"]);
    assert!(tokens(s, "u1").is_empty());
    let user = s.find_user_by_id("u1").unwrap().unwrap();
    assert!(user.email_verified);
    let credential: Account = s.find_credential_account("u1").unwrap().unwrap();
    assert_eq!(credential.password.as_deref(), Some("new-hash"));

    // A verified address keeps its provider accounts, and its sessions unless asked.
    s.create_account(&oauth("gh2", "u1", "local:oauth:github", "2"))
        .unwrap();
    s.create_session(&session("u1", "b", T0)).unwrap();
    s.create_verification(&verification("v2", "reset-password:t2", "u1", T0))
        .unwrap();
    s.reset_password("reset-password:t2", now, "newer-hash", false).unwrap();
    assert_eq!(providers(s, "u1"), ["credential", "github"]);
    assert_eq!(tokens(s, "u1"), ["b"]);
    let unchanged = UserUpdate::default();
    assert!(s.update_user("u1", &unchanged, now).unwrap().unwrap().email_verified);
}

/// Better Auth's `revokeUnprovenAccountAccess` (a magic link or emailed code signs the owner in):
/// every account goes, the credential one too, with every session.
fn revoking_unproven_access_drops_every_account_and_session(t: &TestApp) {
    let s = t.storage();
    let now = T0 + Duration::minutes(5);
    seed(s, "u1", "ada@example.com", "hash");
    s.create_account(&oauth("gh1", "u1", "local:oauth:github", "1"))
        .unwrap();
    s.create_session(&session("u1", "a", T0)).unwrap();
    seed(s, "u2", "bob@example.com", "hash");
    s.create_session(&session("u2", "c", T0)).unwrap();

    let user = s.revoke_unproven_account_access("u1", now).unwrap().unwrap();
    assert!(user.email_verified);
    assert_eq!(user.updated_at, now);
    assert!(providers(s, "u1").is_empty());
    assert!(tokens(s, "u1").is_empty());
    assert!(s.find_user_by_id("u1").unwrap().unwrap().email_verified);
    assert_eq!(providers(s, "u2"), ["credential"]);
    assert_eq!(tokens(s, "u2"), ["c"]);

    // Verified now: nothing more goes.
    s.create_account(&oauth("gh2", "u1", "local:oauth:github", "2"))
        .unwrap();
    s.create_session(&session("u1", "b", T0)).unwrap();
    let again = s
        .revoke_unproven_account_access("u1", now + Duration::minutes(1))
        .unwrap()
        .unwrap();
    assert_eq!(again.updated_at, now);
    assert_eq!(providers(s, "u1"), ["github"]);
    assert_eq!(tokens(s, "u1"), ["b"]);
    assert!(s.revoke_unproven_account_access("ghost", now).unwrap().is_none());
}

crate::suite!(
    revoking_unproven_access_drops_every_account_and_session,
    verifying_an_address_drops_provider_accounts_and_sessions,
    verifying_an_address_without_provider_accounts_keeps_sessions,
    resetting_an_unverified_address_drops_provider_accounts_and_every_session,
);
