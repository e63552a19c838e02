//! The Cookie-header parser and the signed-value check (`http::cookies::get` / `verify`).
//! Oracle: no panic; a value we sign and encode always reads back through `get` + `verify`;
//! anything we did not sign never verifies under the real secret.

use sesame::http::cookies::{get, sign, verify};
use sesame::http::js::encode_uri_component;

const SECRET: &str = "fuzz-secret-0123456789abcdef0123456789";

/// The oracle: panics on any violation. Fed by libFuzzer (`fuzz_targets/`) and, on stable,
/// by the corpus replay test (`tests/fuzz_replay.rs`).
pub fn check(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    for name in ["better-auth.session_token", "a", "", "x y"] {
        if let Some(v) = get(&s, name) {
            if let Some(inner) = verify(SECRET, &v) {
                // Only a correctly signed value verifies: check it is exactly what we would sign.
                assert_eq!(sign(SECRET, &inner), v, "verified a value we did not sign");
            }
        }
    }
    let _ = verify(SECRET, &s);
    // An empty value never verifies (the signature must not start the string), as in Better
    // Auth's `getSignedCookie`; session tokens are never empty.
    if s.is_empty() {
        assert_eq!(verify(SECRET, &sign(SECRET, "")), None);
        return;
    }
    let header = format!(
        "junk=1; better-auth.session_token={}; z=2",
        encode_uri_component(&sign(SECRET, &s))
    );
    let read = get(&header, "better-auth.session_token").expect("cookie present");
    assert_eq!(
        verify(SECRET, &read).as_deref(),
        Some(&*s),
        "round trip failed for {s:?}"
    );
    assert_eq!(verify("another-secret-0123456789abcdef0123", &read), None);
}
