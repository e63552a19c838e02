//! Input schemas and their validation with Better Auth's (zod 4) messages. An endpoint declares
//! its body and query as a [`Schema`] of [`Field`]s; the pipeline checks the input against it
//! before the handler runs, and the OpenAPI document is drawn from the same fields.
//!
//! Every issue reads `[body.field] Invalid input: expected string, received undefined`;
//! issues are collected in field order and joined by `; ` into one `400 VALIDATION_ERROR`, as
//! zod does. The body is checked before the query, and a failing body stops there.

use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::http::Request;

/// What a field may hold.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    String,
    /// A string of at least one character (`z.string().nonempty()`).
    NonEmpty,
    /// A string that is an email address (`z.email()`).
    Email,
    Boolean,
    Number,
    /// A string or `null` (update-user's `image`, which `null` clears).
    NullableString,
    /// An array of strings.
    Strings,
    /// An object whose values are strings (`z.record(z.string(), z.string())`).
    StringMap,
    /// Any object (`z.record(z.string(), z.any())`).
    Record,
    /// An object with fields of its own.
    Object(&'static [Field]),
    /// A string from a set known at run time (a provider id): anything else is
    /// `Invalid input`, zod's message for a failed union.
    Choice,
    /// One of these strings (`z.enum([..])`): anything else, or nothing, is zod's
    /// `Invalid option: expected one of "a"|"b"`.
    OneOf(&'static [&'static str]),
    /// Any value: a flag Better Auth reads with JavaScript truthiness (`?disableRefresh=…`).
    Flag,
    /// Anything.
    Any,
}

/// One named field of an object.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    /// A rule beyond the type (zod's `refine`): the message of the issue, if any.
    pub check: Option<fn(&Value) -> Option<String>>,
}

impl Field {
    pub const fn required(name: &'static str, kind: Kind) -> Field {
        Field {
            name,
            kind,
            required: true,
            check: None,
        }
    }

    pub const fn optional(name: &'static str, kind: Kind) -> Field {
        Field {
            name,
            kind,
            required: false,
            check: None,
        }
    }

    pub const fn with_check(mut self, check: fn(&Value) -> Option<String>) -> Field {
        self.check = Some(check);
        self
    }
}

