//! Builds the OpenAPI 3.1 document from the app's route table and [`super::endpoints`].

use serde_json::{json, Map, Value};

use super::endpoints::{doc_for, Field, FieldType};
use crate::endpoint::Services;
use crate::error::codes;
use crate::http::Method;

fn field_schema(ty: FieldType) -> Value {
    match ty {
        FieldType::String => json!({"type": "string"}),
        FieldType::Email => json!({"type": "string", "format": "email"}),
        FieldType::Boolean => json!({"type": "boolean"}),
        FieldType::Number => json!({"type": "number"}),
        FieldType::NullableString => json!({"type": ["string", "null"]}),
        FieldType::StringArray => json!({"type": "array", "items": {"type": "string"}}),
        FieldType::Object => json!({"type": "object"}),
    }
}

fn object_schema(fields: &[Field]) -> Value {
    let props: Map<String, Value> = fields
        .iter()
        .map(|f| (f.name.to_string(), field_schema(f.ty)))
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
        let doc = doc_for(route.key);
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
        for q in doc.map(|d| d.query).unwrap_or_default() {
            parameters
                .push(json!({"name": q.name, "in": "query", "required": q.required, "schema": field_schema(q.ty)}));
        }
        let mut responses = Map::new();
        responses.insert(
            "200".into(),
            json!({"description": "Success", "content": {"application/json": {"schema": {}}}}),
        );
        let errors = doc.map(|d| d.errors).unwrap_or_default();
        responses.insert(
            "400".into(),
            error_response("Invalid input (VALIDATION_ERROR and the endpoint's codes)", errors),
        );
        if doc.is_some_and(|d| d.session) {
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
        if doc.is_some_and(|d| d.session) {
            op["security"] = json!([{"sessionCookie": []}, {"bearerAuth": []}]);
        }
        if route.method == Method::Post {
            let body = doc
                .map(|d| object_schema(d.body))
                .unwrap_or_else(|| json!({"type": "object"}));
            let mut content = json!({"application/json": {"schema": body.clone()}});
            if route.body == crate::http::body::BodyKind::JsonOrForm {
                content["application/x-www-form-urlencoded"] = json!({"schema": body});
            }
            op["requestBody"] =
                json!({"required": doc.is_some_and(|d| d.body.iter().any(|f| f.required)), "content": content});
        }
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        entry[route.method.as_str().to_ascii_lowercase()] = op;
    }
    let all_codes: Vec<&str> = codes::ALL.iter().map(|c| c.code).collect();
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
