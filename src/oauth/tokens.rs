//! Provider tokens: parsing a token-endpoint answer, reading a JWT's claims without checking
//! its signature (only for ID tokens that came straight from the token endpoint), and the
//! optional encryption of stored tokens (`SESAME_ENCRYPT_OAUTH_TOKENS`), byte-compatible
//! with Better Auth's `symmetricEncrypt`: hex(24-byte nonce ‖ XChaCha20-Poly1305 ciphertext)
//! under the key SHA-256(secret).

use base64::Engine;
use serde_json::Value;
use time::{Duration, OffsetDateTime};

/// A token-endpoint answer (`getOAuth2Tokens`).
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub access_token_expires_at: Option<OffsetDateTime>,
    pub refresh_token_expires_at: Option<OffsetDateTime>,
    pub scopes: Vec<String>,
}

fn str_field(v: &Value, k: &str) -> Option<String> {
    v.get(k)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn seconds(v: &Value, k: &str) -> Option<i64> {
    match v.get(k)? {
        Value::Number(n) => n.as_f64().map(|f| f as i64),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .filter(|s| *s > 0)
}

impl Tokens {
    /// Reads a token answer; `None` when it carries an `error` or no token at all.
    pub fn from_response(v: &Value, now: OffsetDateTime) -> Option<Tokens> {
        if v.get("error").is_some() {
            return None;
        }
        let scopes = match v.get("scope") {
            Some(Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        };
        let tokens = Tokens {
            access_token: str_field(v, "access_token"),
            refresh_token: str_field(v, "refresh_token"),
            id_token: str_field(v, "id_token"),
            access_token_expires_at: seconds(v, "expires_in").map(|s| now + Duration::seconds(s)),
            refresh_token_expires_at: seconds(v, "refresh_token_expires_in").map(|s| now + Duration::seconds(s)),
            scopes,
        };
        (tokens.access_token.is_some() || tokens.id_token.is_some()).then_some(tokens)
    }

    /// The stored `scope` column: scopes joined with `,`.
    pub fn scope_column(&self) -> Option<String> {
        (!self.scopes.is_empty()).then(|| self.scopes.join(","))
    }
}

/// The claims of a compact JWS, unverified.
pub fn decode_jwt_claims(token: &str) -> anyhow::Result<Value> {
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        anyhow::bail!("not a JWT");
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('='))?;
    let claims: Value = serde_json::from_slice(&bytes)?;
    anyhow::ensure!(claims.is_object(), "JWT claims are not an object");
    Ok(claims)
}

/// `scope` merge of re-links: stored order first, duplicates dropped.
pub fn merge_scopes(stored: Option<&str>, incoming: &[String]) -> Option<String> {
    let mut out: Vec<String> = Vec::new();
    let stored_iter = stored.unwrap_or_default().split(',').map(str::trim);
    for s in stored_iter.chain(incoming.iter().map(|s| s.trim())) {
        if !s.is_empty() && !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    (!out.is_empty()).then(|| out.join(","))
}

/// Encrypts a token for storage (Better Auth's format, see [`crate::crypto::symmetric_encrypt`]).
pub fn encrypt(secret: &str, plain: &str) -> anyhow::Result<String> {
    crate::crypto::symmetric_encrypt(secret, plain)
}

/// Decrypts a stored token. As Better Auth, a value that does not look like hex is returned
/// as is (rows written before encryption was turned on).
pub fn decrypt(secret: &str, stored: &str) -> anyhow::Result<String> {
    if !stored.len().is_multiple_of(2) || !stored.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(stored.to_string());
    }
    crate::crypto::symmetric_decrypt(secret, stored)
}

/// How tokens are written to and read from the `account` row.
#[derive(Clone, Copy)]
pub struct Sealer<'a> {
    pub secret: &'a str,
    pub enabled: bool,
}

impl Sealer<'_> {
    pub fn seal(&self, token: Option<&str>) -> anyhow::Result<Option<String>> {
        match token {
            Some(t) if self.enabled => Ok(Some(encrypt(self.secret, t)?)),
            other => Ok(other.map(str::to_string)),
        }
    }

    pub fn open(&self, stored: Option<&str>) -> anyhow::Result<Option<String>> {
        match stored {
            Some(t) if self.enabled => Ok(Some(decrypt(self.secret, t)?)),
            other => Ok(other.map(str::to_string)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encryption_round_trips_and_is_hex() {
        let enc = encrypt("secret", "gho_token").unwrap();
        assert!(enc.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(enc.len(), 2 * (24 + 9 + 16));
        assert_eq!(decrypt("secret", &enc).unwrap(), "gho_token");
        assert!(decrypt("other", &enc).is_err());
        assert_eq!(decrypt("secret", "plain-token").unwrap(), "plain-token");
    }

    #[test]
    fn decrypts_a_better_auth_ciphertext() {
        // Made by Better Auth 1.7's symmetricEncrypt({key: "better-auth-secret", data: "gho_hello"}).
        let ba = "0720a3fd466724644ca5f2a7a23ab145ca9d1cd496fb298e71817f8370560eccfb0089a28a112ed0d1c07fc03aa1ae50c7";
        assert_eq!(decrypt("better-auth-secret", ba).unwrap(), "gho_hello");
    }

    #[test]
    fn token_response_parsing() {
        let now = time::macros::datetime!(2026-01-01 0:00 UTC);
        let v = serde_json::json!({"access_token":"a","expires_in":3600,"scope":"read:user user:email","token_type":"bearer"});
        let t = Tokens::from_response(&v, now).unwrap();
        assert_eq!(t.scope_column().as_deref(), Some("read:user,user:email"));
        assert_eq!(t.access_token_expires_at, Some(now + Duration::hours(1)));
        assert!(Tokens::from_response(&serde_json::json!({"error":"bad_verification_code"}), now).is_none());
        assert_eq!(
            merge_scopes(Some("a,b"), &["b".into(), "c".into()]).as_deref(),
            Some("a,b,c")
        );
    }
}
