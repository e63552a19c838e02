//! The redirect-URL validator (`http::origin`). Oracle: whatever it allows, resolved the way a
//! browser resolves a Location against the base URL, stays on a trusted origin (no open
//! redirect); and `check_url_fields` never panics on arbitrary JSON.

use std::sync::OnceLock;

use sesame::http::origin::{check_url_fields, is_safe_relative, TrustedOrigins};
use sesame::http::Request;

const BASE: &str = "http://localhost:3000";

fn trusted() -> &'static TrustedOrigins {
    static T: OnceLock<TrustedOrigins> = OnceLock::new();
    T.get_or_init(|| {
        TrustedOrigins::new(
            BASE,
            &["https://*.example.com".to_string(), "https://app.test".to_string()],
        )
    })
}

/// The oracle: panics on any violation. Fed by libFuzzer (`fuzz_targets/`) and, on stable,
/// by the corpus replay test (`tests/fuzz_replay.rs`).
pub fn check(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let t = trusted();
    let base = url::Url::parse(&format!("{BASE}/api/auth/sign-in/email")).expect("base");
    if is_safe_relative(&s) {
        let joined = base.join(&s).expect("a safe relative URL resolves");
        assert_eq!(
            joined.origin().ascii_serialization(),
            BASE,
            "relative {s:?} left the origin"
        );
    }
    if !s.is_empty() && t.is_allowed_redirect(&s) {
        // it ends up in a Location header: nothing that could split the response
        assert!(!s.chars().any(char::is_control), "control character allowed in {s:?}");
        if let Ok(joined) = base.join(&s) {
            if matches!(joined.scheme(), "http" | "https") {
                let origin = joined.origin().ascii_serialization();
                assert!(t.is_trusted(&origin), "{s:?} resolves to untrusted {origin}");
            }
        }
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = check_url_fields(t, Some(&v), &Request::post("/x"));
    }
    let req = Request::post(&format!(
        "/x?callbackURL={}",
        sesame::http::js::encode_uri_component(&s)
    ));
    let _ = check_url_fields(t, None, &req);
}
