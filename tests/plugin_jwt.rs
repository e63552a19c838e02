//! The jwt plugin: `GET /token`, `GET /jwks`, `set-auth-jwt` on get-session, the claims, key
//! creation, reuse and storage, the three algorithms, Better Auth's own rows, and verification
//! by an independent implementation (PyJWT) over a real socket.

use std::process::Command;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use sesame::clock::Clock;
use sesame::http::Request;
use sesame::plugins::jwt::{seal, JwtAlg};
use sesame::storage::Jwk;
use sesame::App;

use crate::support::{assert_error, http_client, json_body, Backend, TestApp, BASE};

fn jwt_app(backend: Backend, alg: JwtAlg) -> TestApp {
    TestApp::with_config(backend, |c| {
        c.plugins = vec!["jwt".into()];
        c.jwt.alg = alg;
    })
}

/// Header and payload of a compact JWT, decoded without verification.
fn decode(token: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "not a compact JWS: {token}");
    let part = |s: &str| serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap();
    (part(parts[0]), part(parts[1]))
}

fn token(t: &TestApp, cookies: &str) -> String {
    let resp = t.get("/token", Some(cookies));
    assert_eq!(resp.status, 200, "{}", crate::support::body_text(&resp));
    let body = json_body(&resp);
    assert_eq!(body.as_object().unwrap().len(), 1, "only `token`: {body}");
    body["token"].as_str().unwrap().to_string()
}

fn jwks(t: &TestApp) -> Value {
    let resp = t.get("/jwks", None);
    assert_eq!(resp.status, 200);
    assert!(resp.header("content-type").unwrap().starts_with("application/json"));
    json_body(&resp)
}

