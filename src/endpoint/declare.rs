//! An endpoint's one declaration, written next to its handler: method, path, Better Auth's
//! `auth.api` key, summary, the body and query [`Schema`]s, the error codes it answers with,
//! whether it needs a session, and the Rust types of its request and answer ([`Typed`]).
//!
//! Everything else is derived from it: the router's table (method, path, key), the input
//! validation the pipeline runs before the handler (`validate.rs`, Better Auth's messages), the
//! OpenAPI document (the open-api plugin), and the typed in-process call
//! (`app.endpoint(&api::SIGN_UP_EMAIL)`, in `inprocess.rs`). Request types are declared with
//! [`input!`](crate::input), which writes the struct and its field schema from one list.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use super::validate::{Field, Schema};
use super::{Ctx, Handler};
use crate::error::{ApiError, ErrorCode};
use crate::http::body::BodyKind;
use crate::http::{Method, Request, Response};

/// What a successful answer is, for the OpenAPI document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Produces {
    Json,
    /// A 302 (the in-process API answers it as an `ApiError` with status 302, as Better Auth
    /// throws `APIError("FOUND")`).
    Redirect,
    Html,
}

/// What the pipeline does with input the schema refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnInvalid {
    /// 400 `VALIDATION_ERROR` with zod's messages.
    Reject,
    /// The handler answers it (the OAuth callback redirects to the error page, as Better
    /// Auth's `onValidationError` does); the schema only documents the input.
    Handler,
}

/// The declaration the router, validation and OpenAPI document read.
#[derive(Clone)]
pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    /// Better Auth's `auth.api` key, e.g. `signUpEmail`.
    pub key: &'static str,
    pub summary: &'static str,
    pub handler: Handler,
    pub body: Schema,
    pub query: Schema,
    /// The body media types accepted.
    pub media: BodyKind,
    /// The codes the endpoint itself answers with (the pipeline's own come on top).
    pub errors: &'static [ErrorCode],
    /// Needs a signed-in session (401 without one).
    pub needs_session: bool,
    pub produces: Produces,
    pub on_invalid: OnInvalid,
    /// The handler hashes or verifies a password. The hash itself runs on the hashing pool
    /// (`auth/hash_pool.rs`), so the endpoint may answer 503 `SERVER_BUSY`; everything before
    /// it (body, validation, origin, rate limit) runs on the worker like any request.
    pub slow: bool,
    /// Another path for the same endpoint (`/forget-password` for `/request-password-reset`):
    /// the target's path, whose rate-limit rule and bucket the alias shares.
    pub alias_of: Option<&'static str>,
    /// Never counted by the rate limiter (`/ready`: a load balancer probes it constantly from
    /// one address).
    pub unlimited: bool,
}

impl Endpoint {
    pub const fn new(method: Method, path: &'static str, key: &'static str, handler: Handler) -> Endpoint {
        Endpoint {
            method,
            path,
            key,
            summary: "",
            handler,
            body: Schema::None,
            query: Schema::None,
            media: BodyKind::Json,
            errors: &[],
            needs_session: false,
            produces: Produces::Json,
            on_invalid: OnInvalid::Reject,
            slow: false,
            alias_of: None,
            unlimited: false,
        }
    }

    /// Another path of the endpoint at `target` (see [`Endpoint::alias_of`]).
    pub const fn alias_of(mut self, target: &'static str) -> Endpoint {
        self.alias_of = Some(target);
        self
    }

    /// Checks the request's body, then its query, against the schemas.
    pub fn validate(&self, body: Option<&Value>, req: &Request) -> Result<(), ApiError> {
        if self.on_invalid == OnInvalid::Handler {
            return Ok(());
        }
        self.body.check("body", body)?;
        if !matches!(self.query, Schema::None) {
            let query = Value::Object(super::validate::query_object(&req.query));
            self.query.check("query", Some(&query))?;
        }
        Ok(())
    }
}

/// A request type: its fields' schema, written by [`input!`](crate::input).
pub trait Input: Serialize + DeserializeOwned + Default {
    const FIELDS: &'static [Field];
}

/// Whether a field of this type must be present, and whether a value of it is absent.
pub trait InputValue {
    const REQUIRED: bool = true;
    fn is_absent(&self) -> bool {
        false
    }
}

