//! The one error type every endpoint returns, and the table of codes it is built from.
//!
//! Every error answer is JSON `{"message", "code", "status"}`.
//! Expected outcomes are built at the call site from a named [`ErrorCode`] with the status
//! Better Auth uses; unexpected failures become a fixed 500 ([`ApiError::internal`]) or 503
//! carrying their cause, which the pipeline logs once with the request id
//! (`app.rs`) and never echoes to the client. Converting (`?`) logs nothing.

use std::borrow::Cow;

use crate::http::cookies::SetCookie;

/// A code and its exact message, as in Better Auth's `BASE_ERROR_CODES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    pub code: &'static str,
    pub message: &'static str,
}

/// Better Auth's base codes (spec §2) plus the codes Sesame names where Better Auth has none.
pub mod codes {
    use super::ErrorCode;

    macro_rules! codes {
        ($($name:ident => $msg:expr,)*) => {
            $(pub const $name: ErrorCode = ErrorCode { code: stringify!($name), message: $msg };)*
            /// Every code in this table, for documentation and the OpenAPI generator.
            pub const ALL: &[ErrorCode] = &[$($name),*];
        };
    }

    codes! {
        USER_NOT_FOUND => "User not found",
        FAILED_TO_CREATE_USER => "Failed to create user",
        FAILED_TO_CREATE_SESSION => "Failed to create session",
        FAILED_TO_UPDATE_USER => "Failed to update user",
        FAILED_TO_GET_SESSION => "Failed to get session",
        INVALID_PASSWORD => "Invalid password",
        INVALID_EMAIL => "Invalid email",
        INVALID_EMAIL_OR_PASSWORD => "Invalid email or password",
        INVALID_USER => "Invalid user",
        SOCIAL_ACCOUNT_ALREADY_LINKED => "Social account already linked",
        PROVIDER_NOT_FOUND => "Provider not found",
        INVALID_TOKEN => "Invalid token",
        TOKEN_EXPIRED => "Token expired",
        ID_TOKEN_NOT_SUPPORTED => "id_token not supported",
        FAILED_TO_GET_USER_INFO => "Failed to get user info",
        USER_EMAIL_NOT_FOUND => "User email not found",
        EMAIL_NOT_VERIFIED => "Email not verified",
        PASSWORD_TOO_SHORT => "Password too short",
        PASSWORD_TOO_LONG => "Password too long",
        USER_ALREADY_EXISTS => "User already exists.",
        USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL => "User already exists. Use another email.",
        EMAIL_CAN_NOT_BE_UPDATED => "Email can not be updated",
        CHANGE_EMAIL_DISABLED => "Change email is disabled",
        CREDENTIAL_ACCOUNT_NOT_FOUND => "Credential account not found",
        SESSION_EXPIRED => "Session expired. Re-authenticate to perform this action.",
        FAILED_TO_UNLINK_LAST_ACCOUNT => "You can't unlink your last account",
        ACCOUNT_NOT_FOUND => "Account not found",
        USER_ALREADY_HAS_PASSWORD => "User already has a password. Provide that to delete the account.",
        CROSS_SITE_NAVIGATION_LOGIN_BLOCKED => "Cross-site navigation login blocked. This request appears to be a CSRF attack.",
        VERIFICATION_EMAIL_NOT_ENABLED => "Verification email isn't enabled",
        EMAIL_ALREADY_VERIFIED => "Email is already verified",
        EMAIL_MISMATCH => "Email mismatch",
        SESSION_NOT_FRESH => "Session is not fresh",
        LINKED_ACCOUNT_ALREADY_EXISTS => "Linked account already exists",
        INVALID_ORIGIN => "Invalid origin",
        INVALID_CALLBACK_URL => "Invalid callbackURL",
        INVALID_REDIRECT_URL => "Invalid redirectURL",
        INVALID_ERROR_CALLBACK_URL => "Invalid errorCallbackURL",
        INVALID_NEW_USER_CALLBACK_URL => "Invalid newUserCallbackURL",
        MISSING_OR_NULL_ORIGIN => "Missing or null Origin",
        CALLBACK_URL_REQUIRED => "callbackURL is required",
        FAILED_TO_CREATE_VERIFICATION => "Unable to create verification",
        FIELD_NOT_ALLOWED => "Field not allowed to be set",
        ASYNC_VALIDATION_NOT_SUPPORTED => "Async validation is not supported",
        VALIDATION_ERROR => "Validation Error",
        MISSING_FIELD => "Field is required",
        METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED => "POST method requires deferSessionRefresh to be enabled in session config",
        BODY_MUST_BE_AN_OBJECT => "Body must be an object",
        PASSWORD_ALREADY_SET => "User already has a password set",
        // Used inline by Better Auth's core routes.
        EMAIL_PASSWORD_SIGN_UP_DISABLED => "Email and password sign up is not enabled",
        EMAIL_PASSWORD_DISABLED => "Email and password is not enabled",
        RESET_PASSWORD_DISABLED => "Reset password isn't enabled",
        UNAUTHORIZED => "Unauthorized",
        INTERNAL_SERVER_ERROR => "Internal Server Error",
        NOT_FOUND => "Not found",
        BAD_REQUEST => "Bad Request",
        UNSUPPORTED_MEDIA_TYPE => "Unsupported Media Type",
        // Codes Sesame names where Better Auth sends no code or no body (spec preface, 2-5).
        NO_FIELDS_TO_UPDATE => "No fields to update",
        EMAIL_IS_THE_SAME => "Email is the same",
        METHOD_NOT_ALLOWED => "Method not allowed",
        PAYLOAD_TOO_LARGE => "Request body is too large",
        REQUEST_TIMEOUT => "The request was not received in time",
        REQUEST_HEADER_FIELDS_TOO_LARGE => "Request headers are too large",
        EXPECTATION_FAILED => "Only `Expect: 100-continue` is supported",
        MALFORMED_REQUEST => "Malformed HTTP request",
        SERVER_BUSY => "Too many connections. Please try again later.",
        MAIL_QUEUE_FULL => "Too many emails are waiting to be sent. Please try again later.",
        INVALID_URL_FIELD => "Invalid URL field: expected a string",
        INVALID_CORS_REQUEST => "Invalid CORS preflight",
        RATE_LIMITED => "Too many requests. Please try again later.",
        DATABASE_UNAVAILABLE => "The database is unavailable. Please try again later.",
        NOT_READY => "Not ready to serve",
        // Social sign-in and account endpoints (inline codes of Better Auth's routes).
        OAUTH_LINK_ERROR => "Unable to sign in with this account",
        LINKING_NOT_ALLOWED => "Account not linked - linking not allowed",
        LINKING_DIFFERENT_EMAILS_NOT_ALLOWED => "Account not linked - different emails not allowed",
        LINKING_FAILED => "Account not linked - unable to create account",
        USER_ID_OR_SESSION_REQUIRED => "Either userId or session is required",
        PROVIDER_NOT_SUPPORTED => "Provider is not supported.",
        TOKEN_REFRESH_NOT_SUPPORTED => "Provider does not support token refreshing.",
        REFRESH_TOKEN_NOT_FOUND => "Refresh token not found",
        FAILED_TO_REFRESH_ACCESS_TOKEN => "Failed to refresh access token",
        FAILED_TO_GET_ACCESS_TOKEN => "Failed to get a valid access token",
        PROVIDER_NOT_CONFIGURED => "Account is not associated with a configured social provider.",
        ACCESS_TOKEN_NOT_FOUND => "Access token not found",
        PROVIDER_UNAVAILABLE => "The identity provider could not be reached. Please try again later.",
    }
}

