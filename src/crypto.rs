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
    // Keying HMAC hashes the padded key twice; nearly every call uses the one secret, so each
    // thread keeps the last keyed state and clones it (half the hashing of a cookie check).
    thread_local! {
        static KEYED: std::cell::RefCell<Option<(Vec<u8>, Hmac<Sha256>)>> = const { std::cell::RefCell::new(None) };
    }
    let keyed = KEYED.with(|cell| {
        let mut cell = cell.borrow_mut();
        if let Some((k, mac)) = cell.as_ref() {
            if k.as_slice() == key {
                return Some(mac.clone());
            }
        }
        // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(key).ok()?;
        *cell = Some((key.to_vec(), mac.clone()));
        Some(mac)
    });
    let Some(mut mac) = keyed else {
        return [0; 32];
    };
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// `base64url(SHA-256(text))` without padding: a token's fingerprint, stored where the token
/// itself must not be (a used token's single-use mark).
pub fn sha256_base64url(text: &str) -> String {
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()))
}

/// Constant-time equality for tokens and signatures: the time taken does not depend on where
/// the inputs first differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Better Auth's `symmetricEncrypt`: lower-case hex of `24-byte nonce ‖ XChaCha20-Poly1305
/// ciphertext ‖ tag`, key = SHA-256(secret), a fresh random nonce each time. Sesame uses it
/// wherever Better Auth does (stored OAuth tokens, jwks private keys), so both servers read
/// each other's rows with the same secret.
pub fn symmetric_encrypt(secret: &str, plaintext: &str) -> anyhow::Result<String> {
    use chacha20poly1305::aead::{Aead, AeadCore, OsRng};
    let nonce = chacha20poly1305::XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let sealed = symmetric_cipher(secret)
        .encrypt(&nonce, plaintext.as_bytes())
        .map_err(|_| anyhow::anyhow!("encryption failed"))?;
    let mut bytes = nonce.to_vec();
    bytes.extend_from_slice(&sealed);
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Reverses [`symmetric_encrypt`]; fails on anything that is not such a value for this secret.
pub fn symmetric_decrypt(secret: &str, hex: &str) -> anyhow::Result<String> {
    use chacha20poly1305::aead::Aead;
    const NONCE: usize = 24;
    const TAG: usize = 16;
    let bytes = hex_decode(hex).ok_or_else(|| anyhow::anyhow!("not hex"))?;
    anyhow::ensure!(bytes.len() >= NONCE + TAG, "ciphertext too short");
    let (nonce, sealed) = bytes.split_at(NONCE);
    let plain = symmetric_cipher(secret)
        .decrypt(chacha20poly1305::XNonce::from_slice(nonce), sealed)
        .map_err(|_| anyhow::anyhow!("decryption failed: written with another secret?"))?;
    Ok(String::from_utf8(plain)?)
}

fn symmetric_cipher(secret: &str) -> chacha20poly1305::XChaCha20Poly1305 {
    use chacha20poly1305::KeyInit;
    use sha2::Digest;
    chacha20poly1305::XChaCha20Poly1305::new(&Sha256::digest(secret.as_bytes()))
}

/// Lower-case or upper-case hex to bytes; `None` for odd lengths or non-hex characters.
pub fn hex_decode(text: &str) -> Option<Vec<u8>> {
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
    fn hmac_with_a_kept_key_matches_rfc_4231_whatever_key_came_before() {
        // RFC 4231 test case 2.
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let hex = |b: [u8; 32]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        for _ in 0..2 {
            assert_eq!(hex(hmac_sha256(b"Jefe", b"what do ya want for nothing?")), expected);
            assert_ne!(hex(hmac_sha256(b"Jeff", b"what do ya want for nothing?")), expected);
            assert_eq!(hex(hmac_sha256(b"Jefe", b"what do ya want for nothing?")), expected);
        }
    }

    #[test]
    fn symmetric_round_trip() {
        let sealed = symmetric_encrypt("k", "plain text").unwrap();
        assert!(sealed.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(symmetric_decrypt("k", &sealed).unwrap(), "plain text");
        assert!(symmetric_decrypt("other", &sealed).is_err());
        assert!(symmetric_decrypt("k", "zz").is_err());
        assert_ne!(
            symmetric_encrypt("k", "x").unwrap(),
            symmetric_encrypt("k", "x").unwrap()
        );
    }

    #[test]
    fn constant_time_eq_works() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
