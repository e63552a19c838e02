//! Password hashing and the length policy.
//!
//! New hashes use bcrypt (default) or Better Auth's scrypt format; both are always verified,
//! chosen by the stored value's shape, so a Better Auth database can be taken over as is.
//!
//! bcrypt reads only the first 72 bytes of its input. Sesame never truncates silently: when
//! the NFKC-normalised password is longer than 72 bytes, bcrypt is given a pre-hash instead,
//! so every byte of a long password counts. The pre-hash is `0xFF "v2:"` followed by
//! base64(HMAC-SHA-256(a fixed domain-separation key, password)): `0xFF` never occurs in
//! UTF-8, so no typed password can be the pre-hash of another, and the keyed digest is not the
//! plain SHA-256 another system may have leaked. Passwords of 72 bytes or less are hashed
//! unchanged (a standard bcrypt hash), except those that look like the pre-hash of earlier
//! versions (below), which get the pre-hash too.
//!
//! Earlier versions pre-hashed to `"sesame-sha256:" + base64(SHA-256(password))`, a 58-byte
//! string that, typed as a password, verified as the long one. Hashes stored that way still
//! verify their long password (a second check, only for long passwords), and a typed string
//! of that shape is never given to bcrypt as is, so it no longer matches them.

use base64::Engine;
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

use crate::config::PasswordHash;
use crate::crypto;

/// bcrypt's input limit in bytes.
const BCRYPT_MAX_BYTES: usize = 72;
/// The current pre-hash's first bytes: `0xFF` is not UTF-8, so no password starts this way.
const PREHASH_MARKER: &[u8] = b"\xFFv2:";
const PREHASH_KEY: &[u8] = b"sesame bcrypt pre-hash v2";
/// Earlier versions' pre-hash prefix (unkeyed SHA-256).
const LEGACY_PREFIX: &str = "sesame-sha256:";

/// Length in UTF-16 code units, as Better Auth (JavaScript's `.length`) measures it.
pub fn length(password: &str) -> usize {
    password.encode_utf16().count()
}

/// What bcrypt is given for a normalised password.
fn bcrypt_input(normalized: &str) -> Vec<u8> {
    if normalized.len() <= BCRYPT_MAX_BYTES && !normalized.starts_with(LEGACY_PREFIX) {
        return normalized.as_bytes().to_vec();
    }
    let mac = crypto::hmac_sha256(PREHASH_KEY, normalized.as_bytes());
    let mut input = PREHASH_MARKER.to_vec();
    input.extend_from_slice(base64::engine::general_purpose::STANDARD.encode(mac).as_bytes());
    input
}

