//! ID-token verification for the `idToken` sign-in and for OpenID Connect callbacks: the
//! signature against the provider's JWKS (RS256/ES256 and the other asymmetric algorithms
//! `jsonwebtoken` offers), then issuer, audience, expiry, issued-at / max age and nonce.
//!
//! Time claims are checked against the request's clock (`ctx.now`), not the system clock, so
//! tests can fix time; 30 s of skew is tolerated, as Better Auth does. Key sets are cached per
//! URL for an hour and refetched when a token names an unknown `kid` (at most once a minute,
//! so a stream of made-up `kid`s cannot turn Sesame into a JWKS hammer).

use std::collections::HashMap;
use std::sync::Mutex;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use super::http::Client;

const SKEW: i64 = 30;
const CACHE_FOR: Duration = Duration::hours(1);
const REFETCH_AFTER: Duration = Duration::minutes(1);

/// The algorithms accepted when a provider does not narrow them.
pub const DEFAULT_ALGORITHMS: &[Algorithm] = &[Algorithm::RS256, Algorithm::ES256];

struct Cached {
    set: JwkSet,
    fetched_at: OffsetDateTime,
}

#[derive(Default)]
pub struct JwksCache {
    sets: Mutex<HashMap<String, Cached>>,
}

/// How the `iss` claim is checked.
pub enum IssuerCheck {
    OneOf(Vec<String>),
    /// Entra ID: `iss` must be `<authority>/<tid>/v2.0` for the token's own `tid`, and the
    /// tenant setting narrows which `tid`s are accepted.
    Microsoft {
        authority: String,
        tenant: String,
    },
}

pub struct Expected<'a> {
    pub audiences: &'a [String],
    pub issuer: IssuerCheck,
    pub algorithms: &'a [Algorithm],
    pub max_age_secs: Option<i64>,
    pub nonce: Option<&'a str>,
    /// Also accept `sha256_hex(nonce)` (Apple).
    pub nonce_sha256: bool,
}

const MS_CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

impl JwksCache {
    fn lookup(&self, url: &str, kid: Option<&str>, now: OffsetDateTime) -> (Option<jsonwebtoken::jwk::Jwk>, bool) {
        let sets = self.sets.lock().unwrap_or_else(|p| p.into_inner());
        match sets.get(url) {
            None => (None, true),
            Some(c) => {
                let found = find(&c.set, kid);
                let stale = now - c.fetched_at >= CACHE_FOR;
                let may_refetch = now - c.fetched_at >= REFETCH_AFTER || now < c.fetched_at;
                (found.filter(|_| !stale), stale || may_refetch)
            }
        }
    }

    fn key(
        &self,
        http: &Client,
        url: &str,
        kid: Option<&str>,
        now: OffsetDateTime,
    ) -> anyhow::Result<jsonwebtoken::jwk::Jwk> {
        let (found, may_fetch) = self.lookup(url, kid, now);
        if let Some(k) = found {
            return Ok(k);
        }
        anyhow::ensure!(may_fetch, "no key for kid {kid:?} (refetched recently)");
        let doc = http.get_json(url, None, &[])?;
        let set: JwkSet = serde_json::from_value(doc)?;
        let found = find(&set, kid);
        self.sets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(url.to_string(), Cached { set, fetched_at: now });
        found.ok_or_else(|| anyhow::anyhow!("no key for kid {kid:?}"))
    }
}

fn find(set: &JwkSet, kid: Option<&str>) -> Option<jsonwebtoken::jwk::Jwk> {
    match kid {
        Some(k) => set.find(k).cloned(),
        // A token without `kid` is only usable when the set has exactly one key.
        None if set.keys.len() == 1 => set.keys.first().cloned(),
        None => None,
    }
}

fn num(claims: &Value, k: &str) -> Option<i64> {
    claims.get(k).and_then(Value::as_f64).map(|f| f as i64)
}

/// Verifies `token` and returns its claims. Every failure is an error; callers answer them
/// all the same way (`INVALID_TOKEN`) and log the reason.
pub fn verify(
    http: &Client,
    cache: &JwksCache,
    jwks_url: &str,
    token: &str,
    expected: &Expected<'_>,
    now: OffsetDateTime,
) -> anyhow::Result<Value> {
    anyhow::ensure!(!expected.audiences.is_empty(), "no audience configured");
    let header = jsonwebtoken::decode_header(token)?;
    anyhow::ensure!(
        expected.algorithms.contains(&header.alg),
        "algorithm {:?} not accepted",
        header.alg
    );
    let jwk = cache.key(http, jwks_url, header.kid.as_deref(), now)?;
    let key = DecodingKey::from_jwk(&jwk)?;
    let mut validation = Validation::new(header.alg);
    validation.set_audience(expected.audiences);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)?.claims;

    for required in ["iss", "sub", "aud", "exp", "iat"] {
        anyhow::ensure!(claims.get(required).is_some(), "claim {required} missing");
    }
    let now_s = now.unix_timestamp();
    let exp = num(&claims, "exp").ok_or_else(|| anyhow::anyhow!("exp is not a number"))?;
    let iat = num(&claims, "iat").ok_or_else(|| anyhow::anyhow!("iat is not a number"))?;
    anyhow::ensure!(exp + SKEW > now_s, "token expired");
    anyhow::ensure!(iat - SKEW <= now_s, "token issued in the future");
    if let Some(nbf) = num(&claims, "nbf") {
        anyhow::ensure!(nbf - SKEW <= now_s, "token not yet valid");
    }
    if let Some(max) = expected.max_age_secs {
        anyhow::ensure!(now_s - iat <= max + SKEW, "token too old");
    }
    let iss = claims.get("iss").and_then(Value::as_str).unwrap_or_default();
    match &expected.issuer {
        IssuerCheck::OneOf(list) => anyhow::ensure!(list.iter().any(|i| i == iss), "issuer mismatch"),
        IssuerCheck::Microsoft { authority, tenant } => {
            let tid = claims.get("tid").and_then(Value::as_str).unwrap_or_default();
            anyhow::ensure!(
                !tid.is_empty() && iss == format!("{authority}/{tid}/v2.0"),
                "issuer mismatch"
            );
            let ok = match tenant.as_str() {
                "common" => true,
                "organizations" => tid != MS_CONSUMER_TENANT,
                "consumers" => tid == MS_CONSUMER_TENANT,
                t => t == tid,
            };
            anyhow::ensure!(ok, "tenant not accepted");
        }
    }
    if let Some(nonce) = expected.nonce {
        let got = claims.get("nonce").and_then(Value::as_str);
        let hashed = || {
            Sha256::digest(nonce.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        let ok = got == Some(nonce) || (expected.nonce_sha256 && got == Some(hashed().as_str()));
        anyhow::ensure!(ok, "nonce mismatch");
    }
    Ok(claims)
}
