//! The jwt plugin: `GET /token`, `GET /jwks`, `set-auth-jwt` on get-session, the claims, key
//! creation, reuse and storage, and the three algorithms. Interoperability (Better Auth's rows,
//! PyJWT, the storage contract) is in `plugin_jwt_interop.rs`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use sesame::clock::Clock;
use sesame::http::Request;
use sesame::plugins::jwt::{seal, JwtAlg};
use sesame::App;

use crate::support::{assert_error, json_body, Backend, TestApp, BASE};

pub(crate) fn jwt_app(backend: Backend, alg: JwtAlg) -> TestApp {
    TestApp::with_config(backend, |c| {
        c.plugins = vec!["jwt".into()];
        c.jwt.alg = alg;
    })
}

/// Header and payload of a compact JWT, decoded without verification.
pub(crate) fn decode(token: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "not a compact JWS: {token}");
    let part = |s: &str| serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap();
    (part(parts[0]), part(parts[1]))
}

pub(crate) fn token(t: &TestApp, cookies: &str) -> String {
    let resp = t.get("/token", Some(cookies));
    assert_eq!(resp.status, 200, "{}", crate::support::body_text(&resp));
    let body = json_body(&resp);
    assert_eq!(body.as_object().unwrap().len(), 1, "only `token`: {body}");
    body["token"].as_str().unwrap().to_string()
}

pub(crate) fn jwks(t: &TestApp) -> Value {
    let resp = t.get("/jwks", None);
    assert_eq!(resp.status, 200);
    assert!(resp.header("content-type").unwrap().starts_with("application/json"));
    json_body(&resp)
}

