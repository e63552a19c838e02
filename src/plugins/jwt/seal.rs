//! Encryption of private keys at rest, in Better Auth's `symmetricEncrypt` format so that a
//! `jwks` table is readable by both Sesame and Better Auth with the same secret:
//!
//! - key = SHA-256(secret as UTF-8), 32 bytes;
//! - cipher = XChaCha20-Poly1305 (RustCrypto `chacha20poly1305`), a fresh random 24-byte
//!   nonce per encryption, no associated data;
//! - stored text = JSON string of the lower-case hex of `nonce ‖ ciphertext ‖ 16-byte tag`
//!   (`"\"8f45…\""`), the plaintext being the private JWK's JSON.
//!
//! Better Auth's `$ba$<version>$…` envelope (used with `BETTER_AUTH_SECRETS` rotation) is
//! recognised only to say that it is not supported.

use anyhow::{bail, Context};

use crate::crypto::{symmetric_decrypt, symmetric_encrypt};

/// Encrypts `plaintext` and returns the column text.
pub fn seal(secret: &str, plaintext: &str) -> anyhow::Result<String> {
    Ok(serde_json::to_string(&symmetric_encrypt(secret, plaintext)?)?)
}

/// Decrypts column text written by [`seal`] or by Better Auth with the same secret.
pub fn open(secret: &str, stored: &str) -> anyhow::Result<String> {
    let text: String = serde_json::from_str(stored).context("the stored private key is not a JSON string")?;
    if text.starts_with("$ba$") {
        bail!("the private key is in Better Auth's versioned-secret envelope, which Sesame does not read");
    }
    symmetric_decrypt(secret, &text)
        .context("failed to decrypt a private key of the jwks table: was it written with another BETTER_AUTH_SECRET?")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_hides_the_plaintext() {
        let stored = seal("s3cret", r#"{"d":"private"}"#).unwrap();
        assert!(stored.starts_with('"') && stored.ends_with('"'));
        assert!(!stored.contains("private"));
        // nonce 24 + plaintext 15 + tag 16 bytes, hex, quoted.
        assert_eq!(stored.len(), 2 * (24 + 15 + 16) + 2);
        assert_eq!(open("s3cret", &stored).unwrap(), r#"{"d":"private"}"#);
        assert_ne!(seal("s3cret", "x").unwrap(), seal("s3cret", "x").unwrap());
    }

    #[test]
    fn wrong_secret_or_damage_fails() {
        let stored = seal("s3cret", "{}").unwrap();
        assert!(open("other", &stored).is_err());
        let mut damaged = stored.clone();
        damaged.replace_range(10..11, if &stored[10..11] == "0" { "1" } else { "0" });
        assert!(open("s3cret", &damaged).is_err());
        assert!(open("s3cret", "\"abc\"").is_err());
        assert!(open("s3cret", "not json").is_err());
        assert!(open("s3cret", "\"$ba$1$00\"").is_err());
        assert!(open("s3cret", "\"00\"").is_err());
    }

    #[test]
    fn reads_better_auth_rows() {
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("../../../fixtures/better-auth-jwks.json")).unwrap();
        let secret = fixture["secret"].as_str().unwrap();
        for key in fixture["keys"].as_array().unwrap() {
            let plain = open(secret, key["row"]["privateKey"].as_str().unwrap()).unwrap();
            let jwk: serde_json::Value = serde_json::from_str(&plain).unwrap();
            assert!(jwk["d"].is_string(), "{}", key["alg"]);
        }
    }
}
