//! The jwt plugin's interoperability: rows Better Auth wrote are used as they are, PyJWT
//! verifies Sesame's tokens over a real socket, and `JwksStore` behaves alike on every backend.

use std::process::Command;

use serde_json::Value;
use sesame::clock::Clock;
use sesame::plugins::jwt::JwtAlg;
use sesame::storage::Jwk;

use crate::plugin_jwt::{decode, jwt_app, token, verify};
use crate::support::{http_client, json_body, Backend, TestApp, BASE};

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
        let dir = std::env::temp_dir().join(format!(
            "sesame-pyjwt-{}-{}-{:?}",
            std::process::id(),
            alg.name(),
            backend
        ));
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

crate::backend_suite!(
    better_auth_rows_are_used_as_they_are,
    pyjwt_verifies_tokens_against_the_served_jwks,
    jwks_store_contract,
);
