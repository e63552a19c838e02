//! Request body parsing before any handler runs (spec §1.2): media-type check (415), JSON
//! parse (400 `BAD_REQUEST`), and form-urlencoded fields as strings on the routes that take
//! forms. An empty body, or one without a Content-Type, counts as no body.

use serde_json::{Map, Value};

use super::Request;
use crate::error::{codes, ApiError};

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Which request bodies an endpoint accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// `application/json` only.
    Json,
    /// JSON or `application/x-www-form-urlencoded` (sign-up, sign-in, OAuth callback).
    JsonOrForm,
}

/// The parsed body, or `None` when the request has none.
pub fn parse(req: &Request, kind: BodyKind) -> Result<Option<Value>, ApiError> {
    if req.body.is_empty() {
        return Ok(None);
    }
    let allowed: &[&str] = match kind {
        BodyKind::Json => &[JSON],
        // Better Auth lists the form type first on these routes; the 415 message shows it.
        BodyKind::JsonOrForm => &[FORM, JSON],
    };
    // The reference server (Better Auth behind its Node adapter) reads no body at all when the
    // request has no Content-Type, so the schema then sees `undefined`.
    let Some(content_type) = req.header("content-type").filter(|c| !c.trim().is_empty()) else {
        return Ok(None);
    };
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    // better-call 1.4 compares the media type exactly.
    if !allowed.contains(&media.as_str()) {
        return Err(ApiError::with_message(
            415,
            codes::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Content-Type \"{content_type}\" is not allowed. Allowed types: {}",
                allowed.join(", ")
            ),
        ));
    }
    if media == FORM {
        let map: Map<String, Value> = url::form_urlencoded::parse(&req.body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        return Ok(Some(Value::Object(map)));
    }
    // One leading UTF-8 byte-order mark is dropped, as the Fetch standard's UTF-8 decode that
    // Better Auth reads bodies with does; some Windows and .NET clients send one.
    let json = req.body.strip_prefix(UTF8_BOM).unwrap_or(&req.body);
    serde_json::from_slice(json)
        .map(Some)
        .map_err(|_| ApiError::with_message(400, codes::BAD_REQUEST, "Invalid JSON in request body"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_and_json_errors() {
        let r = Request::post("/x").with_body("text/plain", b"hi");
        let e = parse(&r, BodyKind::Json).unwrap_err();
        assert_eq!((e.status, e.code.as_ref()), (415, "UNSUPPORTED_MEDIA_TYPE"));
        assert_eq!(
            e.message,
            "Content-Type \"text/plain\" is not allowed. Allowed types: application/json"
        );

        let mut r = Request::post("/x");
        r.body = b"{}".to_vec();
        assert_eq!(parse(&r, BodyKind::Json).unwrap(), None);
        let r = Request::post("/x").with_body("Text/Plain; charset=x", b"hi");
        assert_eq!(
            parse(&r, BodyKind::JsonOrForm).unwrap_err().message,
            "Content-Type \"Text/Plain; charset=x\" is not allowed. Allowed types: application/x-www-form-urlencoded, application/json"
        );
        let r = Request::post("/x").with_body("application/json-seq", b"{}");
        assert_eq!(parse(&r, BodyKind::Json).unwrap_err().status, 415);

        let r = Request::post("/x").with_body("application/json; charset=utf-8", b"{bad");
        let e = parse(&r, BodyKind::Json).unwrap_err();
        assert_eq!(
            (e.status, e.code.as_ref(), e.message.as_ref()),
            (400, "BAD_REQUEST", "Invalid JSON in request body")
        );

        let r = Request::post("/x").with_body(FORM, b"email=a%40b.co&rememberMe=false");
        assert_eq!(
            parse(&r, BodyKind::JsonOrForm).unwrap(),
            Some(serde_json::json!({"email":"a@b.co","rememberMe":"false"}))
        );
        assert_eq!(parse(&r, BodyKind::Json).unwrap_err().status, 415);
    }

    #[test]
    fn one_leading_byte_order_mark_is_dropped_from_json() {
        let parsed = |body: &[u8]| {
            let r = Request::post("/x").with_body(JSON, body);
            parse(&r, BodyKind::Json).map_err(|e| (e.status, e.message))
        };
        assert_eq!(parsed(b"\xEF\xBB\xBF{\"a\":1}"), Ok(Some(serde_json::json!({"a": 1}))));
        let invalid = Err((400, "Invalid JSON in request body".into()));
        // Only at the very start, only one, and not the whole body.
        assert_eq!(parsed(b" \xEF\xBB\xBF{}"), invalid);
        assert_eq!(parsed(b"\xEF\xBB\xBF\xEF\xBB\xBF{}"), invalid);
        assert_eq!(parsed(b"\xEF\xBB\xBF"), invalid);
        assert_eq!(parsed(b"\xEF\xBB{}"), invalid);
    }
}
