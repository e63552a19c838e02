//! What the OpenAPI document says about each endpoint beyond the route table: body fields,
//! query fields and the error codes it can answer. Keyed by endpoint key; a test checks every
//! route of every plugin has an entry, so a new route cannot go undocumented.

/// JSON types of documented fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    String,
    Email,
    Boolean,
    Number,
    /// A string or `null`.
    NullableString,
    StringArray,
    Object,
}

#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub ty: FieldType,
    pub required: bool,
}

const fn req(name: &'static str, ty: FieldType) -> Field {
    Field {
        name,
        ty,
        required: true,
    }
}
const fn opt(name: &'static str, ty: FieldType) -> Field {
    Field {
        name,
        ty,
        required: false,
    }
}

#[derive(Debug, Clone, Copy)]
pub struct EndpointDoc {
    pub key: &'static str,
    pub body: &'static [Field],
    pub query: &'static [Field],
    /// Codes this endpoint answers with on failure (besides the pipeline's own).
    pub errors: &'static [&'static str],
    /// Needs a signed-in session.
    pub session: bool,
}

const fn doc(key: &'static str, body: &'static [Field], errors: &'static [&'static str], session: bool) -> EndpointDoc {
    EndpointDoc {
        key,
        body,
        query: &[],
        errors,
        session,
    }
}

use FieldType::*;

/// The OAuth callback's parameters (query for GET; form body for POST).
const CALLBACK_QUERY: &[Field] = &[
    opt("code", String),
    opt("state", String),
    opt("error", String),
    opt("error_description", String),
    opt("iss", String),
    opt("user", String),
    opt("device_id", String),
];