impl<T> InputValue for Option<T> {
    const REQUIRED: bool = false;
    fn is_absent(&self) -> bool {
        self.is_none()
    }
}
impl InputValue for String {}
impl InputValue for bool {}
impl InputValue for f64 {}
impl InputValue for Vec<String> {}
impl InputValue for Value {}
impl InputValue for Map<String, Value> {}

/// `skip_serializing_if` for every field of an [`input!`](crate::input) struct.
pub fn absent<T: InputValue>(v: &T) -> bool {
    v.is_absent()
}

/// Deserializes a field where `null` and absence differ (`Some(None)` is an explicit `null`).
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    use serde::Deserialize;
    Option::<T>::deserialize(d).map(Some)
}

/// No body or no query.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NoInput {}

impl Input for NoInput {
    const FIELDS: &'static [Field] = &[];
}

/// Declares a request type: the struct (serde names are Better Auth's keys; absent optional
/// fields are left out) and its field schema, from one list of
/// `field: Type = "key" as Kind`, each optionally `=> check`. A trailing `rest: extra` keeps
/// every other key (sign-up's plugin fields) in a map.
#[macro_export]
macro_rules! input {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty = $key:literal as $kind:expr $(=> $check:path)? ),* $(,)?
        }
        $(rest: $extra:ident)?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[serde(rename = $key, skip_serializing_if = "crate::endpoint::declare::absent")]
                pub $field: $ty,
            )*
            $(
                /// Every other key of the object.
                #[serde(flatten)]
                pub $extra: serde_json::Map<String, serde_json::Value>,
            )?
        }

        impl $crate::endpoint::declare::Input for $name {
            const FIELDS: &'static [$crate::endpoint::validate::Field] = &[
                $(
                    $crate::endpoint::validate::Field {
                        name: $key,
                        kind: $kind,
                        required: <$ty as $crate::endpoint::declare::InputValue>::REQUIRED,
                        check: $crate::input!(@check $($check)?),
                    },
                )*
            ];
        }

        impl $crate::endpoint::declare::InputValue for $name {}
    };
    (@check) => { None };
    (@check $check:path) => { Some($check) };
}

/// The types a declaration carries, without owning values of them (so any `Typed` is `Sync`).
type Types<B, Q, A> = PhantomData<fn() -> (B, Q, A)>;

/// An endpoint's declaration with the Rust types of its body `B`, query `Q` and answer `A`.
pub struct Typed<B, Q, A> {
    pub endpoint: Endpoint,
    types: Types<B, Q, A>,
}

impl<B: Input, Q: Input, A> Typed<B, Q, A> {
    const fn new(method: Method, path: &'static str, key: &'static str, handler: Handler) -> Self {
        let mut endpoint = Endpoint::new(method, path, key, handler);
        if !B::FIELDS.is_empty() {
            endpoint.body = Schema::Object(B::FIELDS);
        }
        if !Q::FIELDS.is_empty() {
            endpoint.query = Schema::Object(Q::FIELDS);
        }
        Typed {
            endpoint,
            types: PhantomData,
        }
    }

    /// `GET path`; the query is checked against `Q`'s fields.
    pub const fn get(path: &'static str, key: &'static str, handler: Handler) -> Self {
        Typed::new(Method::Get, path, key, handler)
    }

    /// `POST path`; the body (a JSON object) is checked against `B`'s fields.
    pub const fn post(path: &'static str, key: &'static str, handler: Handler) -> Self {
        Typed::new(Method::Post, path, key, handler)
    }

    pub const fn summary(mut self, summary: &'static str) -> Self {
        self.endpoint.summary = summary;
        self
    }

    pub const fn errors(mut self, errors: &'static [ErrorCode]) -> Self {
        self.endpoint.errors = errors;
        self
    }

    /// Needs a signed-in session.
    pub const fn session(mut self) -> Self {
        self.endpoint.needs_session = true;
        self
    }

    /// The body may be missing (every field optional).
    pub const fn optional_body(mut self) -> Self {
        self.endpoint.body = Schema::OptionalObject(B::FIELDS);
        self
    }

