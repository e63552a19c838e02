//! Body parsing and zod-style validation (`http::body::parse`, `http::validate::Fields`,
//! `auth::email`) with arbitrary content types and bytes. Input: `content type, '\n', body`.
//! Oracle: no panic; parse failures are 400 or 415 with a code.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sesame::http::body;
use sesame::http::router::BodyKind;
use sesame::http::validate::Fields;
use sesame::http::Request;

fuzz_target!(|data: &[u8]| {
    let (ct, payload) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b"application/json"[..], data),
    };
    let ct = String::from_utf8_lossy(ct);
    for kind in [BodyKind::Json, BodyKind::JsonOrForm] {
        let req = Request::post("/x").with_body(&ct, payload);
        match body::parse(&req, kind) {
            Ok(parsed) => {
                let mut f = Fields::body(parsed.as_ref());
                let _ = f.string("name");
                let email = f.email("email");
                let _ = f.opt_bool("rememberMe");
                let _ = f.opt_string("image");
                let _ = f.finish();
                let _ = sesame::auth::email::normalize(&email);
                let mut f = Fields::optional_body(parsed.as_ref());
                let _ = f.opt_string("callbackURL");
                let _ = f.finish();
            }
            Err(e) => {
                assert!(e.status == 400 || e.status == 415, "{e}");
                assert!(!e.code.is_empty());
            }
        }
    }
});
