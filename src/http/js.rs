//! JavaScript's conventions that Better Auth's wire behaviour rests on: `encodeURIComponent`
//! (cookie values, the tokens and callback URLs it puts in links) and truthiness (where it
//! tests a field with `if (x)`).

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

/// The characters JavaScript's `encodeURIComponent` leaves alone.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// JavaScript's `encodeURIComponent`.
pub fn encode_uri_component(s: &str) -> String {
    utf8_percent_encode(s, URI_COMPONENT).to_string()
}

/// JavaScript truthiness of a JSON value: where Better Auth tests a field with `if (x)`,
/// `""`, `0`, `false` and `null` count as absent.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_uri_component_matches_js() {
        assert_eq!(encode_uri_component("a+b/c=d.e"), "a%2Bb%2Fc%3Dd.e");
        assert_eq!(encode_uri_component("héllo wörld"), "h%C3%A9llo%20w%C3%B6rld");
    }
}
