//! Builds the OpenAPI 3.1 document from the mounted endpoints' declarations
//! (`endpoint::Endpoint`): paths, parameters and bodies from their schemas, error codes from
//! their `codes::` constants, and every code any endpoint or plugin declares.

use serde_json::{json, Map, Value};

use crate::endpoint::{Field, Kind, Produces, Services};
use crate::error::codes;
use crate::http::Method;

fn field_schema(kind: Kind) -> Value {
    match kind {
        Kind::String | Kind::Choice => json!({"type": "string"}),
        Kind::NonEmpty => json!({"type": "string", "minLength": 1}),
        Kind::OneOf(options) => json!({"type": "string", "enum": options}),
        Kind::Email => json!({"type": "string", "format": "email"}),
        Kind::Boolean => json!({"type": "boolean"}),
        Kind::Number => json!({"type": "number"}),
        Kind::NullableString => json!({"type": ["string", "null"]}),
        Kind::Strings => json!({"type": "array", "items": {"type": "string"}}),
        Kind::StringMap => json!({"type": "object", "additionalProperties": {"type": "string"}}),
        Kind::Record => json!({"type": "object"}),
        Kind::Object(fields) => object_schema(fields),
        Kind::Flag | Kind::Any => json!({}),
    }
}

fn object_schema(fields: &[Field]) -> Value {
    let props: Map<String, Value> = fields
        .iter()
        .map(|f| (f.name.to_string(), field_schema(f.kind)))
        .collect();
    let required: Vec<&str> = fields.iter().filter(|f| f.required).map(|f| f.name).collect();
    let mut schema = json!({"type": "object", "properties": props});
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    schema
}

fn error_response(description: &str, codes: &[&str]) -> Value {
    let mut schema = json!({"$ref": "#/components/schemas/Error"});
    if !codes.is_empty() {
        schema = json!({
            "allOf": [
                {"$ref": "#/components/schemas/Error"},
                {"type": "object", "properties": {"code": {"type": "string", "enum": codes}}}
            ]
        });
    }
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

/// The document for every route the app serves.
pub fn generate(app: &Services) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for route in app.router.routes() {
        let path = route
            .path
            .split('/')
            .map(|s| {
                s.strip_prefix(':')
                    .map(|p| format!("{{{p}}}"))
                    .unwrap_or_else(|| s.to_string())
            })
            .collect::<Vec<_>>()
            .join("/");
        let mut parameters: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix(':'))
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        for q in route.query.fields() {
            parameters
                .push(json!({"name": q.name, "in": "query", "required": q.required, "schema": field_schema(q.kind)}));
        }
        let mut responses = Map::new();
        let success = match route.produces {
            Produces::Json => (
                "200",
                json!({"description": "Success", "content": {"application/json": {"schema": {}}}}),
            ),
            Produces::Html => (
                "200",
                json!({"description": "An HTML page", "content": {"text/html": {}}}),
            ),
            Produces::Redirect => (
                "302",
                json!({"description": "A redirect (JSON when no callbackURL leads elsewhere)", "headers": {"Location": {"schema": {"type": "string"}}}}),
            ),
        };
        responses.insert(success.0.into(), success.1);
        let errors: Vec<&str> = route.errors.iter().map(|c| c.code).collect();
        let errors = errors.as_slice();
        responses.insert(
            "400".into(),
            error_response("Invalid input (VALIDATION_ERROR and the endpoint's codes)", errors),
        );
        if route.needs_session {
            responses.insert("401".into(), error_response("No valid session", &["UNAUTHORIZED"]));
        }
        responses.insert(
            "500".into(),
            error_response("Unexpected failure", &["INTERNAL_SERVER_ERROR"]),
        );
        let mut op = json!({
            "operationId": route.key,
            "summary": route.summary,
            "parameters": parameters,
            "responses": responses,
        });
        if route.needs_session {
            op["security"] = json!([{"sessionCookie": []}, {"bearerAuth": []}]);
        }
        if route.method == Method::Post {
            let fields = route.body.fields();
            let body = object_schema(fields);
            let mut content = json!({"application/json": {"schema": body.clone()}});
            if route.media == crate::http::body::BodyKind::JsonOrForm {
                content["application/x-www-form-urlencoded"] = json!({"schema": body});
            }
            op["requestBody"] = json!({"required": fields.iter().any(|f| f.required), "content": content});
        }
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        entry[route.method.as_str().to_ascii_lowercase()] = op;
    }
    // Every code an answer may carry: the core table's and each enabled plugin's.
    let mut all_codes: Vec<&str> = codes::ALL.iter().map(|c| c.code).collect();
    for plugin in &app.plugins {
        all_codes.extend(plugin.error_codes.iter().map(|c| c.code));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Sesame",
            "description": "Better Auth-compatible authentication API",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "servers": [{"url": app.config.base_url()}],
        "paths": paths,
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["message", "code", "status"],
                    "properties": {
                        "message": {"type": "string"},
                        "code": {"type": "string", "examples": all_codes},
                        "status": {"type": "integer"}
                    }
                }
            },
            "securitySchemes": {
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": app.cookies.name("session_token")},
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "Session token (bearer plugin)"}
            }
        }
    })
}
