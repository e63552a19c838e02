//! The secrets the `twoFactor` row keeps, in Better Auth's own format so that a database either
//! server wrote works with the other (same secret): the TOTP secret and the JSON array of
//! backup codes, each encrypted with `symmetricEncrypt` (`crypto::symmetric_encrypt`: bare
//! lower-case hex of nonce, XChaCha20-Poly1305 ciphertext and tag, key SHA-256 of the server
//! secret). Better Auth's `$ba$<version>$…` envelope (its secret rotation) is refused by name.

use anyhow::{bail, Context};

use crate::crypto::{symmetric_decrypt, symmetric_encrypt};

/// Encrypts a value for a `twoFactor` column.
pub fn seal(secret: &str, plain: &str) -> anyhow::Result<String> {
    symmetric_encrypt(secret, plain)
}

/// Decrypts a `twoFactor` column written by [`seal`] or by Better Auth with the same secret.
pub fn open(secret: &str, stored: &str) -> anyhow::Result<String> {
    if stored.starts_with("$ba$") {
        bail!("a twoFactor value is in Better Auth's versioned-secret envelope, which Sesame does not read");
    }
    symmetric_decrypt(secret, stored)
        .context("failed to decrypt a twoFactor value: was it written with another BETTER_AUTH_SECRET?")
}

/// The stored form of a set of backup codes.
pub fn seal_codes(secret: &str, codes: &[String]) -> anyhow::Result<String> {
    seal(secret, &serde_json::to_string(codes)?)
}

/// The backup codes of a row; `None` when they do not decrypt to a JSON array of strings
/// (Better Auth's `safeJSONParse` then finds no code valid).
pub fn open_codes(secret: &str, stored: &str) -> anyhow::Result<Option<Vec<String>>> {
    let json = open(secret, stored)?;
    Ok(serde_json::from_str(&json).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_stay_hidden() {
        let codes = vec!["abcde-12345".to_string(), "ZYXWV-09876".to_string()];
        let stored = seal_codes("s3cret", &codes).unwrap();
        assert!(!stored.contains("abcde"));
        assert!(stored.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(open_codes("s3cret", &stored).unwrap(), Some(codes));
        assert!(open_codes("other", &stored).is_err());
        assert!(open("s3cret", "$ba$1$00").is_err());
        assert_eq!(
            open_codes("s3cret", &seal("s3cret", "not json").unwrap()).unwrap(),
            None
        );
    }

    /// A row Better Auth 1.7.25 wrote (`fixtures/make-better-auth-two-factor.mjs`).
    #[test]
    fn reads_better_auth_rows() {
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("../../../fixtures/better-auth-two-factor.json")).unwrap();
        let secret = fixture["secret"].as_str().unwrap();
        let row = &fixture["row"];
        assert_eq!(
            open(secret, row["secret"].as_str().unwrap()).unwrap(),
            fixture["totpSecret"].as_str().unwrap()
        );
        let codes: Vec<String> = serde_json::from_value(fixture["backupCodes"].clone()).unwrap();
        assert_eq!(
            open_codes(secret, row["backupCodes"].as_str().unwrap()).unwrap(),
            Some(codes)
        );
    }
}
