//! The open-api plugin (Better Auth's `openAPI`): `GET /open-api/generate-schema` answers an
//! OpenAPI 3.1 document generated from the mounted endpoints' declarations — every core and
//! enabled plugin endpoint, its body fields, path and query parameters, responses and error
//! codes — and
//! `GET /reference` a self-contained reference page (no CDN) that renders it.

mod document;
mod page;

use serde_json::Value;

use super::{Hooks, Plugin};
use crate::endpoint::{Ctx, NoInput, Produces, Typed};
use crate::error::ApiError;
use crate::http::{Request, Response};

pub use document::generate;
pub static GENERATE_OPENAPI_SCHEMA: Typed<NoInput, NoInput, Value> =
    Typed::get("/open-api/generate-schema", "generateOpenAPISchema", generate_schema)
        .summary("The OpenAPI 3.1 document of this server");

/// The page's HTML is the answer.
pub static OPENAPI_REFERENCE: Typed<NoInput, NoInput, String> = Typed::get("/reference", "openAPIReference", reference)
    .summary("An HTML reference of every endpoint")
    .produces(Produces::Html);

pub const PLUGIN: Plugin = Plugin {
    id: "open-api",
    endpoints: &[&GENERATE_OPENAPI_SCHEMA, &OPENAPI_REFERENCE],
    error_codes: &[],
    migrations: &[],
    hooks: &NoHooks,
};

struct NoHooks;
impl Hooks for NoHooks {}

fn generate_schema(ctx: &Ctx<'_>, _req: &Request) -> Result<Response, ApiError> {
    let doc: Value = generate(ctx.app);
    Ok(Response::json(&doc))
}

fn reference(ctx: &Ctx<'_>, _req: &Request) -> Result<Response, ApiError> {
    let schema_url = format!("{}/open-api/generate-schema", ctx.config().base_path);
    Ok(Response::html(200, page::render(&schema_url)))
}
