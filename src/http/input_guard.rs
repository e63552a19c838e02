//! Input no storage can hold is refused up front: a NUL character (U+0000) anywhere in the
//! body's strings (keys too), the query, the path parameters or a header value. PostgreSQL's
//! `text` cannot contain NUL, so such a value reaching a query failed as a 500 (found by the
//! bad-input battery on PostgreSQL: a user agent or a name holding `\u0000`); no honest client
//! sends one. Runs in the pipeline right after body parsing, for HTTP and in-process calls.

use serde_json::Value;

use super::Request;
use crate::error::{codes, ApiError};

/// Deep enough for any body a route reads; deeper values are refused by the JSON parser.
const MAX_DEPTH: usize = 160;

pub fn check(req: &Request, body: Option<&Value>) -> Result<(), ApiError> {
    let refuse = |where_: &str| {
        Err(ApiError::with_message(
            400,
            codes::VALIDATION_ERROR,
            format!("[{where_}] Invalid input: NUL characters are not allowed"),
        ))
    };
    if req.query.iter().any(|(k, v)| has_nul(k) || has_nul(v)) {
        return refuse("query");
    }
    if req.params.iter().any(|(_, v)| has_nul(v)) {
        return refuse("params");
    }
    if req.headers.iter().any(|(k, v)| has_nul(k) || has_nul(v)) {
        return refuse("headers");
    }
    if body.is_some_and(|b| value_has_nul(b, MAX_DEPTH)) {
        return refuse("body");
    }
    Ok(())
}

fn has_nul(s: &str) -> bool {
    s.contains('\0')
}

fn value_has_nul(v: &Value, depth: usize) -> bool {
    if depth == 0 {
        return false;
    }
    match v {
        Value::String(s) => has_nul(s),
        Value::Array(a) => a.iter().any(|v| value_has_nul(v, depth - 1)),
        Value::Object(m) => m.iter().any(|(k, v)| has_nul(k) || value_has_nul(v, depth - 1)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_is_refused_everywhere() {
        let ok = Request::post("/x?a=b").with_header("user-agent", "curl/8");
        assert!(check(&ok, Some(&json!({"name": "Ada", "tags": ["x"]}))).is_ok());
        let e = check(&ok, Some(&json!({"user": {"name": "a\u{0}b"}}))).unwrap_err();
        assert_eq!((e.status, e.code.as_ref()), (400, "VALIDATION_ERROR"));
        assert_eq!(e.message, "[body] Invalid input: NUL characters are not allowed");
        assert!(check(&ok, Some(&json!({"a\u{0}": 1}))).is_err());
        assert!(check(&ok, Some(&json!([[["\u{0}"]]]))).is_err());
        assert!(check(&Request::post("/x?t=%00"), None).is_err());
        assert!(check(&Request::post("/x").with_header("user-agent", "a\u{0}"), None).is_err());
        let mut r = Request::post("/x");
        r.params.push(("id", "a\u{0}".to_string()));
        assert!(check(&r, None).is_err());
    }
}