/// Earlier versions' bcrypt input for a password over 72 bytes.
fn legacy_bcrypt_input(normalized: &str) -> String {
    let digest = Sha256::digest(normalized.as_bytes());
    format!(
        "{LEGACY_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// Hashes a password with the configured scheme.
pub fn hash(password: &str, scheme: PasswordHash, bcrypt_cost: u32) -> anyhow::Result<String> {
    let normalized: String = password.nfkc().collect();
    match scheme {
        PasswordHash::Bcrypt => Ok(bcrypt::hash(bcrypt_input(&normalized), bcrypt_cost)?),
        PasswordHash::Scrypt => {
            let salt = hex(&rand::random::<[u8; 16]>());
            let key = scrypt_key(&normalized, &salt)?;
            Ok(format!("{salt}:{}", hex(&key)))
        }
    }
}

/// Verifies a password against a stored hash of either format. An unknown format verifies
/// nothing (and is logged by the caller's context as a failed sign-in, never a 500).
pub fn verify(password: &str, stored: &str) -> bool {
    let normalized: String = password.nfkc().collect();
    if stored.starts_with("$2") {
        if bcrypt::verify(bcrypt_input(&normalized), stored).unwrap_or(false) {
            return true;
        }
        // A long password hashed by an earlier version.
        return normalized.len() > BCRYPT_MAX_BYTES
            && bcrypt::verify(legacy_bcrypt_input(&normalized), stored).unwrap_or(false);
    }
    if let Some((salt, key_hex)) = stored.split_once(':') {
        if key_hex.len() == 128 && !key_hex.contains(':') {
            return match scrypt_key(&normalized, salt) {
                Ok(key) => crypto::constant_time_eq(hex(&key).as_bytes(), key_hex.to_ascii_lowercase().as_bytes()),
                Err(_) => false,
            };
        }
    }
    false
}

/// Whether a stored hash is in another scheme than the configured one (or is bcrypt with
/// another cost), so that `SESAME_REHASH_ON_SIGN_IN` should replace it.
pub fn needs_rehash(stored: &str, scheme: PasswordHash, bcrypt_cost: u32) -> bool {
    match scheme {
        PasswordHash::Bcrypt => {
            // `$2b$10$…`: the cost is the second field.
            let cost = stored.strip_prefix("$2").and_then(|r| r.split('$').nth(1));
            cost.and_then(|c| c.parse::<u32>().ok()) != Some(bcrypt_cost)
        }
        PasswordHash::Scrypt => stored.starts_with("$2"),
    }
}

/// Better Auth's scrypt: N=16384, r=16, p=1, 64-byte key, the hex salt used as UTF-8 text.
fn scrypt_key(normalized: &str, salt: &str) -> anyhow::Result<[u8; 64]> {
    let params = scrypt::Params::new(14, 16, 1, 64).map_err(|e| anyhow::anyhow!("scrypt params: {e}"))?;
    let mut out = [0u8; 64];
    scrypt::scrypt(normalized.as_bytes(), salt.as_bytes(), &params, &mut out)
        .map_err(|e| anyhow::anyhow!("scrypt: {e}"))?;
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A hash of a random password in the configured scheme, verified against when the user is
/// unknown so that "no such user" costs the same time as "wrong password".
pub fn dummy_hash(scheme: PasswordHash, bcrypt_cost: u32) -> anyhow::Result<String> {
    hash(&crypto::random_string(24), scheme, bcrypt_cost)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_counts_utf16_code_units_as_javascript_does() {
        assert_eq!(length(""), 0);
        assert_eq!(length("abc"), 3);
        // é is one unit; U+1D11E (𝄞) is a surrogate pair: two, as JavaScript's `.length`.
        assert_eq!(length("\u{e9}\u{1D11E}"), 3);
    }

    /// The dummy hash costs what a real one costs: a full hash in the configured scheme and
    /// cost, which no password verifies.
    #[test]
    fn the_dummy_hash_is_a_real_hash_of_the_configured_scheme() {
        let bcrypt = dummy_hash(PasswordHash::Bcrypt, 5).unwrap();
        assert!(bcrypt.starts_with("$2b$05$") && bcrypt.len() == 60, "{bcrypt}");
        let scrypt = dummy_hash(PasswordHash::Scrypt, 5).unwrap();
        let (salt, key) = scrypt.split_once(':').unwrap();
        assert_eq!((salt.len(), key.len()), (32, 128), "{scrypt}");
        assert!(!verify("", &bcrypt) && !verify("", &scrypt));
        assert_ne!(
            dummy_hash(PasswordHash::Bcrypt, 4).unwrap(),
            dummy_hash(PasswordHash::Bcrypt, 4).unwrap()
        );
    }

    #[test]
    fn bcrypt_round_trip_and_nfkc() {
        let h = hash("pa\u{FB01}ssword", PasswordHash::Bcrypt, 4).unwrap();
        assert!(h.starts_with("$2"));
        assert!(verify("pa\u{FB01}ssword", &h));
        // U+FB01 (ﬁ) normalises to "fi" under NFKC.
        assert!(verify("pafissword", &h));
        assert!(!verify("password", &h));
    }

    #[test]
    fn passwords_differing_after_byte_72_do_not_both_verify() {
        let base = "a".repeat(72);
        let one = format!("{base}-one");
        let two = format!("{base}-two");
        let h = hash(&one, PasswordHash::Bcrypt, 4).unwrap();
        assert!(verify(&one, &h));
        assert!(!verify(&two, &h));
        assert!(!verify(&base, &h));
    }

    #[test]
    fn no_typed_password_is_a_pre_hash() {
        let long = "b".repeat(100);
        let h = hash(&long, PasswordHash::Bcrypt, 4).unwrap();
        assert!(verify(&long, &h));
        assert!(!verify(&legacy_bcrypt_input(&long), &h));
        // Hashes of earlier versions: the long password verifies, its typed pre-hash does not.
        let legacy = bcrypt::hash(legacy_bcrypt_input(&long), 4).unwrap();
        assert!(verify(&long, &legacy));
        assert!(!verify(&legacy_bcrypt_input(&long), &legacy));
        // Something shaped like the old pre-hash is still an ordinary password.
        let odd = "sesame-sha256:looks-odd";
        let h = hash(odd, PasswordHash::Bcrypt, 4).unwrap();
        assert!(verify(odd, &h));
        assert!(!verify("sesame-sha256:", &h));
    }

    #[test]
    fn verifies_better_auth_scrypt_hash() {
        // Made by Better Auth 1.7.25's `hashPassword` (better-auth/crypto) for these passwords;
        // the second is NFKC-normalised first, as Better Auth does.
        let stored = "309f6bf932a86dc381ac37569703e859:5947265daecbec98a7b4fa0e50daf8e159e53116802a28b28c8a98fbc197da97b974280c1086a3d837036e5bd9108101f85f50f959bc24147dfd0f6498c16a79";
        assert!(verify("correct horse battery staple", stored));
        assert!(!verify("correct horse battery stapler", stored));
        assert!(!verify("", stored));
        let unicode = "38354297618d257435103c9f8e6fb89b:77b9c4fca6629be893109ec69b72fe006ee4d736a40800267a067f07276987e10612ecb9c66ed7c05411ecdc42f9f0dbd9d99268f2cce6c37e6002b5b787a13f";
        assert!(verify("\u{c5}ngstr\u{f6}m \u{fb01}x \u{1f511}", unicode));
        assert!(verify("A\u{30a}ngstro\u{308}m fix \u{1f511}", unicode));
        assert!(!verify("Angstrom fix \u{1f511}", unicode));
        let ours = hash("password123", PasswordHash::Scrypt, 4).unwrap();
        assert!(verify("password123", &ours));
        assert!(!verify("password124", &ours));
        assert_eq!(ours.len(), 161);
    }

    #[test]
    fn rehash_when_scheme_or_cost_differs() {
        let b4 = hash("pw-12345678", PasswordHash::Bcrypt, 4).unwrap();
        let s = hash("pw-12345678", PasswordHash::Scrypt, 4).unwrap();
        assert!(!needs_rehash(&b4, PasswordHash::Bcrypt, 4));
        assert!(needs_rehash(&b4, PasswordHash::Bcrypt, 10));
        assert!(needs_rehash(&b4, PasswordHash::Scrypt, 4));
        assert!(!needs_rehash(&s, PasswordHash::Scrypt, 4));
        assert!(needs_rehash(&s, PasswordHash::Bcrypt, 4));
    }

    #[test]
    fn unknown_format_verifies_nothing() {
        assert!(!verify("x", "plain"));
        assert!(!verify("x", "a:b:c"));
    }
}