const CORE: &[EndpointDoc] = &[
    doc(
        "signUpEmail",
        &[
            req("name", String),
            req("email", Email),
            req("password", String),
            opt("image", String),
            opt("callbackURL", String),
            opt("rememberMe", Boolean),
        ],
        &[
            "EMAIL_PASSWORD_SIGN_UP_DISABLED",
            "INVALID_EMAIL",
            "PASSWORD_TOO_SHORT",
            "PASSWORD_TOO_LONG",
            "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
            "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED",
        ],
        false,
    ),
    doc(
        "signInEmail",
        &[
            req("email", String),
            req("password", String),
            opt("callbackURL", String),
            opt("rememberMe", Boolean),
        ],
        &[
            "INVALID_EMAIL",
            "INVALID_EMAIL_OR_PASSWORD",
            "EMAIL_NOT_VERIFIED",
            "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED",
        ],
        false,
    ),
    EndpointDoc {
        key: "getSession",
        body: &[],
        query: &[opt("disableCookieCache", String), opt("disableRefresh", String)],
        errors: &["FAILED_TO_GET_SESSION"],
        session: false,
    },
    doc(
        "getSessionPost",
        &[],
        &["METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED"],
        false,
    ),
    doc(
        "signOut",
        &[
            opt("callbackURL", String),
            opt("disableRedirect", Boolean),
            opt("state", String),
        ],
        &[],
        false,
    ),
    doc("listSessions", &[], &["UNAUTHORIZED", "SESSION_NOT_FRESH"], true),
    doc("updateSession", &[], &["UNAUTHORIZED", "NO_FIELDS_TO_UPDATE"], true),
    doc("revokeSession", &[req("token", String)], &["UNAUTHORIZED"], true),
    doc("revokeSessions", &[], &["UNAUTHORIZED"], true),
    doc("revokeOtherSessions", &[], &["UNAUTHORIZED"], true),
    doc(
        "updateUser",
        &[opt("name", String), opt("image", NullableString)],
        &[
            "UNAUTHORIZED",
            "BODY_MUST_BE_AN_OBJECT",
            "EMAIL_CAN_NOT_BE_UPDATED",
            "NO_FIELDS_TO_UPDATE",
        ],
        true,
    ),
    doc(
        "changePassword",
        &[
            req("newPassword", String),
            req("currentPassword", String),
            opt("revokeOtherSessions", Boolean),
        ],
        &[
            "UNAUTHORIZED",
            "PASSWORD_TOO_SHORT",
            "PASSWORD_TOO_LONG",
            "CREDENTIAL_ACCOUNT_NOT_FOUND",
            "INVALID_PASSWORD",
        ],
        true,
    ),
    doc(
        "verifyPassword",
        &[req("password", String)],
        &["UNAUTHORIZED", "INVALID_PASSWORD"],
        true,
    ),
    doc(
        "sendVerificationEmail",
        &[req("email", Email), opt("callbackURL", String)],
        &["EMAIL_MISMATCH", "EMAIL_ALREADY_VERIFIED"],
        false,
    ),
    EndpointDoc {
        key: "verifyEmail",
        body: &[],
        query: &[req("token", String), opt("callbackURL", String)],
        errors: &[
            "INVALID_TOKEN",
            "TOKEN_EXPIRED",
            "USER_NOT_FOUND",
            "INVALID_USER",
            "INVALID_CALLBACK_URL",
        ],
        session: false,
    },
    doc(
        "requestPasswordReset",
        &[req("email", Email), opt("redirectTo", String)],
        &["INVALID_REDIRECT_URL"],
        false,
    ),
    doc(
        "forgetPassword",
        &[req("email", Email), opt("redirectTo", String)],
        &["INVALID_REDIRECT_URL"],
        false,
    ),
    EndpointDoc {
        key: "requestPasswordResetCallback",
        body: &[],
        query: &[req("callbackURL", String)],
        errors: &["INVALID_CALLBACK_URL"],
        session: false,
    },
    EndpointDoc {
        key: "resetPassword",
        body: &[req("newPassword", String), opt("token", String)],
        query: &[opt("token", String)],
        errors: &[
            "INVALID_TOKEN",
            "PASSWORD_TOO_SHORT",
            "PASSWORD_TOO_LONG",
            "USER_NOT_FOUND",
        ],
        session: false,
    },
    doc(
        "changeEmail",
        &[req("newEmail", Email), opt("callbackURL", String)],
        &["CHANGE_EMAIL_DISABLED", "EMAIL_IS_THE_SAME", "UNAUTHORIZED"],
        true,
    ),
    doc(
        "deleteUser",
        &[
            opt("callbackURL", String),
            opt("password", String),
            opt("token", String),
        ],
        &[
            "NOT_FOUND",
            "CREDENTIAL_ACCOUNT_NOT_FOUND",
            "INVALID_PASSWORD",
            "SESSION_EXPIRED",
            "INVALID_TOKEN",
        ],
        true,
    ),
    EndpointDoc {
        key: "deleteUserCallback",
        body: &[],
        query: &[req("token", String), opt("callbackURL", String)],
        errors: &[
            "NOT_FOUND",
            "FAILED_TO_GET_USER_INFO",
            "INVALID_TOKEN",
            "INVALID_CALLBACK_URL",
        ],
        session: true,
    },
    doc(
        "signInSocial",
        &[
            req("provider", String),
            opt("callbackURL", String),
            opt("newUserCallbackURL", String),
            opt("errorCallbackURL", String),
            opt("disableRedirect", Boolean),
            opt("scopes", StringArray),
            opt("loginHint", String),
            opt("requestSignUp", Boolean),
            opt("additionalParams", Object),
            opt("additionalData", Object),
            opt("idToken", Object),
        ],
        &[
            "PROVIDER_NOT_FOUND",
            "ID_TOKEN_NOT_SUPPORTED",
            "INVALID_TOKEN",
            "FAILED_TO_GET_USER_INFO",
            "USER_EMAIL_NOT_FOUND",
            "EMAIL_NOT_VERIFIED",
            "OAUTH_LINK_ERROR",
            "CALLBACK_URL_REQUIRED",
        ],
        false,
    ),
    EndpointDoc {
        key: "callbackOAuth",
        body: &[],
        query: CALLBACK_QUERY,
        errors: &[],
        session: false,
    },
    EndpointDoc {
        key: "callbackOAuthPost",
        body: CALLBACK_QUERY,
        query: CALLBACK_QUERY,
        errors: &[],
        session: false,
    },
    doc(
        "linkSocialAccount",
        &[
            req("provider", String),
            opt("callbackURL", String),
            opt("errorCallbackURL", String),
            opt("scopes", StringArray),
            opt("disableRedirect", Boolean),
            opt("loginHint", String),
            opt("requestSignUp", Boolean),
            opt("additionalParams", Object),
            opt("additionalData", Object),
            opt("idToken", Object),
        ],
        &[
            "UNAUTHORIZED",
            "PROVIDER_NOT_FOUND",
            "SOCIAL_ACCOUNT_ALREADY_LINKED",
            "LINKING_NOT_ALLOWED",
            "LINKING_DIFFERENT_EMAILS_NOT_ALLOWED",
            "LINKING_FAILED",
        ],
        true,
    ),
    doc("listUserAccounts", &[], &["UNAUTHORIZED"], true),
    doc(
        "unlinkAccount",
        &[req("accountId", String)],
        &[
            "UNAUTHORIZED",
            "SESSION_NOT_FRESH",
            "FAILED_TO_UNLINK_LAST_ACCOUNT",
            "ACCOUNT_NOT_FOUND",
        ],
        true,
    ),
    doc(
        "refreshToken",
        &[
            opt("accountId", String),
            opt("useAccountCookie", Boolean),
            opt("userId", String),
        ],
        &[
            "UNAUTHORIZED",
            "ACCOUNT_NOT_FOUND",
            "PROVIDER_NOT_SUPPORTED",
            "TOKEN_REFRESH_NOT_SUPPORTED",
            "REFRESH_TOKEN_NOT_FOUND",
            "FAILED_TO_REFRESH_ACCESS_TOKEN",
        ],
        true,
    ),
    doc(
        "getAccessToken",
        &[
            opt("accountId", String),
            opt("useAccountCookie", Boolean),
            opt("userId", String),
        ],
        &[
            "UNAUTHORIZED",
            "ACCOUNT_NOT_FOUND",
            "PROVIDER_NOT_SUPPORTED",
            "FAILED_TO_GET_ACCESS_TOKEN",
        ],
        true,
    ),
    EndpointDoc {
        key: "accountInfo",
        body: &[],
        query: &[req("accountId", String)],
        errors: &[
            "UNAUTHORIZED",
            "ACCOUNT_NOT_FOUND",
            "PROVIDER_NOT_CONFIGURED",
            "ACCESS_TOKEN_NOT_FOUND",
            "FAILED_TO_GET_USER_INFO",
        ],
        session: true,
    },
    doc("ok", &[], &[], false),
    EndpointDoc {
        key: "error",
        body: &[],
        query: &[opt("error", String), opt("error_description", String)],
        errors: &[],
        session: false,
    },
    doc(
        "signInUsername",
        &[
            req("username", String),
            req("password", String),
            opt("callbackURL", String),
            opt("rememberMe", Boolean),
        ],
        &[
            "INVALID_USERNAME_OR_PASSWORD",
            "USERNAME_TOO_SHORT",
            "USERNAME_TOO_LONG",
            "INVALID_USERNAME",
            "EMAIL_NOT_VERIFIED",
        ],
        false,
    ),
    doc(
        "isUsernameAvailable",
        &[req("username", String)],
        &["INVALID_USERNAME", "USERNAME_TOO_SHORT", "USERNAME_TOO_LONG"],
        false,
    ),
    doc("generateOpenAPISchema", &[], &[], false),
    doc("openAPIReference", &[], &[], false),
    doc("getToken", &[], &["UNAUTHORIZED"], true),
    doc("getJwks", &[], &[], false),
];

/// The documentation entry for an endpoint key.
pub fn doc_for(key: &str) -> Option<&'static EndpointDoc> {
    CORE.iter().find(|d| d.key == key)
}