/// An error answer: HTTP status, code, message, extra headers (`Allow`, …) and the cookies
/// set on the way (cleared session cookies survive a failing request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: Cow<'static, str>,
    pub message: Cow<'static, str>,
    pub headers: Vec<(String, String)>,
    pub cookies: Vec<SetCookie>,
    /// What went wrong behind an unexpected failure, for the log line the pipeline writes;
    /// never part of the answer.
    pub cause: Option<Box<str>>,
}

impl ApiError {
    pub fn new(status: u16, code: ErrorCode) -> Self {
        ApiError {
            status,
            code: Cow::Borrowed(code.code),
            message: Cow::Borrowed(code.message),
            headers: Vec::new(),
            cookies: Vec::new(),
            cause: None,
        }
    }

    /// The same code with a message of its own (validation details, provider names…).
    pub fn with_message(status: u16, code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError {
            message: message.into(),
            ..ApiError::new(status, code)
        }
    }

    pub fn bad_request(code: ErrorCode) -> Self {
        ApiError::new(400, code)
    }

    pub fn unauthorized() -> Self {
        ApiError::new(401, codes::UNAUTHORIZED)
    }

    pub fn validation(message: String) -> Self {
        ApiError::with_message(400, codes::VALIDATION_ERROR, message)
    }

