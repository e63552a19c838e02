//! TOTP (RFC 6238) as Better Auth's `twoFactor` plugin uses it: SHA-1, 6 digits, 30-second
//! steps, one step of skew either way. Codes come from the `totp-rs` crate; Sesame compares
//! them in constant time and tells which step matched, so that a used code can be refused
//! when it comes again (Better Auth accepts it again within its window).
//!
//! The secret is what Better Auth generates: 32 random characters of `[A-Za-z0-9_-]`, used as
//! UTF-8 bytes; a secret imported from elsewhere is stored as `base32:<secret>`.

use anyhow::Context;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::crypto::constant_time_eq;
use crate::http::js::encode_uri_component;

pub const DIGITS: usize = 6;
pub const PERIOD: u64 = 30;
/// Steps accepted either side of the current one (Better Auth's `window`).
const SKEW: i64 = 1;

const SECRET_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_";
const BASE32_PREFIX: &str = "base32:";

/// A new secret, as Better Auth's `generateRandomString(32)`.
pub fn new_secret() -> String {
    crate::crypto::random_from(SECRET_ALPHABET, 32)
}

/// The key bytes of a decrypted secret.
pub fn key(secret: &str) -> anyhow::Result<Vec<u8>> {
    match secret.strip_prefix(BASE32_PREFIX) {
        Some(encoded) => Secret::Encoded(encoded.to_uppercase())
            .to_bytes()
            .ok()
            .context("a base32: TOTP secret does not decode"),
        None => Ok(secret.as_bytes().to_vec()),
    }
}

fn totp(key: &[u8]) -> TOTP {
    // Unchecked: Better Auth accepts imported secrets shorter than RFC 4226's 128 bits.
    TOTP::new_unchecked(Algorithm::SHA1, DIGITS, 0, PERIOD, key.to_vec())
}

/// The code of the step containing `unix_secs`.
pub fn code_at(key: &[u8], unix_secs: u64) -> String {
    totp(key).generate(unix_secs)
}

/// The time step (`unix_secs / 30`) whose code `code` is, within one step of `unix_secs`.
/// Every candidate is compared, in constant time, whatever matched first.
pub fn matching_step(key: &[u8], code: &str, unix_secs: u64) -> Option<u64> {
    let totp = totp(key);
    let now = (unix_secs / PERIOD) as i64;
    let mut found = None;
    for step in (now - SKEW)..=(now + SKEW) {
        let Ok(step) = u64::try_from(step) else { continue };
        let expected = totp.generate(step * PERIOD);
        if constant_time_eq(code.as_bytes(), expected.as_bytes()) {
            found = Some(step);
        }
    }
    found
}

/// The `otpauth://` URI an authenticator app scans, spelled as Better Auth's `createOTP().url`:
/// the label's parts in `encodeURIComponent`, the query form-encoded, the secret in unpadded
/// base32.
pub fn uri(key: &[u8], issuer: &str, account: &str) -> String {
    let form = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let secret = Secret::Raw(key.to_vec()).to_encoded().to_string();
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&digits={DIGITS}&period={PERIOD}",
        encode_uri_component(issuer),
        encode_uri_component(account),
        secret.trim_end_matches('='),
        form(issuer),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 vectors (8 digits there; the last 6 here).
    #[test]
    fn rfc_6238_vectors() {
        let key = b"12345678901234567890";
        for (t, code) in [(59, "287082"), (1_111_111_109, "081804"), (2_000_000_000, "279037")] {
            assert_eq!(code_at(key, t), code, "t={t}");
        }
    }

    #[test]
    fn one_step_of_skew_and_no_more() {
        let key = b"uTmfSFGltPE3X6jPiTgfOV-CSl8T4EO_";
        let t = 1_800_000_000;
        let step = t / PERIOD;
        assert_eq!(matching_step(key, &code_at(key, t), t), Some(step));
        assert_eq!(matching_step(key, &code_at(key, t - 30), t), Some(step - 1));
        assert_eq!(matching_step(key, &code_at(key, t + 30), t), Some(step + 1));
        assert_eq!(matching_step(key, &code_at(key, t - 60), t), None);
        assert_eq!(matching_step(key, &code_at(key, t + 60), t), None);
        assert_eq!(matching_step(key, "", t), None);
        assert_eq!(matching_step(key, "12345", t), None);
    }

    /// The URI Better Auth 1.7.25 answered for this secret (recorded from the reference).
    #[test]
    fn uri_matches_better_auth() {
        let key = key("uTmfSFGltPE3X6jPiTgfOV-CSl8T4EO_").unwrap();
        assert_eq!(
            uri(&key, "better-auth-reference", "ada@example.com"),
            "otpauth://totp/better-auth-reference:ada%40example.com?secret=OVKG2ZSTIZDWY5CQIUZVQNTKKBUVIZ3GJ5LC2Q2TNQ4FINCFJ5PQ&issuer=better-auth-reference&digits=6&period=30"
        );
        assert!(uri(&key, "My App", "a@b.c").starts_with("otpauth://totp/My%20App:a%40b.c?secret="));
        assert!(uri(&key, "My App", "a@b.c").contains("&issuer=My+App&"));
    }

    #[test]
    fn imported_base32_secrets() {
        assert_eq!(key("base32:gezdgnbv").unwrap(), b"12345");
        assert!(key("base32:!!").is_err());
        assert_eq!(new_secret().len(), 32);
    }
}
