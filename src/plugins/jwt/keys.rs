//! Key pairs as JWKs: generation for each algorithm, and turning a stored private JWK (ours or
//! one Better Auth generated) into a signing key.
//!
//! Generation uses RustCrypto (`ed25519-dalek`, `p256`, `rsa`); signing goes through
//! `jsonwebtoken`, whose backend is `ring`, so RSA private-key operations never run on the
//! `rsa` crate (RUSTSEC-2023-0071 is about its non-constant-time private operations; here it
//! only generates keys and encodes them). JWK members are emitted in the order Node's
//! WebCrypto exports them, as Better Auth stores them.

use anyhow::{anyhow, bail, Context};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey};
use rand::rngs::OsRng;
use serde_json::{Map, Value};

use super::config::JwtAlg;

/// A freshly generated key pair.
pub struct KeyPair {
    pub public_jwk: Map<String, Value>,
    pub private_jwk: Map<String, Value>,
    /// The `crv` column: `Ed25519`, `P-256`, none for RSA.
    pub crv: Option<&'static str>,
}

/// RSA modulus size, Better Auth's (jose's) default.
const RSA_BITS: usize = 2048;

fn b64(bytes: &[u8]) -> Value {
    Value::String(URL_SAFE_NO_PAD.encode(bytes))
}

fn jwk(members: Vec<(&str, Value)>) -> Map<String, Value> {
    members.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

pub fn generate(alg: JwtAlg) -> anyhow::Result<KeyPair> {
    match alg {
        JwtAlg::EdDSA => {
            let key = ed25519_dalek::SigningKey::generate(&mut OsRng);
            let x = b64(key.verifying_key().as_bytes());
            let crv = Value::from("Ed25519");
            let kty = Value::from("OKP");
            Ok(KeyPair {
                public_jwk: jwk(vec![("crv", crv.clone()), ("x", x.clone()), ("kty", kty.clone())]),
                private_jwk: jwk(vec![("crv", crv), ("d", b64(&key.to_bytes())), ("x", x), ("kty", kty)]),
                crv: Some("Ed25519"),
            })
        }
        JwtAlg::ES256 => {
            let key = p256::SecretKey::random(&mut OsRng);
            let point = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&key.public_key(), false);
            let (Some(x), Some(y)) = (point.x(), point.y()) else {
                bail!("P-256 public key without coordinates");
            };
            let public = vec![
                ("kty", Value::from("EC")),
                ("x", b64(x)),
                ("y", b64(y)),
                ("crv", Value::from("P-256")),
            ];
            let mut private = public.clone();
            private.push(("d", b64(&key.to_bytes())));
            Ok(KeyPair {
                public_jwk: jwk(public),
                private_jwk: jwk(private),
                crv: Some("P-256"),
            })
        }
        JwtAlg::RS256 => {
            use rsa::traits::{PrivateKeyParts, PublicKeyParts};
            let key = rsa::RsaPrivateKey::new(&mut OsRng, RSA_BITS).context("RSA key generation")?;
            let [p, q] = key.primes() else {
                bail!("generated RSA key does not have two primes");
            };
            let (Some(dp), Some(dq), Some(qi)) = (key.dp(), key.dq(), key.crt_coefficient()) else {
                bail!("generated RSA key has no CRT values");
            };
            let public = vec![
                ("kty", Value::from("RSA")),
                ("n", b64(&key.n().to_bytes_be())),
                ("e", b64(&key.e().to_bytes_be())),
            ];
            let mut private = public.clone();
            private.extend([
                ("d", b64(&key.d().to_bytes_be())),
                ("p", b64(&p.to_bytes_be())),
                ("q", b64(&q.to_bytes_be())),
                ("dp", b64(&dp.to_bytes_be())),
                ("dq", b64(&dq.to_bytes_be())),
                ("qi", b64(&qi.to_bytes_be())),
            ]);
            Ok(KeyPair {
                public_jwk: jwk(public),
                private_jwk: jwk(private),
                crv: None,
            })
        }
    }
}

pub fn algorithm(alg: JwtAlg) -> Algorithm {
    match alg {
        JwtAlg::EdDSA => Algorithm::EdDSA,
        JwtAlg::ES256 => Algorithm::ES256,
        JwtAlg::RS256 => Algorithm::RS256,
    }
}

