//! Key pairs as JWKs: generation for each algorithm, and turning a stored private JWK (ours or
//! one Better Auth generated) into a signing key.
//!
//! Generation uses RustCrypto (`ed25519-dalek`, `p256`, `rsa`); parsing and signing use `ring`,
//! so RSA private-key operations never run on the `rsa` crate (RUSTSEC-2023-0071 is about its
//! non-constant-time private operations; here it only generates keys). JWK members are emitted in the order Node's
//! WebCrypto exports them, as Better Auth stores them.

use anyhow::{anyhow, bail, Context};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use ring::rand::SystemRandom;
use ring::signature;
use serde_json::{Map, Value};

use super::JwtAlg;

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

/// A parsed private key, ready to sign many times (built once per key and cached by the
/// caller: parsing validates the key, which costs more than a signature).
pub enum Signer {
    Ed25519(signature::Ed25519KeyPair),
    P256(signature::EcdsaKeyPair),
    Rsa(signature::RsaKeyPair),
}

impl Signer {
    /// The JWS signature of `message` (for ES256 the fixed-size `r ‖ s` JWS wants).
    pub fn sign(&self, message: &[u8]) -> anyhow::Result<Vec<u8>> {
        let rng = SystemRandom::new();
        match self {
            Signer::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
            Signer::P256(pair) => Ok(pair
                .sign(&rng, message)
                .map_err(|_| anyhow!("ES256 signing failed"))?
                .as_ref()
                .to_vec()),
            Signer::Rsa(pair) => {
                let mut sig = vec![0; pair.public().modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .map_err(|_| anyhow!("RS256 signing failed"))?;
                Ok(sig)
            }
        }
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

/// The signer for a stored private JWK (ours or Better Auth's), checked against the
/// algorithm; `ring` rejects a key whose public and private parts disagree.
pub fn signer(alg: JwtAlg, private_jwk: &Value) -> anyhow::Result<Signer> {
    fn rejected(what: &'static str) -> impl Fn(ring::error::KeyRejected) -> anyhow::Error {
        move |e| anyhow!("{what} JWK rejected: {e}")
    }
    match alg {
        JwtAlg::EdDSA => {
            expect(private_jwk, "kty", "OKP")?;
            expect(private_jwk, "crv", "Ed25519")?;
            let pair = signature::Ed25519KeyPair::from_seed_and_public_key(
                &member(private_jwk, "d")?,
                &member(private_jwk, "x")?,
            )
            .map_err(rejected("Ed25519"))?;
            Ok(Signer::Ed25519(pair))
        }
        JwtAlg::ES256 => {
            expect(private_jwk, "kty", "EC")?;
            expect(private_jwk, "crv", "P-256")?;
            let mut point = vec![0x04];
            point.extend(member(private_jwk, "x")?);
            point.extend(member(private_jwk, "y")?);
            let pair = signature::EcdsaKeyPair::from_private_key_and_public_key(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &member(private_jwk, "d")?,
                &point,
                &SystemRandom::new(),
            )
            .map_err(rejected("P-256"))?;
            Ok(Signer::P256(pair))
        }
        JwtAlg::RS256 => {
            expect(private_jwk, "kty", "RSA")?;
            let m = |name: &str| member(private_jwk, name);
            let components = ring::rsa::KeyPairComponents {
                public_key: ring::rsa::PublicKeyComponents { n: m("n")?, e: m("e")? },
                d: m("d")?,
                p: m("p")?,
                q: m("q")?,
                dP: m("dp")?,
                dQ: m("dq")?,
                qInv: m("qi")?,
            };
            let pair = signature::RsaKeyPair::from_components(&components).map_err(rejected("RSA"))?;
            Ok(Signer::Rsa(pair))
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
            let s = signer(alg, &Value::Object(pair.private_jwk)).unwrap();
            assert!(!s.sign(b"message").unwrap().is_empty());
        }
    }

    #[test]
    fn mismatched_or_broken_jwks_are_refused() {
        let ed = Value::Object(generate(JwtAlg::EdDSA).unwrap().private_jwk);
        assert!(signer(JwtAlg::ES256, &ed).is_err());
        let mut wrong_x = ed.clone();
        wrong_x["x"] = b64(&[7; 32]);
        assert!(signer(JwtAlg::EdDSA, &wrong_x).is_err());
        let mut short = ed;
        short["d"] = b64(&[1; 5]);
        assert!(signer(JwtAlg::EdDSA, &short).is_err());
        assert!(signer(JwtAlg::RS256, &serde_json::json!({"kty": "RSA"})).is_err());
    }
}