/// Verifies the token's signature, `iss` and `aud` against a JWKS with `jsonwebtoken`
/// (expiry is checked by the callers against the app's fixed clock).
pub(crate) fn verify(token: &str, key_set: &Value, iss: &str, aud: &str) -> Value {
    let (header, _) = decode(token);
    let kid = header["kid"].as_str().unwrap();
    let entry = key_set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap_or_else(|| panic!("kid {kid} is not in {key_set}"));
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(entry.clone()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
    let alg: jsonwebtoken::Algorithm = serde_json::from_value(header["alg"].clone()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(alg);
    validation.validate_exp = false;
    validation.set_issuer(&[iss]);
    validation.set_audience(&[aud]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap_or_else(|e| panic!("{e}: {token}"))
        .claims
}

fn token_needs_a_session(backend: Backend) {
    let t = TestApp::with_config(backend, |c| c.plugins = vec!["jwt".into()]);
    assert_error(&t.get("/token", None), 401, "UNAUTHORIZED");
    assert_error(
        &t.get("/token", Some("better-auth.session_token=forged.sig")),
        401,
        "UNAUTHORIZED",
    );
    assert!(
        t.storage().list_jwks().unwrap().is_empty(),
        "no key is made for a refused call"
    );
    let resp = t.send(Request::post(&format!("{BASE}/token")));
    assert_eq!(resp.status, 405);
    // Without the plugin the routes do not exist.
    let plain = TestApp::new(backend);
    assert_eq!(plain.get("/token", None).status, 404);
    assert_eq!(plain.get("/jwks", None).status, 404);
}

fn token_claims_follow_better_auth(backend: Backend) {
    let t = jwt_app(backend, JwtAlg::EdDSA);
    let (signup, cookies) = t.sign_up("jwt@example.com");
    let user = json_body(&signup)["user"].clone();
    let token = token(&t, &cookies);
    let (header, claims) = decode(&token);
    let kid = header["kid"].as_str().unwrap().to_string();
    assert_eq!(
        header,
        json!({"alg": "EdDSA", "kid": kid}),
        "header is exactly alg, kid"
    );
    let iat = t.clock.now().unix_timestamp();
    let mut expected = serde_json::Map::new();
    expected.insert("iat".into(), json!(iat));
    for (k, v) in user.as_object().unwrap() {
        expected.insert(k.clone(), v.clone());
    }
    expected.insert("sub".into(), user["id"].clone());
    expected.insert("exp".into(), json!(iat + 900));
    expected.insert("iss".into(), json!("http://localhost:3000"));
    expected.insert("aud".into(), json!("http://localhost:3000"));
    assert_eq!(claims, Value::Object(expected.clone()));
    let order: Vec<&String> = claims.as_object().unwrap().keys().collect();
    assert_eq!(order, expected.keys().collect::<Vec<_>>(), "Better Auth's claim order");
    let verified = verify(&token, &jwks(&t), "http://localhost:3000", "http://localhost:3000");
    assert_eq!(verified["sub"], user["id"]);
}

fn claims_follow_configuration(backend: Backend) {
    let t = TestApp::with_config(backend, |c| {
        c.plugins = vec!["jwt".into()];
        c.jwt.issuer = Some("https://issuer.example".into());
        c.jwt.audience = vec!["api-a".into(), "api-b".into()];
        c.jwt.expires_in = 3600;
    });
    let (_, cookies) = t.sign_up("jwt-config@example.com");
    let token = token(&t, &cookies);
    let (_, claims) = decode(&token);
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600);
    assert_eq!(claims["iss"], "https://issuer.example");
    assert_eq!(claims["aud"], json!(["api-a", "api-b"]));
    verify(&token, &jwks(&t), "https://issuer.example", "api-b");
}

fn jwks_publishes_public_keys_only(backend: Backend) {
    let t = jwt_app(backend, JwtAlg::EdDSA);
    let set = jwks(&t);
    assert_eq!(set.as_object().unwrap().len(), 1, "only `keys`: {set}");
    let keys = set["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "the first call creates one key: {set}");
    let key = keys[0].as_object().unwrap();
    let names: Vec<&str> = key.keys().map(String::as_str).collect();
    assert_eq!(names, ["alg", "crv", "x", "kty", "kid"]);
    assert_eq!(key["alg"], "EdDSA");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["kty"], "OKP");
    assert_eq!(URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap()).unwrap().len(), 32);
    let stored = t.storage().list_jwks().unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(key["kid"], stored[0].id.as_str());
    // The same set on the next call: no second key.
    assert_eq!(jwks(&t), set);
}

fn get_session_carries_set_auth_jwt_only_when_signed_in(backend: Backend) {
    let t = jwt_app(backend, JwtAlg::EdDSA);
    let anon = t.get("/get-session", None);
    assert_eq!(anon.status, 200);
    assert_eq!(json_body(&anon), Value::Null);
    assert!(anon.header("set-auth-jwt").is_none());
    assert!(anon.header("access-control-expose-headers").is_none());

    let (signup, cookies) = t.sign_up("jwt-session@example.com");
    assert!(
        signup.header("set-auth-jwt").is_none(),
        "only get-session gets the header"
    );
    let resp = t.get("/get-session", Some(&cookies));
    assert_eq!(resp.status, 200);
    let jwt = resp
        .header("set-auth-jwt")
        .expect("set-auth-jwt on a signed-in get-session");
    assert_eq!(resp.header("access-control-expose-headers"), Some("set-auth-jwt"));
    let user = &json_body(&resp)["user"];
    let claims = verify(jwt, &jwks(&t), "http://localhost:3000", "http://localhost:3000");
    assert_eq!(claims["sub"], user["id"]);
    assert_eq!(claims["email"], "jwt-session@example.com");
    // Same clock, same user, same key: the header is the /token answer.
    assert_eq!(jwt, token(&t, &cookies));
    // The in-process API (Better Auth's auth.api.getSession / getToken) runs the same hook.
    let out = t
        .app
        .call_with_headers("getSession", sesame::ApiInput::new().header("cookie", &cookies))
        .unwrap();
    assert!(out.headers.iter().any(|(k, v)| k == "set-auth-jwt" && v == jwt));
    let data = t
        .app
        .call("getToken", sesame::ApiInput::new().header("cookie", &cookies))
        .unwrap();
    assert_eq!(data["token"], jwt);
    // Other endpoints are left alone.
    assert!(t.get("/list-sessions", Some(&cookies)).header("set-auth-jwt").is_none());

    // With bearer enabled too, both headers are exposed.
    let t = TestApp::with_config(backend, |c| c.plugins = vec!["bearer".into(), "jwt".into()]);
    let (signup, _) = t.sign_up("jwt-bearer@example.com");
    let bearer = signup.header("set-auth-token").unwrap().to_string();
    let resp =
        t.send(Request::get(&format!("{BASE}/get-session")).with_header("authorization", &format!("Bearer {bearer}")));
    assert!(resp.header("set-auth-jwt").is_some());
    let exposed = resp.header("access-control-expose-headers").unwrap();
    assert!(exposed.contains("set-auth-jwt"), "{exposed}");
}

fn keys_are_reused_and_persisted(backend: Backend) {
    let t = jwt_app(backend, JwtAlg::EdDSA);
    let (_, cookies) = t.sign_up("jwt-reuse@example.com");
    let kid = |tok: &str| decode(tok).0["kid"].as_str().unwrap().to_string();
    let first = kid(&token(&t, &cookies));
    t.clock.advance(time::Duration::minutes(5));
    assert_eq!(kid(&token(&t, &cookies)), first);
    assert_eq!(t.storage().list_jwks().unwrap().len(), 1);

    // A new App over the same storage (a restart) signs with the stored key.
    let again = App::new(t.app.config.clone(), t.app.storage.clone(), t.clock.clone()).unwrap();
    let resp = again.handle_http(Request::get(&format!("{BASE}/token")).with_header("cookie", &cookies));
    assert_eq!(resp.status, 200);
    assert_eq!(kid(json_body(&resp)["token"].as_str().unwrap()), first);
    assert_eq!(t.storage().list_jwks().unwrap().len(), 1);
}

fn concurrent_first_use_makes_one_key(backend: Backend) {
    let t = jwt_app(backend, JwtAlg::EdDSA);
    let (_, cookies) = t.sign_up("jwt-race@example.com");
    let kids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| s.spawn(|| decode(&token(&t, &cookies)).0["kid"].as_str().unwrap().to_string()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(kids.iter().all(|k| *k == kids[0]), "{kids:?}");
    assert_eq!(t.storage().list_jwks().unwrap().len(), 1);
}

fn other_algorithms_can_be_selected(backend: Backend) {
    for (alg, kty, members) in [
        (JwtAlg::ES256, "EC", &["alg", "crv", "kty", "x", "y", "kid"][..]),
        (JwtAlg::RS256, "RSA", &["alg", "kty", "n", "e", "kid"][..]),
    ] {
        let t = jwt_app(backend, alg);
        let (_, cookies) = t.sign_up("jwt-alg@example.com");
        let token = token(&t, &cookies);
        let (header, _) = decode(&token);
        assert_eq!(header["alg"], alg.name());
        let set = jwks(&t);
        let key = set["keys"][0].as_object().unwrap();
        assert_eq!(key["kty"], kty);
        assert_eq!(key.keys().map(String::as_str).collect::<Vec<_>>(), members);
        assert_eq!(key["alg"], alg.name());
        let stored = &t.storage().list_jwks().unwrap()[0];
        assert_eq!(stored.alg.as_deref(), Some(alg.name()));
        assert_eq!(stored.crv.as_deref(), (alg == JwtAlg::ES256).then_some("P-256"));
        verify(&token, &set, "http://localhost:3000", "http://localhost:3000");
        if alg == JwtAlg::RS256 {
            let n = URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap();
            assert_eq!(n.len(), 256, "2048-bit modulus");
        }
    }
}

fn private_keys_are_stored_encrypted(backend: Backend) {
    let t = jwt_app(backend, JwtAlg::EdDSA);
    jwks(&t);
    let row = &t.storage().list_jwks().unwrap()[0];
    let public: Value = serde_json::from_str(&row.public_key).unwrap();
    assert!(public.get("d").is_none(), "no private part in publicKey");
    let column: String = serde_json::from_str(&row.private_key).expect("a JSON string");
    assert!(column.bytes().all(|b| b.is_ascii_hexdigit()), "hex ciphertext only");
    let secret = t.app.config.secret.expose();
    let private: Value = serde_json::from_str(&seal::open(secret, &row.private_key).unwrap()).unwrap();
    let d = private["d"].as_str().unwrap();
    assert_eq!(private["x"], public["x"]);
    assert!(!row.private_key.contains(d), "the raw key is not stored");
    let raw_hex: String = URL_SAFE_NO_PAD
        .decode(d)
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(!row.private_key.contains(&raw_hex), "not the raw key bytes either");
    assert!(seal::open("another-secret-0123456789abcdef0123", &row.private_key).is_err());

    // Under another secret the stored key cannot sign: a logged 500, and get-session still
    // answers (without the header).
    let mut config = t.app.config.clone();
    config.secret = sesame::config::Secret::new("another-secret-0123456789abcdef0123");
    // Same storage (and PostgreSQL schema, kept alive by `t`), another secret.
    let other = TestApp::with_storage(config, t.app.storage.clone(), None);
    let (_, cookies) = other.sign_up("jwt-secret@example.com");
    assert_error(&other.get("/token", Some(&cookies)), 500, "INTERNAL_SERVER_ERROR");
    let resp = other.get("/get-session", Some(&cookies));
    assert_eq!(resp.status, 200);
    assert!(resp.header("set-auth-jwt").is_none());
}

/// `sign_jwt` (Better Auth's server-only `signJWT`) keeps the caller's claims and adds the
/// missing exp, iss and aud.
fn sign_jwt_signs_a_custom_payload(backend: Backend) {
    let t = jwt_app(backend, JwtAlg::EdDSA);
    let payload = json!({"sub": "service-a", "scope": "read", "exp": 2_000_000_000_i64});
    let token = sesame::plugins::jwt::sign_jwt(&t.app, payload.as_object().unwrap().clone()).unwrap();
    let claims = verify(&token, &jwks(&t), "http://localhost:3000", "http://localhost:3000");
    assert_eq!(
        claims,
        json!({"sub": "service-a", "scope": "read", "exp": 2_000_000_000_i64,
               "iss": "http://localhost:3000", "aud": "http://localhost:3000"})
    );
}

crate::backend_suite!(
    token_needs_a_session,
    token_claims_follow_better_auth,
    claims_follow_configuration,
    jwks_publishes_public_keys_only,
    get_session_carries_set_auth_jwt_only_when_signed_in,
    keys_are_reused_and_persisted,
    concurrent_first_use_makes_one_key,
    other_algorithms_can_be_selected,
    private_keys_are_stored_encrypted,
    sign_jwt_signs_a_custom_payload,
);
