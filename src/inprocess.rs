//! The in-process API, Better Auth's `auth.api.*`. Every endpoint, core or plugin, has a typed
//! function derived from its declaration: `app.endpoint(&api::SIGN_UP_EMAIL)` takes the typed
//! body and query plus headers, and answers the typed data ([`Call::send`]), the data with
//! the response headers (`returnHeaders`, [`Call::with_headers`]) or the whole response
//! (`asResponse`, [`Call::as_response`]). Untyped, any endpoint is also callable by its key
//! with JSON ([`App::call`]). Failures are a typed [`ApiError`].
//!
//! Calls go through the same pipeline and handlers as HTTP, minus the router-level Origin
//! check (as in Better Auth), so plugin routes are reachable with no extra code.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::app::App;
use crate::endpoint::declare::decode_answer;
use crate::endpoint::{Endpoint, Input, Transport, Typed};
use crate::error::{codes, ApiError};
use crate::http::js::encode_uri_component;
use crate::http::{Request, Response};

/// What a caller passes to an endpoint.
#[derive(Debug, Clone, Default)]
pub struct ApiInput {
    pub body: Option<Value>,
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    /// Path parameters, e.g. `("token", "…")` for `/reset-password/:token`.
    pub params: Vec<(String, String)>,
}

impl ApiInput {
    pub fn new() -> ApiInput {
        ApiInput::default()
    }
    pub fn body(mut self, body: Value) -> ApiInput {
        self.body = Some(body);
        self
    }
    pub fn header(mut self, name: &str, value: &str) -> ApiInput {
        self.headers.push((name.to_ascii_lowercase(), value.to_string()));
        self
    }
    pub fn query(mut self, key: &str, value: &str) -> ApiInput {
        self.query.push((key.to_string(), value.to_string()));
        self
    }
    pub fn param(mut self, name: &str, value: &str) -> ApiInput {
        self.params.push((name.to_string(), value.to_string()));
        self
    }
}

/// Data plus the response headers (`returnHeaders: true`).
#[derive(Debug, Clone)]
pub struct ApiOutput {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub data: Value,
}

impl ApiOutput {
    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == "set-cookie")
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl App {
    /// Calls an endpoint and returns its JSON data. A redirect is an `ApiError` with status
    /// 302 and the `location` header, as Better Auth throws `APIError("FOUND")`.
    pub fn call(&self, key: &str, input: ApiInput) -> Result<Value, ApiError> {
        self.call_with_headers(key, input).map(|o| o.data)
    }

    /// Calls an endpoint and returns data, status and response headers (cookies).
    pub fn call_with_headers(&self, key: &str, input: ApiInput) -> Result<ApiOutput, ApiError> {
        let resp = answer(self.run(self.request_for(key, input)?, Transport::InProcess)?)?;
        let data = if resp.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&resp.body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&resp.body).into_owned()))
        };
        Ok(ApiOutput {
            status: resp.status,
            headers: resp.header_lines(),
            data,
        })
    }

    /// Calls an endpoint and returns the whole response, errors rendered as HTTP would.
    pub fn call_as_response(&self, key: &str, input: ApiInput) -> Response {
        match self
            .request_for(key, input)
            .and_then(|r| self.run(r, Transport::InProcess))
        {
            Ok(r) => r,
            Err(e) => Response::from_error(&e),
        }
    }

    /// An endpoint's typed in-process function, from its declaration:
    /// `app.endpoint(&api::SIGN_UP_EMAIL).body(SignUpEmailBody { .. }).send()`.
    pub fn endpoint<B, Q, A>(&self, declared: &'static Typed<B, Q, A>) -> Call<'_, B, Q, A> {
        Call {
            app: self,
            endpoint: &declared.endpoint,
            body: None,
            query: None,
            input: ApiInput::new(),
            answer: PhantomData,
        }
    }

    fn request_for(&self, key: &str, input: ApiInput) -> Result<Request, ApiError> {
        let route = self
            .router
            .by_key(key)
            .ok_or_else(|| ApiError::with_message(404, codes::NOT_FOUND, format!("No endpoint with key {key}")))?;
        self.request_for_endpoint(route, input)
    }

    /// The request an in-process call makes. An endpoint this app does not mount (a disabled
    /// plugin's) is 404, as over HTTP.
    fn request_for_endpoint(&self, route: &Endpoint, input: ApiInput) -> Result<Request, ApiError> {
        if self.router.by_key(route.key).is_none() {
            return Err(ApiError::with_message(
                404,
                codes::NOT_FOUND,
                format!("No endpoint with key {}", route.key),
            ));
        }
        let mut path = self.config.base_path.clone();
        for segment in route.path.split('/').filter(|s| !s.is_empty()) {
            path.push('/');
            match segment.strip_prefix(':') {
                Some(name) => {
                    let value = input
                        .params
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.as_str())
                        .ok_or_else(|| {
                            ApiError::validation(format!(
                                "[params.{name}] Invalid input: expected string, received undefined"
                            ))
                        })?;
                    path.push_str(&encode_uri_component(value));
                }
                None => path.push_str(segment),
            }
        }
        let mut req = Request::new(route.method.clone(), &path);
        req.query = input.query;
        req.headers = input.headers;
        if let Some(body) = input.body {
            req = req.with_json(&body);
        }
        Ok(req)
    }
}