/// The shape of a body or query.
#[derive(Debug, Clone, Copy)]
pub enum Schema {
    /// Nothing is read.
    None,
    /// An object with these fields (`z.object`); a missing body is an issue.
    Object(&'static [Field]),
    /// Like `Object`, but a missing body counts as `{}` (every field optional).
    OptionalObject(&'static [Field]),
    /// Sign-up's `z.object({..}).and(z.record(..))`: a body that is not an object fails both
    /// halves, so zod reports two issues. Other keys are kept (plugin fields).
    ObjectAndRecord(&'static [Field]),
    /// `z.record(..)` (any object), then these fields.
    Record(&'static [Field]),
    /// A union zod reports only as `[source] Invalid input`: checked by the function; the
    /// fields describe it for the OpenAPI document.
    Custom(
        fn(&'static str, Option<&Value>) -> Result<(), ApiError>,
        &'static [Field],
    ),
}

impl Schema {
    /// The fields, for documentation.
    pub fn fields(&self) -> &'static [Field] {
        match self {
            Schema::None => &[],
            Schema::Object(f)
            | Schema::OptionalObject(f)
            | Schema::ObjectAndRecord(f)
            | Schema::Record(f)
            | Schema::Custom(_, f) => f,
        }
    }

    /// Checks `value` (the parsed body, or the query as an object of strings) as `source`
    /// (`body` or `query`).
    pub fn check(&self, source: &'static str, value: Option<&Value>) -> Result<(), ApiError> {
        let mut issues = Issues::default();
        match (self, value) {
            (Schema::None, _) => {}
            (Schema::Custom(f, _), v) => return f(source, v),
            (Schema::OptionalObject(_), None) => {}
            (Schema::Object(fields) | Schema::OptionalObject(fields), Some(Value::Object(m))) => {
                issues.fields(source, m, fields)
            }
            (Schema::ObjectAndRecord(fields) | Schema::Record(fields), Some(Value::Object(m))) => {
                issues.fields(source, m, fields)
            }
            (Schema::Object(_) | Schema::OptionalObject(_), other) => issues.expected(source, "object", other),
            (Schema::ObjectAndRecord(_), other) => {
                issues.expected(source, "object", other);
                issues.expected(source, "record", other);
            }
            (Schema::Record(_), other) => issues.expected(source, "record", other),
        }
        issues.finish()
    }
}

/// The zod name of a JSON value's type.
pub fn received(v: Option<&Value>) -> &'static str {
    match v {
        None => "undefined",
        Some(Value::Null) => "null",
        Some(Value::Bool(_)) => "boolean",
        Some(Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Array(_)) => "array",
        Some(Value::Object(_)) => "object",
    }
}

#[derive(Default)]
struct Issues(Vec<String>);

impl Issues {
    fn push(&mut self, path: &str, message: String) {
        self.0.push(format!("[{path}] {message}"));
    }

    fn expected(&mut self, path: &str, expected: &str, got: Option<&Value>) {
        self.push(
            path,
            format!("Invalid input: expected {expected}, received {}", received(got)),
        );
    }

    fn fields(&mut self, path: &str, m: &Map<String, Value>, fields: &[Field]) {
        for f in fields {
            let at = format!("{path}.{}", f.name);
            match m.get(f.name) {
                None if !f.required => {}
                v => {
                    self.value(&at, f.kind, v);
                    if let (Some(check), Some(v)) = (f.check, v) {
                        if let Some(message) = check(v) {
                            self.push(&at, message);
                        }
                    }
                }
            }
        }
    }

    fn value(&mut self, at: &str, kind: Kind, v: Option<&Value>) {
        match (kind, v) {
            (Kind::Flag | Kind::Any, _) => {}
            (Kind::String, Some(Value::String(_))) => {}
            (Kind::NonEmpty, Some(Value::String(s))) => {
                if s.is_empty() {
                    self.push(at, "Too small: expected string to have >=1 characters".to_string());
                }
            }
            (Kind::Email, Some(Value::String(s))) => {
                if !crate::auth::email::is_valid(s) {
                    self.push(at, "Invalid email address".to_string());
                }
            }
            (Kind::NullableString, Some(Value::String(_) | Value::Null)) => {}
            (Kind::Choice, Some(Value::String(_))) => {}
            (Kind::Choice, _) => self.push(at, "Invalid input".to_string()),
            (Kind::OneOf(options), Some(Value::String(s))) if options.contains(&s.as_str()) => {}
            (Kind::OneOf(options), _) => {
                let quoted: Vec<String> = options.iter().map(|o| format!("\"{o}\"")).collect();
                self.push(at, format!("Invalid option: expected one of {}", quoted.join("|")));
            }
            (Kind::String | Kind::NonEmpty | Kind::Email | Kind::NullableString, other) => {
                self.expected(at, "string", other)
            }
            (Kind::Boolean, Some(Value::Bool(_))) => {}
            (Kind::Boolean, other) => self.expected(at, "boolean", other),
            (Kind::Number, Some(Value::Number(_))) => {}
            (Kind::Number, other) => self.expected(at, "number", other),
            (Kind::Strings, Some(Value::Array(items))) => {
                for (i, item) in items.iter().enumerate() {
                    if !item.is_string() {
                        self.expected(&format!("{at}.{i}"), "string", Some(item));
                    }
                }
            }
            (Kind::Strings, other) => self.expected(at, "array", other),
            (Kind::StringMap, Some(Value::Object(m))) => {
                for (k, v) in m {
                    if !v.is_string() {
                        self.expected(&format!("{at}.{k}"), "string", Some(v));
                    }
                }
            }
            (Kind::Record, Some(Value::Object(_))) => {}
            (Kind::StringMap | Kind::Record, other) => self.expected(at, "record", other),
            (Kind::Object(fields), Some(Value::Object(m))) => self.fields(at, m, fields),
            (Kind::Object(_), other) => self.expected(at, "object", other),
        }
    }

    fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.0.join("; ")))
        }
    }
}

/// Better Auth's query booleans use JavaScript truthiness: any non-empty value is true.
pub fn query_flag(req: &Request, key: &str) -> bool {
    req.query_value(key).is_some_and(|v| !v.is_empty())
}

