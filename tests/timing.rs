//! Timing claims, measured: the secret comparison takes as long whichever byte differs, and a
//! sign-in for an unknown address costs as much as a wrong password (the dummy hash).
//!
//! Benchmark-style but load-tolerant: the two cases alternate (which one goes first flips
//! every round), so a busy neighbour slows both alike; the verdict compares medians of many
//! samples; and the bound is loose (within a factor of 2 or 3) where the regression it guards
//! against is a factor of a hundred or more. No bound is absolute wall-clock time.

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::json;
use sesame::config::PasswordHash;

use crate::support::{Backend, TestApp, PASSWORD};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Medians of `rounds` timings of `a` and of `b`, interleaved.
fn medians(rounds: usize, mut a: impl FnMut(), mut b: impl FnMut()) -> (Duration, Duration) {
    let (mut ta, mut tb) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    let time = |f: &mut dyn FnMut(), into: &mut Vec<Duration>| {
        let started = Instant::now();
        f();
        into.push(started.elapsed());
    };
    for round in 0..rounds {
        if round % 2 == 0 {
            time(&mut a, &mut ta);
            time(&mut b, &mut tb);
        } else {
            time(&mut b, &mut tb);
            time(&mut a, &mut ta);
        }
    }
    (median(ta), median(tb))
}

fn ratio(a: Duration, b: Duration) -> f64 {
    let (a, b) = (a.as_secs_f64().max(1e-9), b.as_secs_f64().max(1e-9));
    a.max(b) / a.min(b)
}

/// An early-exit comparison (`==`, memcmp) of 64 KiB answers a first-byte difference some
/// hundreds of times faster than a last-byte one; `constant_time_eq` (subtle's `ct_eq`) reads
/// every byte either way.
#[test]
fn constant_time_eq_takes_as_long_whichever_byte_differs() {
    let secret = vec![0x5au8; 64 * 1024];
    let mut first = secret.clone();
    first[0] ^= 1;
    let mut last = secret.clone();
    *last.last_mut().unwrap() ^= 1;
    let eq = sesame::crypto::constant_time_eq;
    assert!(eq(&secret, &secret.clone()));
    assert!(!eq(&secret, &first) && !eq(&secret, &last));
    let (t_first, t_last) = medians(
        101,
        || assert!(!eq(black_box(&secret), black_box(&first))),
        || assert!(!eq(black_box(&secret), black_box(&last))),
    );
    let r = ratio(t_first, t_last);
    println!("constant_time_eq, 64 KiB: first byte differs {t_first:?}, last byte {t_last:?} (ratio {r:.2})");
    assert!(r < 3.0, "first byte {t_first:?} vs last byte {t_last:?}");
}

/// Unknown address vs known address with a wrong password: both answer 401 after one password
/// hash (the unknown one against the dummy hash), so the time does not reveal who has an
/// account. Without the dummy hash the unknown case is a storage lookup, over a hundred times
/// faster than bcrypt cost 8 or scrypt.
fn sign_in_for_an_unknown_address_costs_as_much_as_a_wrong_password(scheme: PasswordHash, rounds: usize) {
    let t = TestApp::with_config(Backend::Memory, |c| {
        c.password_hash = scheme;
        c.bcrypt_cost = 6;
    });
    t.sign_up("timing@example.com");
    let sign_in = |email: &str, password: &str| {
        let resp = t.post("/sign-in/email", json!({"email": email, "password": password}));
        assert_eq!(resp.status, 401, "{email}");
    };
    let (unknown, wrong) = medians(
        rounds,
        || sign_in("nobody-here@example.com", PASSWORD),
        || sign_in("timing@example.com", "wrong-password-1"),
    );
    let r = ratio(unknown, wrong);
    println!("sign-in ({scheme:?}): unknown address {unknown:?}, wrong password {wrong:?} (ratio {r:.2})");
    assert!(r < 2.0, "unknown address {unknown:?} vs wrong password {wrong:?}");
    // The right password still signs in: the wrong one was wrong, not the hash unusable.
    assert_eq!(t.sign_in("timing@example.com", PASSWORD).status, 200);
}

#[test]
fn sign_in_timing_does_not_reveal_accounts_bcrypt() {
    sign_in_for_an_unknown_address_costs_as_much_as_a_wrong_password(PasswordHash::Bcrypt, 25);
}

#[test]
fn sign_in_timing_does_not_reveal_accounts_scrypt() {
    sign_in_for_an_unknown_address_costs_as_much_as_a_wrong_password(PasswordHash::Scrypt, 9);
}
