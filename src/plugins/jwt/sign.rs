//! Signing: which key signs (the newest live key of the configured algorithm, created on first
//! use), the claims Better Auth puts in a session token, and the published key set.
//!
//! Key creation is serialised inside the process (a mutex, then a second look), so
//! concurrent first requests agree on one key. Two processes sharing a database may each
//! create one; both are published and the newest signs from then on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, Context};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::JwtAlg;
use super::{keys, seal};
use crate::endpoint::Services;
use crate::error::ApiError;
use crate::storage::Jwk;

/// Better Auth's `jwks.gracePeriod` default: an expired key stays published for 30 days.
const GRACE_PERIOD: time::Duration = time::Duration::days(30);

static KEY_CREATION: Mutex<()> = Mutex::new(());

/// Parsed signers by (secret, stored private key): decrypting and parsing a key on every
/// request would cost more than signing. The secret is part of the cache key so a key that
/// does not decrypt under the current secret is never used. Bounded: cleared when full.
static SIGNERS: Mutex<Option<HashMap<[u8; 32], Arc<keys::Signer>>>> = Mutex::new(None);
const SIGNER_CACHE_MAX: usize = 64;

/// The signer of a stored key, from the cache or decrypted and parsed.
fn signer_for(app: &Services, key: &Jwk, alg: JwtAlg) -> anyhow::Result<Arc<keys::Signer>> {
    let secret = app.config.secret.expose();
    let mut hasher = Sha256::new();
    for part in [secret, key.id.as_str(), alg.name(), key.private_key.as_str()] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    let cache_key: [u8; 32] = hasher.finalize().into();
    if let Some(found) = SIGNERS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .and_then(|m| m.get(&cache_key))
    {
        return Ok(found.clone());
    }
    let private: Value = serde_json::from_str(&seal::open(secret, &key.private_key)?)
        .context("the decrypted private key is not JSON")?;
    let signer = Arc::new(keys::signer(alg, &private).with_context(|| format!("jwks key {}", key.id))?);
    let mut cache = SIGNERS.lock().unwrap_or_else(|p| p.into_inner());
    let map = cache.get_or_insert_with(HashMap::new);
    if map.len() >= SIGNER_CACHE_MAX {
        map.clear();
    }
    map.insert(cache_key, signer.clone());
    Ok(signer)
}

/// The algorithm a stored key signs with: its `alg` column, else the configured one.
fn key_alg(app: &Services, jwk: &Jwk) -> anyhow::Result<JwtAlg> {
    match jwk.alg.as_deref() {
        None => Ok(app.config.jwt.alg),
        Some(name) => {
            JwtAlg::from_name(name).ok_or_else(|| anyhow!("jwks key {} has unsupported alg {name:?}", jwk.id))
        }
    }
}

/// The key that signs now: the newest live key of the configured algorithm, or a new one.
pub fn current_key(app: &Services, now: OffsetDateTime) -> Result<Jwk, ApiError> {
    let alg = app.config.jwt.alg;
    if let Some(key) = app.storage.latest_jwk(alg.name(), now)? {
        return Ok(key);
    }
    create_key(app, alg, now)
}

/// Creates a key of `alg` unless another caller just did.
fn create_key(app: &Services, alg: JwtAlg, now: OffsetDateTime) -> Result<Jwk, ApiError> {
    let _guard = KEY_CREATION.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(key) = app.storage.latest_jwk(alg.name(), now)? {
        return Ok(key);
    }
    let pair = keys::generate(alg)?;
    let private = serde_json::to_string(&pair.private_jwk).context("private JWK")?;
    let jwk = Jwk {
        id: crate::crypto::new_id(),
        public_key: serde_json::to_string(&pair.public_jwk).context("public JWK")?,
        private_key: seal::seal(app.config.secret.expose(), &private)?,
        created_at: now,
        expires_at: None,
        alg: Some(alg.name().to_string()),
        crv: pair.crv.map(str::to_string),
    };
    app.storage.create_jwk(&jwk)?;
    Ok(jwk)
}

/// Signs `payload` with the current key, adding `exp`, `iss` and `aud` where the payload has
/// none (Better Auth's `signJWT`). Claims keep the payload's order, then exp, iss, aud.
pub fn sign(app: &Services, now: OffsetDateTime, mut payload: Map<String, Value>) -> Result<String, ApiError> {
    let key = current_key(app, now)?;
    let alg = key_alg(app, &key)?;
    let signer = signer_for(app, &key, alg)?;
    let cfg = &app.config.jwt;
    let iat = payload
        .get("iat")
        .and_then(Value::as_i64)
        .unwrap_or(now.unix_timestamp());
    if !payload.contains_key("exp") {
        payload.insert("exp".into(), Value::from(iat + cfg.expires_in));
    }
    if !payload.contains_key("iss") {
        let iss = cfg.issuer.clone().unwrap_or_else(|| app.config.base_origin.clone());
        payload.insert("iss".into(), Value::from(iss));
    }
    if !payload.contains_key("aud") {
        let aud = match cfg.audience.as_slice() {
            [] => Value::from(app.config.base_origin.clone()),
            [one] => Value::from(one.clone()),
            many => Value::from(many.to_vec()),
        };
        payload.insert("aud".into(), aud);
    }
    // JWS compact serialisation (RFC 7515 §7.1); the protected header is exactly Better
    // Auth's `{"alg", "kid"}`.
    let header = serde_json::json!({ "alg": alg.name(), "kid": key.id });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(Value::Object(payload).to_string())
    );
    let signature = signer.sign(signing_input.as_bytes())?;
    Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

/// The token for a signed-in user (Better Auth's `getJwtToken`): `iat`, the user object as
/// get-session shows it, `sub` = the user id; then `exp`, `iss`, `aud`.
pub fn user_token(app: &Services, now: OffsetDateTime, user: &Value) -> Result<String, ApiError> {
    let mut payload = Map::new();
    payload.insert("iat".into(), Value::from(now.unix_timestamp()));
    if let Some(fields) = user.as_object() {
        payload.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let sub = user.get("id").cloned().unwrap_or(Value::Null);
    payload.insert("sub".into(), sub);
    sign(app, now, payload)
}

/// The JSON Web Key Set (`GET /jwks`): every key not past its grace period, as
/// `{alg, crv?, …public JWK, kid}`; the first call creates a key.
pub fn key_set(app: &Services, now: OffsetDateTime) -> Result<Value, ApiError> {
    let mut stored = app.storage.list_jwks()?;
    if stored.is_empty() {
        create_key(app, app.config.jwt.alg, now)?;
        stored = app.storage.list_jwks()?;
    }
    let mut keys = Vec::new();
    for jwk in stored
        .iter()
        .filter(|k| k.expires_at.is_none_or(|e| e + GRACE_PERIOD > now))
    {
        let public: Map<String, Value> = serde_json::from_str(&jwk.public_key)
            .with_context(|| format!("jwks key {} has no JSON public key", jwk.id))?;
        let mut entry = Map::new();
        entry.insert(
            "alg".into(),
            Value::from(jwk.alg.clone().unwrap_or_else(|| app.config.jwt.alg.name().to_string())),
        );
        // Better Auth writes `{alg, crv, ...publicKey, kid}`: crv keeps the second place even
        // when only the public key has it.
        if let Some(crv) = jwk.crv.clone().map(Value::from).or_else(|| public.get("crv").cloned()) {
            entry.insert("crv".into(), crv);
        }
        entry.extend(public);
        entry.insert("kid".into(), Value::from(jwk.id.clone()));
        keys.push(Value::Object(entry));
    }
    Ok(serde_json::json!({ "keys": keys }))
}
