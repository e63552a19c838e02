//! The open-api plugin (Better Auth's `openAPI`): `GET /open-api/generate-schema` answers an
//! OpenAPI 3.1 document generated from the live route table — every core and enabled plugin
//! route, its body fields, path and query parameters, responses and error codes — and
//! `GET /reference` a self-contained reference page (no CDN) that renders it.

mod document;
mod endpoints;
mod page;

use serde_json::Value;

use super::{Hooks, Plugin};
use crate::endpoint::Ctx;
use crate::endpoint::Route;
use crate::error::ApiError;
use crate::http::{Request, Response};

pub use document::generate;
pub use endpoints::{doc_for, EndpointDoc, Field, FieldType};

pub const PLUGIN: Plugin = Plugin {
    id: "open-api",
    routes: &[
        Route::get(
            "/open-api/generate-schema",
            "generateOpenAPISchema",
            generate_schema,
            "The OpenAPI 3.1 document of this server",
        ),
        Route::get(
            "/reference",
            "openAPIReference",
            reference,
            "An HTML reference of every endpoint",
        ),
    ],
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
