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

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::sync::Arc;

    use serde_json::json;
    use time::macros::datetime;
    use time::OffsetDateTime;

    use super::*;
    use crate::app::App;
    use crate::clock::SystemClock;
    use crate::config::Config;
    use crate::endpoint::Transport;
    use crate::http::cookies::SetCookie;
    use crate::storage::memory::MemoryStorage;

    /// The request's clock reading, with milliseconds so that a truncated reading shows.
    const NOW: OffsetDateTime = datetime!(2026-03-04 05:06:07.089 UTC);

    fn now_ms() -> i64 {
        NOW.unix_timestamp() * 1000 + 89
    }

    fn app() -> App {
        App::new(
            Config::for_tests(),
            Arc::new(MemoryStorage::new()),
            Arc::new(SystemClock),
        )
        .expect("app")
    }

    /// Runs `f` with a request context at [`NOW`]; returns its result and the cookies it queued.
    fn with_ctx<R>(app: &App, f: impl FnOnce(&Ctx<'_>) -> R) -> (R, Vec<SetCookie>) {
        let cookies = RefCell::new(Vec::new());
        let ctx = Ctx::new(app, NOW, None, Transport::Http, &cookies);
        let out = f(&ctx);
        (out, cookies.into_inner())
    }

    /// A callback request carrying the signed state cookie for `state`.
    fn callback_with_cookie(app: &App, state: &str) -> Request {
        let c = app
            .cookies
            .signed(app.config.secret.expose(), "state", state, Some(COOKIE_MAX_AGE));
        Request::get("/callback").with_header("cookie", &format!("{}={}", c.name, c.value))
    }

    fn consume_as(app: &App, req: &Request, state: &str) -> (Result<StateData, StateFailure>, Vec<SetCookie>) {
        let (out, cookies) = with_ctx(app, |ctx| consume(ctx, req, state));
        (out.expect("storage"), cookies)
    }

    fn failure(r: Result<StateData, StateFailure>) -> (&'static str, Option<String>) {
        match r {
            Ok(data) => panic!("accepted: {}", data.callback_url),
            Err(f) => (f.code, f.error_url),
        }
    }

    /// Stores a state row with this JSON value, valid for an hour as a row.
    fn insert_row(app: &App, state: &str, value: Value) {
        let row = Verification {
            id: crypto::new_id(),
            identifier: state.to_string(),
            value: value.to_string(),
            expires_at: NOW + Duration::hours(1),
            created_at: NOW,
            updated_at: NOW,
        };
        app.storage.create_verification(&row).expect("stored");
    }

    fn full_state(additional: Option<Map<String, Value>>) -> NewState {
        NewState {
            callback_url: "/dashboard".into(),
            error_url: Some("/error".into()),
            new_user_url: Some("/welcome".into()),
            link: Some(LinkTarget {
                user_id: "u1".into(),
                email: "a@b.c".into(),
            }),
            request_sign_up: Some(true),
            id_token_nonce: Some("nonce".into()),
            additional_data: additional,
        }
    }

    fn object(v: Value) -> Option<Map<String, Value>> {
        v.as_object().cloned()
    }

    #[test]
    fn create_stores_the_flow_under_the_state_and_sets_its_signed_cookie() {
        let app = app();
        let extra = object(json!({"invite": "x", "callbackURL": "https://evil.com", "link": {"userId": "admin"}}));
        let ((state, verifier), cookies) = with_ctx(&app, |ctx| create(ctx, full_state(extra)).expect("created"));

        assert_eq!((state.len(), verifier.len()), (32, 128));
        assert!(state
            .bytes()
            .chain(verifier.bytes())
            .all(|b| STATE_ALPHABET.contains(&b)));
        assert_ne!(state, verifier);

        let row = app.storage.find_verification(&state).expect("storage").expect("a row");
        assert_eq!((row.expires_at, row.created_at), (NOW + Duration::minutes(10), NOW));
        let stored: Value = serde_json::from_str(&row.value).expect("JSON");
        assert_eq!(
            stored,
            json!({
                "invite": "x",
                "callbackURL": "/dashboard",
                "codeVerifier": verifier,
                "errorURL": "/error",
                "newUserURL": "/welcome",
                "link": {"userId": "u1", "email": "a@b.c"},
                "expiresAt": now_ms() + 600_000,
                "requestSignUp": true,
                "idTokenNonce": "nonce",
                "oauthState": state,
            })
        );

        let [cookie] = cookies.as_slice() else {
            panic!("cookies: {cookies:?}")
        };
        assert_eq!((cookie.name.as_str(), cookie.max_age), ("better-auth.state", Some(300)));
        let header = format!("{}={}", cookie.name, cookie.value);
        let secret = app.config.secret.expose();
        assert_eq!(app.cookies.read_signed(secret, Some(&header), "state"), Some(state));
    }

    #[test]
    fn client_data_cannot_supply_a_reserved_key_the_flow_leaves_unset() {
        let app = app();
        let extra = object(json!({
            "keep": 1,
            "errorURL": "https://evil.com",
            "newUserURL": "https://evil.com",
            "link": {"userId": "admin", "email": "admin@x"},
            "requestSignUp": true,
            "idTokenNonce": "n",
            "serverContext": {"a": 1},
            "expiresAt": i64::MAX,
            "oauthState": "s",
            "codeVerifier": "v",
        }));
        let new = NewState {
            callback_url: "/cb".into(),
            error_url: None,
            new_user_url: None,
            link: None,
            request_sign_up: None,
            id_token_nonce: None,
            additional_data: extra,
        };
        let ((state, verifier), _) = with_ctx(&app, |ctx| create(ctx, new).expect("created"));
        let row = app.storage.find_verification(&state).expect("storage").expect("a row");
        let stored: Value = serde_json::from_str(&row.value).expect("JSON");
        assert_eq!(
            stored,
            json!({
                "keep": 1,
                "callbackURL": "/cb",
                "codeVerifier": verifier,
                "expiresAt": now_ms() + 600_000,
                "oauthState": state,
            })
        );
    }

    #[test]
    fn a_callback_with_the_state_cookie_gets_the_flow_once() {
        let app = app();
        let ((state, verifier), _) = with_ctx(&app, |ctx| create(ctx, full_state(None)).expect("created"));
        let req = callback_with_cookie(&app, &state);

        let (data, cookies) = consume_as(&app, &req, &state);
        let Ok(data) = data else {
            panic!("refused: {:?}", data.err())
        };
        assert_eq!(
            (data.callback_url.as_str(), data.code_verifier.as_str()),
            ("/dashboard", verifier.as_str())
        );
        assert_eq!(
            (data.error_url.as_deref(), data.new_user_url.as_deref()),
            (Some("/error"), Some("/welcome"))
        );
        let link = data.link.expect("link");
        assert_eq!((link.user_id.as_str(), link.email.as_str()), ("u1", "a@b.c"));
        assert_eq!(
            (data.request_sign_up, data.id_token_nonce.as_deref()),
            (Some(true), Some("nonce"))
        );
        // The state cookie is cleared.
        let [cookie] = cookies.as_slice() else {
            panic!("cookies: {cookies:?}")
        };
        assert_eq!(
            (cookie.name.as_str(), cookie.is_deletion()),
            ("better-auth.state", true)
        );

        // The row is gone: a replay is a mismatch, with no error URL left to read.
        let (replay, _) = consume_as(&app, &req, &state);
        assert_eq!(failure(replay), ("state_mismatch", None));
    }

    #[test]
    fn without_its_signed_cookie_a_state_is_refused_and_kept() {
        let app = app();
        let ((state, _), _) = with_ctx(&app, |ctx| create(ctx, full_state(None)).expect("created"));
        let name = app.cookies.name("state");
        let other_secret = app
            .cookies
            .signed("another secret of at least 32 chars", "state", &state, None);
        for req in [
            Request::get("/callback"),
            callback_with_cookie(&app, "another-state"),
            Request::get("/callback").with_header("cookie", &format!("{name}={state}")),
            Request::get("/callback").with_header("cookie", &format!("{name}={}", other_secret.value)),
        ] {
            let (out, cookies) = consume_as(&app, &req, &state);
            assert_eq!(failure(out), ("state_mismatch", Some("/error".into())));
            assert!(cookies.is_empty(), "{cookies:?}");
        }
        // A request without the cookie cannot burn the browser's flow.
        let (out, _) = consume_as(&app, &callback_with_cookie(&app, &state), &state);
        assert!(out.is_ok());
    }

    #[test]
    fn an_unknown_state_is_a_mismatch() {
        let app = app();
        let (out, _) = consume_as(&app, &callback_with_cookie(&app, "nope"), "nope");
        assert_eq!(failure(out), ("state_mismatch", None));
    }

    #[test]
    fn a_state_past_its_expiry_is_refused() {
        let app = app();
        let row = |expires_at: i64| json!({"callbackURL": "/cb", "codeVerifier": "v", "errorURL": "/e", "expiresAt": expires_at});
        // Better Auth refuses `expiresAt < now`: the last millisecond still counts.
        insert_row(&app, "last", row(now_ms()));
        let (out, _) = consume_as(&app, &callback_with_cookie(&app, "last"), "last");
        assert!(out.is_ok());
        insert_row(&app, "late", row(now_ms() - 1));
        let (out, _) = consume_as(&app, &callback_with_cookie(&app, "late"), "late");
        assert_eq!(failure(out), ("state_mismatch", Some("/e".into())));
    }

    #[test]
    fn a_row_naming_another_state_is_a_mismatch() {
        let app = app();
        let base = json!({"callbackURL": "/cb", "codeVerifier": "v", "errorURL": "/e", "expiresAt": now_ms()});
        let mut other = base.clone();
        other["oauthState"] = json!("other");
        insert_row(&app, "s1", other);
        let (out, _) = consume_as(&app, &callback_with_cookie(&app, "s1"), "s1");
        assert_eq!(failure(out), ("state_mismatch", Some("/e".into())));
        // Rows without `oauthState` (written before it existed) are accepted, as in Better Auth.
        insert_row(&app, "s2", base);
        let (out, _) = consume_as(&app, &callback_with_cookie(&app, "s2"), "s2");
        assert!(out.is_ok());
    }

    #[test]
    fn a_malformed_row_is_an_internal_error() {
        let app = app();
        let valid = json!({"callbackURL": "/cb", "codeVerifier": "v", "expiresAt": now_ms(), "errorURL": "/e"});
        let mut rows = vec![Value::String("not an object".into())];
        for (key, bad) in [
            ("callbackURL", Value::Null),
            ("codeVerifier", json!(5)),
            ("expiresAt", json!("soon")),
        ] {
            let mut row = valid.clone();
            row[key] = bad;
            rows.push(row);
        }
        for (i, row) in rows.into_iter().enumerate() {
            let state = format!("bad{i}");
            insert_row(&app, &state, row.clone());
            let (out, _) = consume_as(&app, &callback_with_cookie(&app, &state), &state);
            assert_eq!(failure(out), ("internal_server_error", None), "{row}");
        }
        // Not JSON at all.
        let row = Verification {
            id: crypto::new_id(),
            identifier: "garbled".into(),
            value: "{".into(),
            expires_at: NOW + Duration::hours(1),
            created_at: NOW,
            updated_at: NOW,
        };
        app.storage.create_verification(&row).expect("stored");
        let (out, _) = consume_as(&app, &callback_with_cookie(&app, "garbled"), "garbled");
        assert_eq!(failure(out), ("internal_server_error", None));
    }

    #[test]
    fn a_link_needs_an_email_and_its_user_id_is_read_as_a_string() {
        let app = app();
        let cases = [
            (json!({"userId": 42, "email": "a@b.c"}), Some(("42", "a@b.c"))),
            (json!({"userId": "u"}), None),
            (json!({"email": "a@b.c"}), None),
        ];
        for (i, (link, expected)) in cases.into_iter().enumerate() {
            let state = format!("link{i}");
            let row = json!({"callbackURL": "/cb", "codeVerifier": "v", "expiresAt": now_ms(), "link": link});
            insert_row(&app, &state, row);
            let (out, _) = consume_as(&app, &callback_with_cookie(&app, &state), &state);
            let Ok(data) = out else {
                panic!("refused: {:?}", out.err())
            };
            let got = data.link.as_ref().map(|l| (l.user_id.as_str(), l.email.as_str()));
            assert_eq!(got, expected, "{link}");
            assert_eq!(
                (data.request_sign_up, data.new_user_url, data.id_token_nonce),
                (None, None, None)
            );
        }
    }
}
