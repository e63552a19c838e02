//! The OAuth `state` and PKCE verifier (spec §8.2, "database" strategy): a verification row
//! `identifier = state`, `value = state JSON`, 10 minutes, plus the signed `state` cookie
//! (Max-Age 300) that ties the flow to the browser that started it. The callback checks both,
//! consumes the row atomically (a replayed state finds nothing) and checks expiry.

use serde_json::{Map, Value};
use time::Duration;

use crate::crypto;
use crate::endpoint::Ctx;
use crate::error::ApiError;
use crate::http::Request;
use crate::storage::models::Verification;

/// Better Auth's `generateRandomString(n, "a-z", "0-9", "A-Z", "-_")`.
const STATE_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_";
const ROW_LIFETIME_MS: i64 = 600_000;
const COOKIE_MAX_AGE: i64 = 300;

/// The user a link flow attaches the account to.
#[derive(Debug, Clone)]
pub struct LinkTarget {
    pub user_id: String,
    pub email: String,
}

/// What the flow remembers across the provider round trip.
#[derive(Debug, Clone)]
pub struct StateData {
    pub callback_url: String,
    pub code_verifier: String,
    pub error_url: Option<String>,
    pub new_user_url: Option<String>,
    pub link: Option<LinkTarget>,
    pub request_sign_up: Option<bool>,
    pub id_token_nonce: Option<String>,
}

/// What starting a flow needs besides the request body's URLs.
pub struct NewState {
    pub callback_url: String,
    pub error_url: Option<String>,
    pub new_user_url: Option<String>,
    pub link: Option<LinkTarget>,
    pub request_sign_up: Option<bool>,
    pub id_token_nonce: Option<String>,
    pub additional_data: Option<Map<String, Value>>,
}

/// The state keys Sesame itself writes and reads (Better Auth's `stateDataSchema`). The
/// client's `additionalData` shares the state object, so every one of these is removed from it
/// before anything is stored: a client value must never decide who is linked, where the
/// browser is sent, or whether sign-up is allowed — even for a key Sesame leaves unset in this
/// flow (`link` outside `/link-social`, `errorURL` without `errorCallbackURL`).
pub const RESERVED_KEYS: &[&str] = &[
    "callbackURL",
    "codeVerifier",
    "errorURL",
    "newUserURL",
    "expiresAt",
    "oauthState",
    "link",
    "requestSignUp",
    "idTokenNonce",
    "serverContext",
];

/// Stores the state row and sets the state cookie; returns `(state, codeVerifier)`.
pub fn create(ctx: &Ctx<'_>, new: NewState) -> Result<(String, String), ApiError> {
    let state = crypto::random_from(STATE_ALPHABET, 32);
    let verifier = crypto::random_from(STATE_ALPHABET, 128);
    let expires_ms = (ctx.now.unix_timestamp_nanos() / 1_000_000) as i64 + ROW_LIFETIME_MS;
    let mut data = new.additional_data.unwrap_or_default();
    data.retain(|k, _| !RESERVED_KEYS.contains(&k.as_str()));
    let mut put = |k: &str, v: Value| {
        data.insert(k.to_string(), v);
    };
    put("callbackURL", Value::String(new.callback_url));
    put("codeVerifier", Value::String(verifier.clone()));
    if let Some(u) = new.error_url {
        put("errorURL", Value::String(u));
    }
    if let Some(u) = new.new_user_url {
        put("newUserURL", Value::String(u));
    }
    if let Some(l) = new.link {
        put("link", serde_json::json!({ "userId": l.user_id, "email": l.email }));
    }
    put("expiresAt", Value::from(expires_ms));
    if let Some(r) = new.request_sign_up {
        put("requestSignUp", Value::Bool(r));
    }
    if let Some(n) = new.id_token_nonce {
        put("idTokenNonce", Value::String(n));
    }
    put("oauthState", Value::String(state.clone()));
    let row = Verification {
        id: crypto::new_id(),
        identifier: state.clone(),
        value: Value::Object(data).to_string(),
        expires_at: ctx.now + Duration::milliseconds(ROW_LIFETIME_MS),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    ctx.storage().create_verification(&row)?;
    let jar = &ctx.app.cookies;
    ctx.add_cookie(jar.signed(ctx.secret(), "state", &state, Some(COOKIE_MAX_AGE)));
    Ok((state, verifier))
}

/// Why a callback's state was refused: the `error=` code and, once the row was read, the
/// flow's own error URL.
#[derive(Debug)]
pub struct StateFailure {
    pub code: &'static str,
    pub error_url: Option<String>,
}

fn fail(code: &'static str, error_url: Option<String>) -> StateFailure {
    StateFailure { code, error_url }
}

fn opt_str(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

/// Checks and consumes the state of a callback.
pub fn consume(ctx: &Ctx<'_>, req: &Request, state: &str) -> Result<Result<StateData, StateFailure>, ApiError> {
    let Some(row) = ctx.storage().find_verification(state)? else {
        return Ok(Err(fail("state_mismatch", None)));
    };
    let Ok(v) = serde_json::from_str::<Value>(&row.value) else {
        return Ok(Err(fail("internal_server_error", None)));
    };
    let (Some(callback_url), Some(code_verifier), Some(expires_at)) = (
        opt_str(&v, "callbackURL"),
        opt_str(&v, "codeVerifier"),
        v.get("expiresAt").and_then(Value::as_i64),
    ) else {
        return Ok(Err(fail("internal_server_error", None)));
    };
    let error_url = opt_str(&v, "errorURL");
    if opt_str(&v, "oauthState").is_some_and(|s| s != state) {
        return Ok(Err(fail("state_mismatch", error_url)));
    }
    let header = req.cookie_header();
    let cookie = ctx.app.cookies.read_signed(ctx.secret(), header.as_deref(), "state");
    if !cookie.is_some_and(|c| crypto::constant_time_eq(c.as_bytes(), state.as_bytes())) {
        return Ok(Err(fail("state_mismatch", error_url)));
    }
    ctx.add_cookie(ctx.app.cookies.expire("state"));
    // Of concurrent callbacks with the same state, only one gets the row.
    if ctx.storage().consume_verification(state)?.is_none() {
        return Ok(Err(fail("state_mismatch", error_url)));
    }
    let now_ms = (ctx.now.unix_timestamp_nanos() / 1_000_000) as i64;
    if expires_at < now_ms {
        return Ok(Err(fail("state_mismatch", error_url)));
    }
    let link = v.get("link").and_then(|l| {
        Some(LinkTarget {
            user_id: match l.get("userId")? {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
            email: opt_str(l, "email")?,
        })
    });
    Ok(Ok(StateData {
        callback_url,
        code_verifier,
        error_url,
        new_user_url: opt_str(&v, "newUserURL"),
        link,
        request_sign_up: v.get("requestSignUp").and_then(Value::as_bool),
        id_token_nonce: opt_str(&v, "idTokenNonce"),
    }))
}