/// Verifies the token's signature, `iss` and `aud` against a JWKS with `jsonwebtoken`
/// (expiry is checked by the callers against the app's fixed clock).
fn verify(token: &str, key_set: &Value, iss: &str, aud: &str) -> Value {
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

/// Rows Better Auth 1.7.25 wrote (fixtures/better-auth-jwks.json, same secret and base URL as
/// the tests): Sesame publishes them byte for byte as Better Auth does, signs with them, and
/// the tokens Better Auth signed verify against Sesame's set.
fn better_auth_rows_are_used_as_they_are(backend: Backend) {
    let fixture: Value = serde_json::from_str(include_str!("../fixtures/better-auth-jwks.json")).unwrap();
    for key in fixture["keys"].as_array().unwrap() {
        let alg = JwtAlg::from_name(key["alg"].as_str().unwrap()).unwrap();
        let t = jwt_app(backend, alg);
        assert_eq!(t.app.config.secret.expose(), fixture["secret"]);
        let row = &key["row"];
        let created = time::OffsetDateTime::parse(
            row["createdAt"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        t.storage()
            .create_jwk(&Jwk {
                id: row["id"].as_str().unwrap().into(),
                public_key: row["publicKey"].as_str().unwrap().into(),
                private_key: row["privateKey"].as_str().unwrap().into(),
                created_at: created,
                expires_at: None,
                alg: row["alg"].as_str().map(String::from),
                crv: row["crv"].as_str().map(String::from),
            })
            .unwrap();
        let resp = t.get("/jwks", None);
        assert_eq!(
            crate::support::body_text(&resp),
            key["jwks"].as_str().unwrap(),
            "{alg:?}"
        );
        let set = json_body(&resp);
        verify(
            key["token"].as_str().unwrap(),
            &set,
            "http://localhost:3000",
            "http://localhost:3000",
        );
        let (_, cookies) = t.sign_up("jwt-fixture@example.com");
        let ours = token(&t, &cookies);
        assert_eq!(decode(&ours).0["kid"], row["id"]);
        verify(&ours, &set, "http://localhost:3000", "http://localhost:3000");
        assert_eq!(t.storage().list_jwks().unwrap().len(), 1);
    }
}

/// `JwksStore` semantics on each backend: newest live key of an algorithm (rows without an
/// alg match any), ties by id, expiry, listing order, duplicate ids.
fn jwks_store_contract(backend: Backend) {
    let t = TestApp::new(backend);
    let s = t.storage();
    let now = t.clock.now();
    let row = |id: &str, minutes: i64, alg: Option<&str>, expires: Option<i64>| Jwk {
        id: id.into(),
        public_key: format!(r#"{{"kid-hint":"{id}"}}"#),
        private_key: "\"00\"".into(),
        created_at: now + time::Duration::minutes(minutes),
        expires_at: expires.map(|m| now + time::Duration::minutes(m)),
        alg: alg.map(String::from),
        crv: None,
    };
    assert_eq!(s.latest_jwk("EdDSA", now).unwrap(), None);
    assert!(s.list_jwks().unwrap().is_empty());
    s.create_jwk(&row("b-ed", 0, Some("EdDSA"), None)).unwrap();
    s.create_jwk(&row("a-ed", 0, Some("EdDSA"), None)).unwrap();
    s.create_jwk(&row("rs", 5, Some("RS256"), None)).unwrap();
    assert!(matches!(
        s.create_jwk(&row("rs", 9, Some("RS256"), None)),
        Err(sesame::storage::StorageError::Conflict(_))
    ));
    // Same createdAt: the larger id wins, on every backend.
    assert_eq!(s.latest_jwk("EdDSA", now).unwrap().unwrap().id, "b-ed");
    assert_eq!(s.latest_jwk("RS256", now).unwrap().unwrap().id, "rs");
    assert_eq!(s.latest_jwk("ES256", now).unwrap(), None);
    // A legacy row without alg counts for any algorithm; an expired one for none.
    s.create_jwk(&row("legacy", 1, None, None)).unwrap();
    s.create_jwk(&row("expired", 2, Some("EdDSA"), Some(3))).unwrap();
    assert_eq!(s.latest_jwk("ES256", now).unwrap().unwrap().id, "legacy");
    assert_eq!(s.latest_jwk("EdDSA", now).unwrap().unwrap().id, "expired");
    let later = now + time::Duration::minutes(3);
    assert_eq!(s.latest_jwk("EdDSA", later).unwrap().unwrap().id, "legacy");
    let listed: Vec<String> = s.list_jwks().unwrap().into_iter().map(|k| k.id).collect();
    assert_eq!(listed, ["a-ed", "b-ed", "legacy", "expired", "rs"]);
    let stored = s.list_jwks().unwrap().into_iter().find(|k| k.id == "expired").unwrap();
    assert_eq!(
        stored,
        row("expired", 2, Some("EdDSA"), Some(3)),
        "every column round-trips"
    );
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

/// PyJWT (with `cryptography`, i.e. OpenSSL) verifies tokens fetched over a real socket
/// against the JWKS served next to them, for each algorithm; a tampered token must fail.
fn pyjwt_verifies_tokens_against_the_served_jwks(backend: Backend) {
    let available = Command::new("python3")
        .args(["-c", "import jwt, cryptography"])
        .status()
        .is_ok_and(|s| s.success());
    if !available {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have PyJWT (pip install pyjwt cryptography)"
        );
        eprintln!("SKIP: python3 PyJWT/cryptography not installed; tokens were not verified independently");
        return;
    }
    for alg in [JwtAlg::EdDSA, JwtAlg::ES256, JwtAlg::RS256] {
        let t = jwt_app(backend, alg);
        // PyJWT checks exp and iat against the real clock.
        t.clock.set(time::OffsetDateTime::now_utc());
        let (signup, cookies) = t.sign_up("jwt-pyjwt@example.com");
        let user_id = json_body(&signup)["user"]["id"].as_str().unwrap().to_string();
        let server = http_client::spawn(t.app.clone());
        let token_resp = http_client::send(
            server.addr,
            "GET",
            &format!("{BASE}/token"),
            &[("cookie", &cookies)],
            b"",
        );
        assert_eq!(token_resp.status, 200);
        let session_resp = http_client::send(
            server.addr,
            "GET",
            &format!("{BASE}/get-session"),
            &[("cookie", &cookies)],
            b"",
        );
        let jwks_resp = http_client::send(server.addr, "GET", &format!("{BASE}/jwks"), &[], b"");
        server.stop();
        assert_eq!(jwks_resp.status, 200);
        let tokens = [
            token_resp.json()["token"].as_str().unwrap().to_string(),
            session_resp.header("set-auth-jwt").unwrap().to_string(),
        ];
        let dir = std::env::temp_dir().join(format!("sesame-pyjwt-{}-{}", std::process::id(), alg.name()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("jwks.json"), &jwks_resp.body).unwrap();
        std::fs::write(dir.join("tokens.json"), serde_json::to_vec(&tokens).unwrap()).unwrap();
        let out = Command::new("python3")
            .arg("-c")
            .arg(PYJWT_SCRIPT)
            .arg(dir.join("jwks.json"))
            .arg(dir.join("tokens.json"))
            .args([alg.name(), "http://localhost:3000", &user_id])
            .output()
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "PyJWT ({alg:?}): {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(stdout.trim(), format!("verified 2 {}", alg.name()));
    }
}

const PYJWT_SCRIPT: &str = r#"
import json, sys, jwt
jwks_path, tokens_path, alg, origin, sub = sys.argv[1:6]
keys = jwt.PyJWKSet.from_json(open(jwks_path).read())
tokens = json.load(open(tokens_path))
for token in tokens:
    kid = jwt.get_unverified_header(token)["kid"]
    key = keys[kid]
    claims = jwt.decode(token, key.key, algorithms=[alg], audience=origin, issuer=origin,
                        options={"require": ["exp", "iat", "sub", "iss", "aud"]})
    assert claims["sub"] == sub, claims
    head, body, sig = token.split(".")
    forged = jwt.utils.base64url_encode(json.dumps(dict(claims, sub="someone-else")).encode()).decode()
    try:
        jwt.decode(".".join([head, forged, sig]), key.key, algorithms=[alg], audience=origin, issuer=origin)
    except jwt.InvalidSignatureError:
        pass
    else:
        sys.exit("a tampered token verified")
print("verified", len(tokens), alg)
"#;

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
    better_auth_rows_are_used_as_they_are,
    sign_jwt_signs_a_custom_payload,
    jwks_store_contract,
    pyjwt_verifies_tokens_against_the_served_jwks,
);
