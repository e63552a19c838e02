//! Signing: which key signs (the newest live key of the configured algorithm, created on first
//! use), the claims Better Auth puts in a session token, and the published key set.
//!
//! Key creation is serialised inside the process (a mutex, then a second look), so
//! concurrent first requests agree on one key. Two processes sharing a database may each
//! create one; both are published and the newest signs from then on.

use std::sync::Mutex;

use anyhow::{anyhow, Context};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::config::JwtAlg;
use super::{keys, seal};
use crate::app::App;
use crate::error::ApiError;
use crate::storage::Jwk;

/// Better Auth's `jwks.gracePeriod` default: an expired key stays published for 30 days.
const GRACE_PERIOD: time::Duration = time::Duration::days(30);

static KEY_CREATION: Mutex<()> = Mutex::new(());

/// The algorithm a stored key signs with: its `alg` column, else the configured one.
fn key_alg(app: &App, jwk: &Jwk) -> anyhow::Result<JwtAlg> {
    match jwk.alg.as_deref() {
        None => Ok(app.config.jwt.alg),
        Some(name) => {
            JwtAlg::from_name(name).ok_or_else(|| anyhow!("jwks key {} has unsupported alg {name:?}", jwk.id))
        }
    }
}

/// The key that signs now: the newest live key of the configured algorithm, or a new one.
pub fn current_key(app: &App, now: OffsetDateTime) -> Result<Jwk, ApiError> {
    let alg = app.config.jwt.alg;
    if let Some(key) = app.storage.latest_jwk(alg.name(), now)? {
        return Ok(key);
    }
    create_key(app, alg, now)
}

/// Creates a key of `alg` unless another caller just did.
fn create_key(app: &App, alg: JwtAlg, now: OffsetDateTime) -> Result<Jwk, ApiError> {
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
pub fn sign(app: &App, now: OffsetDateTime, mut payload: Map<String, Value>) -> Result<String, ApiError> {
    let key = current_key(app, now)?;
    let alg = key_alg(app, &key)?;
    let private: Value = serde_json::from_str(&seal::open(app.config.secret.expose(), &key.private_key)?)
        .context("the decrypted private key is not JSON")?;
    let encoding = keys::encoding_key(alg, &private).with_context(|| format!("jwks key {}", key.id))?;
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
    let mut header = jsonwebtoken::Header::new(keys::algorithm(alg));
    header.typ = None;
    header.kid = Some(key.id);
    jsonwebtoken::encode(&header, &payload, &encoding).map_err(|e| ApiError::from(anyhow!("JWT signing failed: {e}")))
}

/// The token for a signed-in user (Better Auth's `getJwtToken`): `iat`, the user object as
/// get-session shows it, `sub` = the user id; then `exp`, `iss`, `aud`.
pub fn user_token(app: &App, now: OffsetDateTime, user: &Value) -> Result<String, ApiError> {
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
pub fn key_set(app: &App, now: OffsetDateTime) -> Result<Value, ApiError> {
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
