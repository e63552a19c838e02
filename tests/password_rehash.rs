//! `SESAME_REHASH_ON_SIGN_IN`: a successful sign-in moves the stored hash to the configured
//! scheme; off (the default), hashes are left as they are.

use sesame::auth::password;
use sesame::config::PasswordHash;
use sesame::storage::models::{Account, User};

use crate::support::{Backend, TestApp, PASSWORD};

/// A user whose credential account holds a bcrypt (cost 4) hash of [`PASSWORD`].
fn seed_bcrypt_user(t: &TestApp) -> String {
    let now = t.app.clock.now();
    let user = User {
        id: "rehash-user".into(),
        name: "R".into(),
        email: "rehash@example.com".into(),
        email_verified: false,
        image: None,
        created_at: now,
        updated_at: now,
        username: None,
        display_username: None,
        two_factor_enabled: None,
        admin: Default::default(),
        is_anonymous: false,
    };
    let hash = password::hash(PASSWORD, PasswordHash::Bcrypt, 4).unwrap();
    t.storage()
        .create_user_with_account(&user, &Account::credential(&user.id, hash, now))
        .unwrap();
    user.id
}

fn stored_hash(t: &TestApp, user_id: &str) -> String {
    t.storage()
        .find_credential_account(user_id)
        .unwrap()
        .unwrap()
        .password
        .unwrap()
}

fn rehash_on(backend: Backend) {
    let Some(t) = TestApp::try_with_config(backend, |c| {
        c.rehash_on_sign_in = true;
        c.password_hash = PasswordHash::Scrypt;
    }) else {
        return;
    };
    let id = seed_bcrypt_user(&t);
    assert_eq!(t.sign_in("rehash@example.com", "wrong-password-1").status, 401);
    assert!(
        stored_hash(&t, &id).starts_with("$2"),
        "a failed sign-in changes nothing"
    );
    assert_eq!(t.sign_in("rehash@example.com", PASSWORD).status, 200);
    let new = stored_hash(&t, &id);
    assert!(
        !new.starts_with("$2") && password::verify(PASSWORD, &new),
        "now scrypt: {new}"
    );
    assert_eq!(t.sign_in("rehash@example.com", PASSWORD).status, 200);
    assert_eq!(
        stored_hash(&t, &id),
        new,
        "already in the configured scheme: left alone"
    );
}

fn rehash_off(backend: Backend) {
    let Some(t) = TestApp::try_with_config(backend, |c| c.password_hash = PasswordHash::Scrypt) else {
        return;
    };
    let id = seed_bcrypt_user(&t);
    let before = stored_hash(&t, &id);
    assert_eq!(t.sign_in("rehash@example.com", PASSWORD).status, 200);
    assert_eq!(stored_hash(&t, &id), before);
}

#[test]
fn rehash_on_memory() {
    rehash_on(Backend::Memory);
}

#[test]
fn rehash_on_postgres() {
    rehash_on(Backend::Postgres);
}

#[test]
fn rehash_off_by_default() {
    rehash_off(Backend::Memory);
    rehash_off(Backend::Postgres);
}