    /// The only way an unexpected failure reaches a client: a fixed 500 without internals.
    pub fn internal() -> Self {
        ApiError::new(500, codes::INTERNAL_SERVER_ERROR)
    }

    /// Attaches what went wrong (`"storage failure: …"`), logged by the pipeline.
    pub fn with_cause(mut self, what: &str, err: &anyhow::Error) -> Self {
        self.cause = Some(format!("{what}: {err:#}").into());
        self
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Whether this is the error `code` names (`err.is(codes::INVALID_EMAIL_OR_PASSWORD)`), as
    /// Better Auth's callers compare `APIError.body.code`.
    pub fn is(&self, code: ErrorCode) -> bool {
        self.code == code.code
    }

    /// The status name Better Auth's `APIError.status` carries (`"UNAUTHORIZED"`, …).
    pub fn status_name(&self) -> &'static str {
        status_name(self.status)
    }

    pub fn body_json(&self) -> serde_json::Value {
        serde_json::json!({ "message": self.message, "code": self.code, "status": self.status })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {}: {}",
            self.status,
            self.status_name(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        ApiError::internal().with_cause("unexpected failure", &err)
    }
}

/// Standard reason names, upper snake case as Better Auth's `APIError.status`.
pub fn status_name(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "FOUND",
        400 => "BAD_REQUEST",
        401 => "UNAUTHORIZED",
        403 => "FORBIDDEN",
        404 => "NOT_FOUND",
        405 => "METHOD_NOT_ALLOWED",
        408 => "REQUEST_TIMEOUT",
        409 => "CONFLICT",
        413 => "PAYLOAD_TOO_LARGE",
        415 => "UNSUPPORTED_MEDIA_TYPE",
        417 => "EXPECTATION_FAILED",
        422 => "UNPROCESSABLE_ENTITY",
        429 => "TOO_MANY_REQUESTS",
        431 => "REQUEST_HEADER_FIELDS_TOO_LARGE",
        500 => "INTERNAL_SERVER_ERROR",
        502 => "BAD_GATEWAY",
        503 => "SERVICE_UNAVAILABLE",
        _ => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_message_code_and_status() {
        let err = ApiError::new(401, codes::INVALID_EMAIL_OR_PASSWORD);
        assert_eq!(
            err.body_json().to_string(),
            r#"{"message":"Invalid email or password","code":"INVALID_EMAIL_OR_PASSWORD","status":401}"#
        );
        assert_eq!(err.status_name(), "UNAUTHORIZED");
    }

    #[test]
    fn codes_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for c in codes::ALL {
            assert!(seen.insert(c.code), "duplicate code {}", c.code);
        }
    }
}
