//! The in-process API, Better Auth's `auth.api.*`: call any route by its endpoint key with a
//! body, headers (cookies) and query, and get the data, the data with the response headers
//! (`returnHeaders`), or the whole response (`asResponse`). Failures are a typed [`ApiError`].
//!
//! Calls go through the same pipeline and handlers as HTTP, minus the router-level Origin
//! check (as in Better Auth), so plugin routes are reachable with no extra code.

use serde_json::Value;

use crate::app::App;
use crate::endpoint::Transport;
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
        let resp = self.run(self.request_for(key, input)?, Transport::InProcess)?;
        if resp.status == 302 {
            let location = resp.header("location").unwrap_or_default().to_string();
            return Err(ApiError {
                status: 302,
                code: "FOUND".into(),
                message: location.into(),
                headers: resp.headers,
                cookies: resp.cookies,
                cause: None,
            });
        }
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

    /// Typed wrappers for the core endpoints.
    pub fn api(&self) -> Api<'_> {
        Api { app: self }
    }

    fn request_for(&self, key: &str, input: ApiInput) -> Result<Request, ApiError> {
        let route = self
            .router
            .by_key(key)
            .ok_or_else(|| ApiError::with_message(404, codes::NOT_FOUND, format!("No endpoint with key {key}")))?;
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

/// `app.api().sign_in_email(input)`: one method per core endpoint, named like Better Auth's
/// `auth.api` keys in snake case.
pub struct Api<'a> {
    app: &'a App,
}

macro_rules! endpoints {
    ($($fn_name:ident => $key:literal,)*) => {
        impl Api<'_> {
            $(
                #[doc = concat!("Calls `", $key, "`.")]
                pub fn $fn_name(&self, input: ApiInput) -> Result<Value, ApiError> {
                    self.app.call($key, input)
                }
            )*
        }
        /// The keys the typed wrappers cover (checked against the route table in a test).
        pub const TYPED_KEYS: &[&str] = &[$($key),*];
    };
}

endpoints! {
    sign_up_email => "signUpEmail",
    sign_in_email => "signInEmail",
    get_session => "getSession",
    sign_out => "signOut",
    list_sessions => "listSessions",
    revoke_session => "revokeSession",
    revoke_sessions => "revokeSessions",
    revoke_other_sessions => "revokeOtherSessions",
    update_user => "updateUser",
    update_session => "updateSession",
    change_password => "changePassword",
    verify_password => "verifyPassword",
    send_verification_email => "sendVerificationEmail",
    verify_email => "verifyEmail",
    request_password_reset => "requestPasswordReset",
    forget_password => "forgetPassword",
    request_password_reset_callback => "requestPasswordResetCallback",
    reset_password => "resetPassword",
    change_email => "changeEmail",
    delete_user => "deleteUser",
    delete_user_callback => "deleteUserCallback",
    ok => "ok",
}