/// One typed call being built: body `B`, query `Q`, answer `A` (see [`App::endpoint`]).
pub struct Call<'a, B, Q, A> {
    app: &'a App,
    endpoint: &'static Endpoint,
    body: Option<B>,
    query: Option<Q>,
    input: ApiInput,
    answer: PhantomData<fn() -> A>,
}

/// A typed answer with its status and response headers (`returnHeaders: true`).
#[derive(Debug, Clone)]
pub struct Answered<A> {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub data: A,
}

impl<A> Answered<A> {
    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == "set-cookie")
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The cookies this answer set, as the `cookie` header of a next call (`name=value; …`;
    /// a cleared cookie, with an empty value, is left out), like Better Auth's callers carry
    /// the `set-cookie` of `returnHeaders` into the next request's headers.
    pub fn cookie_header(&self) -> String {
        self.set_cookies()
            .into_iter()
            .filter_map(|line| line.split(';').next())
            .map(str::trim)
            .filter(|pair| {
                pair.split_once('=')
                    .is_some_and(|(name, value)| !name.is_empty() && !value.is_empty())
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl<B: Input, Q: Input, A: DeserializeOwned> Call<'_, B, Q, A> {
    pub fn body(mut self, body: B) -> Self {
        self.body = Some(body);
        self
    }

    pub fn query(mut self, query: Q) -> Self {
        self.query = Some(query);
        self
    }

    /// A request header, e.g. the `cookie` that carries the session.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.input = self.input.header(name, value);
        self
    }

    /// A path parameter, e.g. `("token", …)` for `/reset-password/:token`.
    pub fn param(mut self, name: &str, value: &str) -> Self {
        self.input = self.input.param(name, value);
        self
    }

    /// The typed answer. A redirect is an `ApiError` with status 302 and the `location`
    /// header, as Better Auth throws `APIError("FOUND")`.
    pub fn send(self) -> Result<A, ApiError> {
        self.with_headers().map(|a| a.data)
    }

    /// The typed answer with status and response headers (`returnHeaders: true`).
    pub fn with_headers(self) -> Result<Answered<A>, ApiError> {
        let app = self.app;
        let resp = answer(app.run(self.request()?, Transport::InProcess)?)?;
        let (status, headers) = (resp.status, resp.header_lines());
        let data = decode_answer(&resp)
            .map_err(|e| ApiError::internal().with_cause("decoding an in-process answer", &anyhow::anyhow!("{e}")))?;
        Ok(Answered { status, headers, data })
    }

    /// The whole response, errors rendered as HTTP would (`asResponse: true`).
    pub fn as_response(self) -> Response {
        let app = self.app;
        match self.request().and_then(|r| app.run(r, Transport::InProcess)) {
            Ok(r) => r,
            Err(e) => Response::from_error(&e),
        }
    }

    fn request(self) -> Result<Request, ApiError> {
        let mut input = self.input;
        let encode = |e: serde_json::Error| ApiError::validation(format!("[body] {e}"));
        if let Some(body) = self.body {
            input.body = Some(serde_json::to_value(body).map_err(encode)?);
        }
        if let Some(query) = self.query {
            if let Value::Object(m) = serde_json::to_value(query).map_err(encode)? {
                for (k, v) in m {
                    match v {
                        Value::Null => {}
                        Value::String(s) => input.query.push((k, s)),
                        Value::Array(items) => input.query.extend(items.iter().map(|i| (k.clone(), text(i)))),
                        other => input.query.push((k, text(&other))),
                    }
                }
            }
        }
        self.app.request_for_endpoint(self.endpoint, input)
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A handler's answer as the in-process caller sees it: a redirect or an error status (`/ready`
/// answers 503 with its checks rather than failing) is an `ApiError`, as Better Auth throws
/// `APIError` for any non-2xx answer.
fn answer(resp: Response) -> Result<Response, ApiError> {
    match resp.status {
        302 => Err(found(resp)),
        400.. => Err(error_answer(resp)),
        _ => Ok(resp),
    }
}

/// The error an answer with an error status carries: its JSON `code` and `message`.
fn error_answer(resp: Response) -> ApiError {
    let body: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    let text = |field: &str| body.get(field).and_then(Value::as_str).map(str::to_string);
    ApiError {
        status: resp.status,
        code: text("code")
            .unwrap_or_else(|| crate::error::status_name(resp.status).to_string())
            .into(),
        message: text("message").unwrap_or_default().into(),
        headers: resp.headers,
        cookies: resp.cookies,
        cause: None,
    }
}

/// Better Auth's `APIError("FOUND")` for a redirect.
fn found(resp: Response) -> ApiError {
    let location = resp.header("location").unwrap_or_default().to_string();
    ApiError {
        status: 302,
        code: "FOUND".into(),
        message: location.into(),
        headers: resp.headers,
        cookies: resp.cookies,
        cause: None,
    }
}