/// Query pairs as a JSON object of strings; a repeated key becomes an array, which string
/// fields then reject (as Better Auth does).
pub fn query_object(pairs: &[(String, String)]) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in pairs {
        match m.get_mut(k) {
            Some(Value::Array(a)) => a.push(Value::String(v.clone())),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, Value::String(v.clone())]);
            }
            None => {
                m.insert(k.clone(), Value::String(v.clone()));
            }
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SIGN_UP: Schema = Schema::ObjectAndRecord(&[
        Field::required("name", Kind::String),
        Field::required("email", Kind::Email),
        Field::required("password", Kind::NonEmpty),
    ]);

    fn message(schema: Schema, source: &'static str, v: Option<&Value>) -> String {
        schema.check(source, v).unwrap_err().message.into_owned()
    }

    #[test]
    fn sign_up_empty_object_message() {
        assert_eq!(
            message(SIGN_UP, "body", Some(&json!({}))),
            "[body.name] Invalid input: expected string, received undefined; [body.email] Invalid input: expected string, received undefined; [body.password] Invalid input: expected string, received undefined"
        );
    }

    #[test]
    fn types_and_email() {
        const SCHEMA: Schema = Schema::Object(&[
            Field::required("email", Kind::Email),
            Field::optional("rememberMe", Kind::Boolean),
            Field::optional("image", Kind::String),
        ]);
        let schema = SCHEMA;
        assert_eq!(
            message(schema, "body", Some(&json!({"email": "nope", "rememberMe": "false", "image": null}))),
            "[body.email] Invalid email address; [body.rememberMe] Invalid input: expected boolean, received string; [body.image] Invalid input: expected string, received null"
        );
    }

    #[test]
    fn one_of_reads_as_zod_enum() {
        const SCHEMA: Schema = Schema::Object(&[Field::required("type", Kind::OneOf(&["a", "b-c"]))]);
        assert!(SCHEMA.check("body", Some(&json!({"type": "b-c"}))).is_ok());
        for bad in [
            json!({}),
            json!({"type": "x"}),
            json!({"type": 1}),
            json!({"type": null}),
        ] {
            assert_eq!(
                message(SCHEMA, "body", Some(&bad)),
                r#"[body.type] Invalid option: expected one of "a"|"b-c""#
            );
        }
    }

    #[test]
    fn sign_up_body_shapes() {
        assert_eq!(
            message(SIGN_UP, "body", None),
            "[body] Invalid input: expected object, received undefined; [body] Invalid input: expected record, received undefined"
        );
        assert_eq!(
            message(
                SIGN_UP,
                "body",
                Some(&json!({"name": "a", "email": "a@b.co", "password": ""}))
            ),
            "[body.password] Too small: expected string to have >=1 characters"
        );
        assert_eq!(
            message(Schema::Record(&[]), "body", Some(&json!([]))),
            "[body] Invalid input: expected record, received array"
        );
    }

    #[test]
    fn missing_body() {
        const SCHEMA: Schema = Schema::Object(&[Field::required("password", Kind::String)]);
        assert_eq!(
            message(SCHEMA, "body", None),
            "[body] Invalid input: expected object, received undefined"
        );
        assert!(Schema::OptionalObject(&[]).check("body", None).is_ok());
    }

    #[test]
    fn repeated_query_key_is_rejected() {
        let q = Value::Object(query_object(&[
            ("token".into(), "a".into()),
            ("token".into(), "b".into()),
        ]));
        const SCHEMA: Schema = Schema::Object(&[Field::required("token", Kind::String)]);
        assert_eq!(
            message(SCHEMA, "query", Some(&q)),
            "[query.token] Invalid input: expected string, received array"
        );
    }

    #[test]
    fn nested_arrays_maps_and_checks() {
        const ID_TOKEN: &[Field] = &[
            Field::required("token", Kind::String),
            Field::optional("nonce", Kind::String),
        ];
        fn no_x(v: &Value) -> Option<String> {
            v.get("x").map(|_| "x is reserved".to_string())
        }
        const SCHEMA: Schema = Schema::Object(&[
            Field::required("provider", Kind::Choice),
            Field::optional("scopes", Kind::Strings),
            Field::optional("params", Kind::StringMap).with_check(no_x),
            Field::optional("idToken", Kind::Object(ID_TOKEN)),
        ]);
        let schema = SCHEMA;
        let body = json!({"provider": 1, "scopes": ["a", 2], "params": {"x": 1}, "idToken": {"nonce": 3}});
        assert_eq!(
            message(schema, "body", Some(&body)),
            "[body.provider] Invalid input; [body.scopes.1] Invalid input: expected string, received number; [body.params.x] Invalid input: expected string, received number; [body.params] x is reserved; [body.idToken.token] Invalid input: expected string, received undefined; [body.idToken.nonce] Invalid input: expected string, received number"
        );
    }
}
