//! Body parsing and zod-style validation (`http::body::parse`, `endpoint::Schema`, with sign-up's
//! and sign-in's declared bodies) with arbitrary content types and bytes. Input:
//! `content type, '\n', body`. Oracle: no panic; failures are 400 or 415 with a code; a body
//! the schema accepts deserializes into the declared type.

use sesame::api::{SignInEmailBody, SignUpEmailBody, SIGN_IN_EMAIL, SIGN_OUT, SIGN_UP_EMAIL};
use sesame::http::body::{self, BodyKind};
use sesame::http::Request;

/// The oracle: panics on any violation. Fed by libFuzzer (`fuzz_targets/`) and, on stable,
/// by the corpus replay test (`tests/fuzz_replay.rs`).
pub fn check(data: &[u8]) {
    let (ct, payload) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b"application/json"[..], data),
    };
    let ct = String::from_utf8_lossy(ct);
    for kind in [BodyKind::Json, BodyKind::JsonOrForm] {
        let req = Request::post("/x").with_body(&ct, payload);
        match body::parse(&req, kind) {
            Ok(parsed) => {
                if SIGN_UP_EMAIL.endpoint.validate(parsed.as_ref(), &req).is_ok() {
                    let v = parsed.clone().unwrap_or_default();
                    let b: SignUpEmailBody = serde_json::from_value(v).expect("a valid body deserializes");
                    let _ = sesame::auth::email::normalize(&b.email);
                }
                if SIGN_IN_EMAIL.endpoint.validate(parsed.as_ref(), &req).is_ok() {
                    let v = parsed.clone().unwrap_or_default();
                    let _: SignInEmailBody = serde_json::from_value(v).expect("a valid body deserializes");
                }
                if let Err(e) = SIGN_OUT.endpoint.validate(parsed.as_ref(), &req) {
                    assert_eq!((e.status, e.code.as_ref()), (400, "VALIDATION_ERROR"));
                }
            }
            Err(e) => {
                assert!(e.status == 400 || e.status == 415, "{e}");
                assert!(!e.code.is_empty());
            }
        }
    }
}