    /// The body is `z.object({..}).and(z.record(..))` (sign-up).
    pub const fn object_and_record(mut self) -> Self {
        self.endpoint.body = Schema::ObjectAndRecord(B::FIELDS);
        self
    }

    /// The body is a record (any object), then `B`'s fields.
    pub const fn record(mut self) -> Self {
        self.endpoint.body = Schema::Record(B::FIELDS);
        self
    }

    /// A body schema of its own (a union zod reports as one issue).
    pub const fn body_schema(mut self, schema: Schema) -> Self {
        self.endpoint.body = schema;
        self
    }

    /// A query schema of its own.
    pub const fn query_schema(mut self, schema: Schema) -> Self {
        self.endpoint.query = schema;
        self
    }

    /// Accepts `application/x-www-form-urlencoded` besides JSON.
    pub const fn forms(mut self) -> Self {
        self.endpoint.media = BodyKind::JsonOrForm;
        self
    }

    /// Hashes or verifies passwords (on the hashing pool).
    pub const fn hashing(mut self) -> Self {
        self.endpoint.slow = true;
        self
    }

    /// Another path of the endpoint at `target`.
    pub const fn alias_of(mut self, target: &'static str) -> Self {
        self.endpoint.alias_of = Some(target);
        self
    }

    /// Never rate-limited (see [`Endpoint::unlimited`]).
    pub const fn never_rate_limited(mut self) -> Self {
        self.endpoint.unlimited = true;
        self
    }

    pub const fn produces(mut self, produces: Produces) -> Self {
        self.endpoint.produces = produces;
        self
    }

    /// The handler answers invalid input itself.
    pub const fn handler_validates(mut self) -> Self {
        self.endpoint.on_invalid = OnInvalid::Handler;
        self
    }
}

/// The typed answer of a response: its JSON body, or its text when it is not JSON (HTML).
pub fn decode_answer<A: DeserializeOwned>(resp: &Response) -> Result<A, serde_json::Error> {
    let is_json = resp
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json"));
    if is_json || resp.body.is_empty() {
        let value = if resp.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&resp.body)?
        };
        serde_json::from_value(value)
    } else {
        serde_json::from_value(Value::String(String::from_utf8_lossy(&resp.body).into_owned()))
    }
}

/// An endpoint of a route table, typed or not: what the router mounts, and a way to call it
/// with default typed input (the test that every route has a working in-process function).
pub trait Declared: Sync {
    fn endpoint(&self) -> &Endpoint;

    /// Builds the request the typed in-process call makes from default input, runs it through
    /// `run`, and decodes a successful answer as the declared answer type.
    fn call_with_defaults(&self, run: &Runner<'_>) -> Result<(), String>;
}

/// Runs a request given its body and query as JSON (see [`Declared::call_with_defaults`]).
pub type Runner<'a> = dyn Fn(Value, Value) -> Response + 'a;

impl<B: Input, Q: Input, A: DeserializeOwned> Declared for Typed<B, Q, A> {
    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn call_with_defaults(&self, run: &Runner<'_>) -> Result<(), String> {
        let body = serde_json::to_value(B::default()).map_err(|e| e.to_string())?;
        let query = serde_json::to_value(Q::default()).map_err(|e| e.to_string())?;
        let resp = run(body, query);
        if (200..300).contains(&resp.status) {
            decode_answer::<A>(&resp).map(|_| ()).map_err(|e| {
                format!(
                    "{}: the answer does not decode as its type: {e}: {}",
                    self.endpoint.key,
                    String::from_utf8_lossy(&resp.body)
                )
            })
        } else {
            Ok(())
        }
    }
}

impl Ctx<'_> {
    /// The validated body as its declared type (`{}` when there is none).
    pub fn input<T: Input>(&self) -> Result<T, ApiError> {
        let value = self.body.clone().unwrap_or_else(|| Value::Object(Map::new()));
        serde_json::from_value(value).map_err(|e| ApiError::validation(format!("[body] {e}")))
    }

    /// The validated query as its declared type.
    pub fn query<T: Input>(&self, req: &Request) -> Result<T, ApiError> {
        let value = Value::Object(super::validate::query_object(&req.query));
        serde_json::from_value(value).map_err(|e| ApiError::validation(format!("[query] {e}")))
    }
}
