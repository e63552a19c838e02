//! `GET /ok` and `GET /error`.

use serde_json::json;

use crate::endpoint::answers::OkAnswer;
use crate::endpoint::{Ctx, Kind, NoInput, Produces, Typed};
use crate::error::ApiError;
use crate::http::html::escape as escape_html;
use crate::http::{Request, Response};

pub static OK: Typed<NoInput, NoInput, OkAnswer> = Typed::get("/ok", "ok", ok).summary("Health check");

crate::input! {
    /// The query of `GET /error` (read leniently: anything else shows `UNKNOWN`).
    pub struct ErrorPageQuery {
        error: Option<String> = "error" as Kind::String,
        error_description: Option<String> = "error_description" as Kind::String,
    }
}

/// The page's HTML is the answer.
pub static ERROR: Typed<NoInput, ErrorPageQuery, String> = Typed::get("/error", "error", error_page)
    .summary("HTML error page")
    .produces(Produces::Html)
    .handler_validates();

fn ok(_ctx: &Ctx<'_>, _req: &Request) -> Result<Response, ApiError> {
    Ok(Response::json(&json!({ "ok": true })))
}

/// A self-contained HTML page naming the error. The code must match `^['A-Za-z0-9_-]+$`
/// (else `UNKNOWN`); everything shown is HTML-escaped.
fn error_page(_ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let code = req
        .query_value("error")
        .filter(|c| !c.is_empty() && c.chars().all(|ch| ch.is_ascii_alphanumeric() || "'_-".contains(ch)))
        .unwrap_or("UNKNOWN");
    let description = req
        .query_value("error_description")
        .map(escape_html)
        .unwrap_or_default();
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Error</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}}\
code{{background:#f2f2f2;padding:.1rem .3rem;border-radius:3px}}</style></head>\
<body><h1>Something went wrong</h1><p>Error code: <code>{}</code></p><p>{}</p></body></html>",
        escape_html(code),
        description
    );
    Ok(Response::html(200, html).with_header("cache-control", "no-store"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes() {
        assert_eq!(
            super::escape_html("<script>'x'&\"</script>"),
            "&lt;script&gt;&#39;x&#39;&amp;&quot;&lt;/script&gt;"
        );
    }
}
