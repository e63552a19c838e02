//! Randomness, HMAC signatures and constant-time comparison: the only crypto primitives
//! Sesame's endpoints use directly. Everything comes from well-kept crates (rand's OS-seeded
//! CSPRNG, RustCrypto's hmac/sha2, subtle).

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use subtle::ConstantTimeEq;

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `len` characters from `[A-Za-z0-9]`, uniformly drawn from a CSPRNG (Better Auth's
/// `generateId`): session tokens and row ids.
pub fn random_string(len: usize) -> String {
    random_from(ALPHANUMERIC, len)
}

/// `len` characters from the given alphabet, uniformly (rand's ranges reject-sample).
pub fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| {
            let i = rng.gen_range(0..alphabet.len());
            alphabet.get(i).copied().map(char::from).unwrap_or('A')
        })
        .collect()
}

/// A new 32-character id, the format of every row id and session token.
pub fn new_id() -> String {
    random_string(32)
}

/// `base64(HMAC-SHA256(key, msg))` with padding: 44 characters ending in `=` (spec §4.3).
pub fn hmac_base64(key: &str, msg: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(hmac_sha256(key.as_bytes(), msg.as_bytes()))
}

pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0; 32],
    };
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// Constant-time equality for tokens and signatures: the time taken does not depend on where
/// the inputs first differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_string_is_alphanumeric() {
        let s = random_string(32);
        assert_eq!(s.len(), 32);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(random_string(32), s);
    }

    #[test]
    fn hmac_is_44_chars_padded() {
        let sig = hmac_base64("secret", "token");
        assert_eq!(sig.len(), 44);
        assert!(sig.ends_with('='));
    }

    #[test]
    fn constant_time_eq_works() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
