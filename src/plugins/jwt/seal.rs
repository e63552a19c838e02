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

use anyhow::{anyhow, bail, Context};
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

fn cipher(secret: &str) -> XChaCha20Poly1305 {
    let key = Sha256::digest(secret.as_bytes());
    XChaCha20Poly1305::new(&key)
}

/// Encrypts `plaintext` and returns the column text.
pub fn seal(secret: &str, plaintext: &str) -> anyhow::Result<String> {
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let sealed = cipher(secret)
        .encrypt(&nonce, plaintext.as_bytes())
        .map_err(|_| anyhow!("private key encryption failed"))?;
    let mut bytes = nonce.to_vec();
    bytes.extend_from_slice(&sealed);
    Ok(serde_json::to_string(&hex_encode(&bytes))?)
}

/// Decrypts column text written by [`seal`] or by Better Auth with the same secret.
pub fn open(secret: &str, stored: &str) -> anyhow::Result<String> {
    let text: String = serde_json::from_str(stored).context("the stored private key is not a JSON string")?;
    if text.starts_with("$ba$") {
        bail!("the private key is in Better Auth's versioned-secret envelope, which Sesame does not read");
    }
    let bytes = hex_decode(&text).context("the stored private key is not hex")?;
    if bytes.len() < NONCE_LEN + TAG_LEN {
        bail!("the stored private key is too short");
    }
    let (nonce, sealed) = bytes.split_at(NONCE_LEN);
    let plain = cipher(secret).decrypt(XNonce::from_slice(nonce), sealed).map_err(|_| {
        anyhow!("failed to decrypt a private key of the jwks table: was it written with another BETTER_AUTH_SECRET?")
    })?;
    String::from_utf8(plain).context("the decrypted private key is not UTF-8")
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| text.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
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
