//! Schema validation with Better Auth's (zod 4) messages: every issue becomes
//! `[body.field] Invalid input: expected string, received undefined`, issues joined by `; `,
//! answered as `400 VALIDATION_ERROR`. Fields are read from the parsed body or
//! query; all issues are collected before failing, as zod does.

use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::http::Request;

/// The zod name of a JSON value's type.
fn received(v: Option<&Value>) -> &'static str {
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

/// Collects issues for one source (`body` or `query`).
pub struct Fields<'a> {
    source: &'static str,
    obj: Option<&'a Map<String, Value>>,
    issues: Vec<String>,
}

impl<'a> Fields<'a> {
    /// Validates a body that must be an object; a missing body or another type is an issue.
    pub fn body(body: Option<&'a Value>) -> Fields<'a> {
        let mut f = Fields {
            source: "body",
            obj: None,
            issues: Vec::new(),
        };
        match body {
            Some(Value::Object(m)) => f.obj = Some(m),
            other => f.issues.push(format!(
                "[body] Invalid input: expected object, received {}",
                received(other)
            )),
        }
        f
    }

    /// Validates a body where every field is optional: a missing body is an empty object.
    pub fn optional_body(body: Option<&'a Value>) -> Fields<'a> {
        match body {
            None => Fields {
                source: "body",
                obj: None,
                issues: Vec::new(),
            },
            some => Fields::body(some),
        }
    }

    /// Sign-up's body is `z.object({..}).and(z.record(..))`: a body that is not an object fails
    /// both halves of the intersection, so zod reports two issues.
    pub fn object_and_record(body: Option<&'a Value>) -> Fields<'a> {
        let mut f = Fields::body(body);
        if f.obj.is_none() {
            f.issues.push(format!(
                "[body] Invalid input: expected record, received {}",
                received(body)
            ));
        }
        f
    }

    /// Validates query values (all strings).
    pub fn query(query: &'a Map<String, Value>) -> Fields<'a> {
        Fields {
            source: "query",
            obj: Some(query),
            issues: Vec::new(),
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.obj.and_then(|m| m.get(key))
    }

    fn issue(&mut self, key: &str, msg: String) {
        self.issues.push(format!("[{}.{}] {}", self.source, key, msg));
    }

    fn type_issue(&mut self, key: &str, expected: &str, got: Option<&Value>) {
        let msg = format!("Invalid input: expected {expected}, received {}", received(got));
        self.issue(key, msg);
    }

    /// A required string.
    pub fn string(&mut self, key: &str) -> String {
        match self.get(key) {
            Some(Value::String(s)) => s.clone(),
            other => {
                if self.obj.is_some() {
                    self.type_issue(key, "string", other);
                }
                String::new()
            }
        }
    }

    /// A required non-empty string (`z.string().nonempty()`).
    pub fn nonempty_string(&mut self, key: &str) -> String {
        let s = self.string(key);
        if matches!(self.get(key), Some(Value::String(v)) if v.is_empty()) {
            self.issue(key, "Too small: expected string to have >=1 characters".to_string());
        }
        s
    }

    /// An optional string; `null` is an issue, as in zod's `.optional()`.
    pub fn opt_string(&mut self, key: &str) -> Option<String> {
        match self.get(key) {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            other => {
                self.type_issue(key, "string", other);
                None
            }
        }
    }

    /// An optional boolean.
    pub fn opt_bool(&mut self, key: &str) -> Option<bool> {
        match self.get(key) {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            other => {
                self.type_issue(key, "boolean", other);
                None
            }
        }
    }

    /// A required email address (`z.email()`).
    pub fn email(&mut self, key: &str) -> String {
        match self.get(key) {
            Some(Value::String(s)) => {
                if !crate::auth::email::is_valid(s) {
                    self.issue(key, "Invalid email address".to_string());
                }
                s.clone()
            }
            other => {
                if self.obj.is_some() {
                    self.type_issue(key, "string", other);
                }
                String::new()
            }
        }
    }

    /// An issue found by the caller's own rule.
    pub fn custom(&mut self, key: &str, message: &str) {
        self.issue(key, message.to_string());
    }

    /// `Err(400 VALIDATION_ERROR)` when any issue was recorded.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.issues.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.issues.join("; ")))
        }
    }
}

/// Better Auth's query booleans use JavaScript truthiness: any non-empty value is true.
pub fn query_flag(req: &Request, key: &str) -> bool {
    req.query_value(key).is_some_and(|v| !v.is_empty())
}

/// The query as a JSON object of strings, for [`Fields::query`].
pub fn query_fields(req: &Request) -> Map<String, Value> {
    query_object(&req.query)
}

/// A body that must be a record (`z.record(z.string(), z.any())`): any JSON object.
pub fn record(body: Option<&Value>) -> Result<&Map<String, Value>, ApiError> {
    match body {
        Some(Value::Object(m)) => Ok(m),
        other => Err(ApiError::validation(format!(
            "[body] Invalid input: expected record, received {}",
            received(other)
        ))),
    }
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

    #[test]
    fn sign_up_empty_object_message() {
        let body = json!({});
        let mut f = Fields::body(Some(&body));
        f.string("name");
        f.email("email");
        f.string("password");
        assert_eq!(
            f.finish().unwrap_err().message,
            "[body.name] Invalid input: expected string, received undefined; [body.email] Invalid input: expected string, received undefined; [body.password] Invalid input: expected string, received undefined"
        );
    }

    #[test]
    fn types_and_email() {
        let body = json!({"email": "nope", "rememberMe": "false", "image": null});
        let mut f = Fields::body(Some(&body));
        f.email("email");
        f.opt_bool("rememberMe");
        f.opt_string("image");
        assert_eq!(
            f.finish().unwrap_err().message,
            "[body.email] Invalid email address; [body.rememberMe] Invalid input: expected boolean, received string; [body.image] Invalid input: expected string, received null"
        );
    }

    #[test]
    fn sign_up_body_shapes() {
        let f = Fields::object_and_record(None);
        assert_eq!(
            f.finish().unwrap_err().message,
            "[body] Invalid input: expected object, received undefined; [body] Invalid input: expected record, received undefined"
        );
        let body = json!({"password": ""});
        let mut f = Fields::object_and_record(Some(&body));
        f.nonempty_string("password");
        assert_eq!(
            f.finish().unwrap_err().message,
            "[body.password] Too small: expected string to have >=1 characters"
        );
        assert_eq!(
            record(Some(&json!([]))).unwrap_err().message,
            "[body] Invalid input: expected record, received array"
        );
    }

    #[test]
    fn missing_body() {
        let mut f = Fields::body(None);
        f.string("password");
        assert_eq!(
            f.finish().unwrap_err().message,
            "[body] Invalid input: expected object, received undefined"
        );
    }

    #[test]
    fn repeated_query_key_is_rejected() {
        let q = query_object(&[("token".into(), "a".into()), ("token".into(), "b".into())]);
        let mut f = Fields::query(&q);
        f.string("token");
        assert_eq!(
            f.finish().unwrap_err().message,
            "[query.token] Invalid input: expected string, received array"
        );
    }
}
