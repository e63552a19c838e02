//! Email verification tokens (spec §6): stateless HS256 JWTs, signed with the secret's UTF-8
//! bytes, header exactly `{"alg":"HS256"}`. Claims, in Better Auth's order: `email`
//! (lower-cased), `updateTo` and `requestType` for email changes, `userId` (Better Auth 1.7.25
//! binds every token to the user it was issued for), `iat`, `exp`.
//!
//! Verification accepts HS256 only, checks the signature in constant time before reading any
//! claim, and requires `exp`: expired (`exp <= now`) is [`TokenError::Expired`], anything else
//! wrong is [`TokenError::Invalid`].

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::crypto::{constant_time_eq, hmac_sha256};

/// `requestType` of the token mailed to the old address of a verified user.
pub const CHANGE_EMAIL_CONFIRMATION: &str = "change-email-confirmation";
/// `requestType` of the token mailed to the new address.
pub const CHANGE_EMAIL_VERIFICATION: &str = "change-email-verification";

const HEADER: &str = r#"{"alg":"HS256"}"#;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub email: String,
    pub update_to: Option<String>,
    pub request_type: Option<String>,
    pub user_id: Option<String>,
    pub iat: i64,
    pub exp: i64,
}

impl Claims {
    /// Claims for a token issued now and valid for `expires_in` seconds.
    pub fn new(email: &str, user_id: &str, now: OffsetDateTime, expires_in: i64) -> Claims {
        let iat = now.unix_timestamp();
        Claims {
            email: crate::auth::email::normalize(email),
            update_to: None,
            request_type: None,
            user_id: Some(user_id.to_string()),
            iat,
            exp: iat + expires_in,
        }
    }

    /// The same claims for an email change to `new_email`.
    pub fn changing_to(mut self, new_email: &str, request_type: &str) -> Claims {
        self.update_to = Some(crate::auth::email::normalize(new_email));
        self.request_type = Some(request_type.to_string());
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Expired,
    Invalid,
}

/// Signs the claims: `base64url(header).base64url(payload).base64url(HMAC-SHA256)`.
pub fn sign(secret: &str, claims: &Claims) -> String {
    let mut payload = Map::new();
    payload.insert("email".into(), Value::String(claims.email.clone()));
    if let Some(u) = &claims.update_to {
        payload.insert("updateTo".into(), Value::String(u.clone()));
    }
    if let Some(r) = &claims.request_type {
        payload.insert("requestType".into(), Value::String(r.clone()));
    }
    if let Some(id) = &claims.user_id {
        payload.insert("userId".into(), Value::String(id.clone()));
    }
    payload.insert("iat".into(), Value::from(claims.iat));
    payload.insert("exp".into(), Value::from(claims.exp));
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(HEADER),
        URL_SAFE_NO_PAD.encode(Value::Object(payload).to_string())
    );
    let mac = hmac_sha256(secret.as_bytes(), signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(mac))
}

/// Verifies a token at `now`.
pub fn verify(secret: &str, token: &str, now: OffsetDateTime) -> Result<Claims, TokenError> {
    use TokenError::Invalid;
    let mut parts = token.split('.');
    let (Some(header_part), Some(payload_part), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Invalid);
    };
    let header: Value = decode_json(header_part)?;
    // Like jose: the algorithm must be HS256 and no critical extension may be demanded.
    if header.get("alg").and_then(Value::as_str) != Some("HS256") || header.get("crit").is_some() {
        return Err(Invalid);
    }
    let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| Invalid)?;
    let signing_input = format!("{header_part}.{payload_part}");
    let expected = hmac_sha256(secret.as_bytes(), signing_input.as_bytes());
    if !constant_time_eq(&sig, &expected) {
        return Err(Invalid);
    }
    let Value::Object(claims) = decode_json(payload_part)? else {
        return Err(Invalid);
    };
    let number = |key: &str| -> Result<Option<i64>, TokenError> {
        match claims.get(key) {
            None => Ok(None),
            Some(v) => v.as_f64().map(|f| Some(f.floor() as i64)).ok_or(Invalid),
        }
    };
    let string = |key: &str| -> Result<Option<String>, TokenError> {
        match claims.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Invalid),
        }
    };
    let exp = number("exp")?.ok_or(Invalid)?;
    let iat = number("iat")?.unwrap_or(0);
    if let Some(nbf) = number("nbf")? {
        if nbf > now.unix_timestamp() {
            return Err(Invalid);
        }
    }
    if exp <= now.unix_timestamp() {
        return Err(TokenError::Expired);
    }
    let email = string("email")?.ok_or(Invalid)?;
    if !crate::auth::email::is_valid(&email) {
        return Err(Invalid);
    }
    Ok(Claims {
        email,
        update_to: string("updateTo")?,
        request_type: string("requestType")?,
        user_id: string("userId")?,
        iat,
        exp,
    })
}