/// One base64url member of a JWK, decoded.
fn member(jwk: &Value, name: &str) -> anyhow::Result<Vec<u8>> {
    let text = jwk
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("private JWK has no {name:?}"))?;
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .with_context(|| format!("private JWK member {name:?} is not base64url"))
}

fn expect(jwk: &Value, name: &str, want: &str) -> anyhow::Result<()> {
    match jwk.get(name).and_then(Value::as_str) {
        Some(v) if v == want => Ok(()),
        other => bail!("private JWK has {name} {other:?}, expected {want:?}"),
    }
}

/// The signing key for a stored private JWK, checked against the algorithm.
pub fn encoding_key(alg: JwtAlg, private_jwk: &Value) -> anyhow::Result<EncodingKey> {
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;
    match alg {
        JwtAlg::EdDSA => {
            expect(private_jwk, "kty", "OKP")?;
            expect(private_jwk, "crv", "Ed25519")?;
            let d: [u8; 32] = member(private_jwk, "d")?
                .try_into()
                .map_err(|_| anyhow!("Ed25519 private key is not 32 bytes"))?;
            let key = ed25519_dalek::SigningKey::from_bytes(&d);
            if member(private_jwk, "x")? != key.verifying_key().as_bytes() {
                bail!("Ed25519 JWK: x does not match d");
            }
            let der = key.to_pkcs8_der().map_err(|e| anyhow!("Ed25519 PKCS#8: {e}"))?;
            Ok(EncodingKey::from_ed_der(der.as_bytes()))
        }
        JwtAlg::ES256 => {
            use p256::pkcs8::EncodePrivateKey as _;
            expect(private_jwk, "kty", "EC")?;
            expect(private_jwk, "crv", "P-256")?;
            let key =
                p256::SecretKey::from_slice(&member(private_jwk, "d")?).map_err(|_| anyhow!("P-256 JWK: invalid d"))?;
            let der = key.to_pkcs8_der().map_err(|e| anyhow!("P-256 PKCS#8: {e}"))?;
            Ok(EncodingKey::from_ec_der(der.as_bytes()))
        }
        JwtAlg::RS256 => {
            use rsa::pkcs1::EncodeRsaPrivateKey as _;
            use rsa::BigUint;
            expect(private_jwk, "kty", "RSA")?;
            let int = |name: &str| member(private_jwk, name).map(|b| BigUint::from_bytes_be(&b));
            let key = rsa::RsaPrivateKey::from_components(int("n")?, int("e")?, int("d")?, vec![int("p")?, int("q")?])
                .context("RSA JWK")?;
            let der = key.to_pkcs1_der().map_err(|e| anyhow!("RSA PKCS#1: {e}"))?;
            Ok(EncodingKey::from_rsa_der(der.as_bytes()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_webcrypto_member_order() {
        for (alg, public, private) in [
            (JwtAlg::EdDSA, "crv,x,kty", "crv,d,x,kty"),
            (JwtAlg::ES256, "kty,x,y,crv", "kty,x,y,crv,d"),
            (JwtAlg::RS256, "kty,n,e", "kty,n,e,d,p,q,dp,dq,qi"),
        ] {
            let pair = generate(alg).unwrap();
            let names = |m: &Map<String, Value>| m.keys().cloned().collect::<Vec<_>>().join(",");
            assert_eq!(names(&pair.public_jwk), public);
            assert_eq!(names(&pair.private_jwk), private);
            encoding_key(alg, &Value::Object(pair.private_jwk)).unwrap();
        }
    }

    #[test]
    fn mismatched_or_broken_jwks_are_refused() {
        let ed = Value::Object(generate(JwtAlg::EdDSA).unwrap().private_jwk);
        assert!(encoding_key(JwtAlg::ES256, &ed).is_err());
        let mut wrong_x = ed.clone();
        wrong_x["x"] = b64(&[7; 32]);
        assert!(encoding_key(JwtAlg::EdDSA, &wrong_x).is_err());
        let mut short = ed;
        short["d"] = b64(&[1; 5]);
        assert!(encoding_key(JwtAlg::EdDSA, &short).is_err());
        assert!(encoding_key(JwtAlg::RS256, &serde_json::json!({"kty": "RSA"})).is_err());
    }
}