fn decode_json(part: &str) -> Result<Value, TokenError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| TokenError::Invalid)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const SECRET: &str = "better-auth-secret-12345678901234567890";
    const NOW: OffsetDateTime = datetime!(2026-11-26 12:00 UTC);

    #[test]
    fn layout_matches_better_auth() {
        let token = sign(SECRET, &Claims::new("Bob@Example.com", "u1", NOW, 3600));
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(
            parts[0], "eyJhbGciOiJIUzI1NiJ9",
            "header is exactly {{\"alg\":\"HS256\"}}"
        );
        let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        let iat = NOW.unix_timestamp();
        assert_eq!(
            payload,
            format!(
                r#"{{"email":"bob@example.com","userId":"u1","iat":{iat},"exp":{}}}"#,
                iat + 3600
            )
        );
        let change = Claims::new("a@b.co", "u1", NOW, 60).changing_to("N@b.co", CHANGE_EMAIL_CONFIRMATION);
        let payload = URL_SAFE_NO_PAD
            .decode(sign(SECRET, &change).split('.').nth(1).unwrap())
            .unwrap();
        assert!(String::from_utf8(payload).unwrap().starts_with(
            r#"{"email":"a@b.co","updateTo":"n@b.co","requestType":"change-email-confirmation","userId":"u1","iat""#
        ));
    }

    /// Minted by the reference Better Auth 1.7.25 server (sign-up verification email).
    const BETTER_AUTH_TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.eyJlbWFpbCI6ImFAZXhhbXBsZS5jb20iLCJ1c2VySWQiOiIwQldaRmo2bTM2dnkwWGhGTG1WaHJIVXZ3ekV6dUJHUiIsImlhdCI6MTc5NTcyNjk3OSwiZXhwIjoxNzk1NzMwNTc5fQ.883IJmcaRXqpfQIC6hIav4paOfoOIX0MrDg3tZx2t1A";
    const REFERENCE_SECRET: &str = "harness-development-secret-change-me-0123456789";

    #[test]
    fn interoperates_with_better_auth_tokens() {
        let at = OffsetDateTime::from_unix_timestamp(1_795_726_979).unwrap();
        let claims = verify(REFERENCE_SECRET, BETTER_AUTH_TOKEN, at).unwrap();
        assert_eq!(claims.email, "a@example.com");
        assert_eq!(claims.user_id.as_deref(), Some("0BWZFj6m36vy0XhFLmVhrHUvwzEzuBGR"));
        assert_eq!((claims.iat, claims.exp), (1_795_726_979, 1_795_730_579));
        // Signing the same claims gives Better Auth's token byte for byte.
        assert_eq!(sign(REFERENCE_SECRET, &claims), BETTER_AUTH_TOKEN);
        let after = OffsetDateTime::from_unix_timestamp(1_795_730_579).unwrap();
        assert_eq!(
            verify(REFERENCE_SECRET, BETTER_AUTH_TOKEN, after),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn verifies_round_trip_expiry_and_tampering() {
        let claims = Claims::new("bob@example.com", "u1", NOW, 3600);
        let token = sign(SECRET, &claims);
        assert_eq!(verify(SECRET, &token, NOW), Ok(claims));
        assert_eq!(
            verify(SECRET, &token, NOW + time::Duration::seconds(3599)).map(|c| c.email),
            Ok("bob@example.com".into())
        );
        assert_eq!(
            verify(SECRET, &token, NOW + time::Duration::seconds(3600)),
            Err(TokenError::Expired)
        );
        assert_eq!(verify("another-secret", &token, NOW), Err(TokenError::Invalid));
        let (head, rest) = token.split_once('.').unwrap();
        let none_alg = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#));
        assert_eq!(verify(SECRET, &none_alg, NOW), Err(TokenError::Invalid));
        let unsigned = format!("{head}.{}.", rest.split('.').next().unwrap());
        assert_eq!(verify(SECRET, &unsigned, NOW), Err(TokenError::Invalid));
        for junk in ["", "a.b", "a.b.c.d", "...", "not-a-jwt"] {
            assert_eq!(verify(SECRET, junk, NOW), Err(TokenError::Invalid), "{junk}");
        }
    }

    #[test]
    fn a_signed_token_without_exp_or_email_is_invalid() {
        let forge = |payload: &str| {
            let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(HEADER), URL_SAFE_NO_PAD.encode(payload));
            let mac = hmac_sha256(SECRET.as_bytes(), input.as_bytes());
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac))
        };
        assert_eq!(
            verify(SECRET, &forge(r#"{"email":"a@b.co"}"#), NOW),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            verify(SECRET, &forge(r#"{"exp":9999999999}"#), NOW),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            verify(SECRET, &forge(r#"{"email":"nope","exp":9999999999}"#), NOW),
            Err(TokenError::Invalid)
        );
        assert!(verify(SECRET, &forge(r#"{"email":"a@b.co","exp":9999999999}"#), NOW).is_ok());
    }

    /// Like jose: a correctly signed token is still refused when its header demands a critical
    /// extension, or when it is not valid yet (`nbf` after now; `nbf` equal to now is valid).
    #[test]
    fn a_signed_token_with_crit_or_a_future_nbf_is_invalid() {
        let forge = |header: &str, payload: &str| {
            let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
            let mac = hmac_sha256(SECRET.as_bytes(), input.as_bytes());
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac))
        };
        let good = r#"{"email":"a@b.co","exp":9999999999}"#;
        assert!(verify(SECRET, &forge(HEADER, good), NOW).is_ok());
        assert_eq!(
            verify(SECRET, &forge(r#"{"alg":"HS256","crit":["b64"]}"#, good), NOW),
            Err(TokenError::Invalid)
        );
        let now = NOW.unix_timestamp();
        let with_nbf = |nbf: i64| forge(HEADER, &format!(r#"{{"email":"a@b.co","exp":9999999999,"nbf":{nbf}}}"#));
        assert_eq!(verify(SECRET, &with_nbf(now + 1), NOW), Err(TokenError::Invalid));
        assert!(verify(SECRET, &with_nbf(now), NOW).is_ok());
        assert!(verify(SECRET, &with_nbf(now - 1), NOW).is_ok());
    }
}
