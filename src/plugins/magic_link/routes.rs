//! `POST /sign-in/magic-link` and `GET /magic-link/verify`.

use serde_json::{json, Map, Value};
use time::Duration;

use crate::auth::email;
use crate::endpoint::answers::{SessionAnswer, StatusAnswer, UserAnswer};
use crate::endpoint::mail::{queue, Outgoing};
use crate::endpoint::session::create_session;
use crate::endpoint::{Ctx, Kind, NoInput, Produces, Transport, Typed};
use crate::error::{codes, ApiError};
use crate::http::redirect::set_query_param;
use crate::http::{origin, Request, Response};
use crate::mail::MailKind;
use crate::storage::models::{User, Verification};
use crate::storage::StorageError;

/// The identifier prefix of a pending link's `verification` row.
const IDENTIFIER_PREFIX: &str = "magic-link:";

/// Better Auth's `generateRandomString(32, "a-z", "A-Z")`.
const TOKEN_LENGTH: usize = 32;
const TOKEN_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

crate::input! {
    /// The body of `POST /sign-in/magic-link`.
    pub struct SignInMagicLinkBody {
        email: String = "email" as Kind::Email,
        /// The name of a user the link signs up (ignored for an existing user).
        name: Option<String> = "name" as Kind::String,
        callback_url: Option<String> = "callbackURL" as Kind::String,
        new_user_callback_url: Option<String> = "newUserCallbackURL" as Kind::String,
        error_callback_url: Option<String> = "errorCallbackURL" as Kind::String,
        /// Passed to Better Auth's `sendMagicLink` callback; Sesame's emails do not use it.
        metadata: Option<Map<String, Value>> = "metadata" as Kind::Record,
    }
}

/// Always `{status: true}`, whether or not the address has an account.
pub static SIGN_IN_MAGIC_LINK: Typed<SignInMagicLinkBody, NoInput, StatusAnswer> =
    Typed::post("/sign-in/magic-link", "signInMagicLink", sign_in_magic_link)
        .summary("Email a sign-in link")
        .errors(&[
            codes::INVALID_CALLBACK_URL,
            codes::INVALID_NEW_USER_CALLBACK_URL,
            codes::INVALID_ERROR_CALLBACK_URL,
        ]);

crate::input! {
    /// The query of the emailed link.
    pub struct VerifyMagicLinkQuery {
        token: String = "token" as Kind::String,
        callback_url: Option<String> = "callbackURL" as Kind::String,
        error_callback_url: Option<String> = "errorCallbackURL" as Kind::String,
        new_user_callback_url: Option<String> = "newUserCallbackURL" as Kind::String,
    }
}

/// The JSON answer of a link opened without a callbackURL.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MagicLinkAnswer {
    pub token: String,
    pub user: UserAnswer,
    pub session: SessionAnswer,
}

/// Signs in and redirects to the callbackURL (the newUserCallbackURL for a user it signed
/// up), or answers JSON without a callbackURL. A link that does not work redirects to the
/// errorCallbackURL (else the callbackURL, else `/`) with `?error=`.
pub static MAGIC_LINK_VERIFY: Typed<NoInput, VerifyMagicLinkQuery, MagicLinkAnswer> =
    Typed::get("/magic-link/verify", "magicLinkVerify", magic_link_verify)
        .summary("Open an emailed sign-in link")
        .produces(Produces::Redirect)
        .errors(&[codes::INVALID_CALLBACK_URL]);

/// The `verification.identifier` of a token, as the configuration stores it.
fn identifier(ctx: &Ctx<'_>, token: &str) -> String {
    if ctx.config().magic_link.store_hashed {
        // Better Auth's `defaultKeyHasher`: base64url(SHA-256(token)), no padding.
        format!("{IDENTIFIER_PREFIX}{}", crate::crypto::sha256_base64url(token))
    } else {
        format!("{IDENTIFIER_PREFIX}{token}")
    }
}

fn sign_in_magic_link(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let SignInMagicLinkBody {
        email: address,
        name,
        callback_url,
        new_user_callback_url,
        error_callback_url,
        metadata: _,
    } = ctx.input()?;
    if ctx.transport == Transport::Http {
        // Better Auth's `formCsrfMiddleware`: a cross-site form must not start a sign-in.
        origin::check_login_csrf(&ctx.app.trusted, req)?;
    }
    // A full mail queue answers 503 before anything is written (database storage).
    ctx.app.ensure_mail_room()?;
    let address = email::normalize(&address);
    let token = crate::crypto::random_from(TOKEN_ALPHABET, TOKEN_LENGTH);
    let expires_in = ctx.config().magic_link.expires_in;
    // The record Better Auth writes (`name` left out when absent, as JSON.stringify does).
    let mut record = Map::new();
    record.insert("type".into(), json!("magic-link"));
    record.insert("email".into(), json!(address));
    if let Some(n) = &name {
        record.insert("name".into(), json!(n));
    }
    ctx.storage().create_verification(&Verification {
        id: crate::crypto::new_id(),
        identifier: identifier(ctx, &token),
        value: Value::Object(record).to_string(),
        expires_at: ctx.now + Duration::seconds(expires_in),
        created_at: ctx.now,
        updated_at: ctx.now,
    })?;
    let url = link(
        ctx,
        &token,
        callback_url.as_deref(),
        new_user_callback_url.as_deref(),
        error_callback_url.as_deref(),
    );
    // The answer is the same whether or not the email goes out (the recipient limit) and
    // whether or not the address has an account.
    queue(
        ctx,
        Outgoing {
            kind: MailKind::MagicLink,
            to: &address,
            url,
            token,
            expires_in,
            new_email: None,
        },
    )?;
    Ok(Response::json(&json!({ "status": true })))
}

/// `<baseURL>/magic-link/verify?token=…&callbackURL=<callbackURL or />` with the other two
/// callbacks when given, encoded as `URLSearchParams` does.
fn link(ctx: &Ctx<'_>, token: &str, callback: Option<&str>, new_user: Option<&str>, error: Option<&str>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("token", token);
    query.append_pair("callbackURL", callback.filter(|c| !c.is_empty()).unwrap_or("/"));
    if let Some(n) = new_user.filter(|n| !n.is_empty()) {
        query.append_pair("newUserCallbackURL", n);
    }
    if let Some(e) = error.filter(|e| !e.is_empty()) {
        query.append_pair("errorCallbackURL", e);
    }
    format!("{}/magic-link/verify?{}", ctx.config().base_url(), query.finish())
}

/// A pending link's record, as Better Auth's strict schema accepts it.
struct Record {
    email: String,
    name: Option<String>,
}

fn parse_record(value: &str) -> Option<Record> {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(value) else {
        return None;
    };
    if map.keys().any(|k| !matches!(k.as_str(), "type" | "email" | "name")) || map.get("type")? != "magic-link" {
        return None;
    }
    let email = map.get("email")?.as_str().filter(|e| email::is_valid(e))?.to_string();
    let name = match map.get("name") {
        None => None,
        Some(Value::String(n)) => Some(n.clone()),
        Some(_) => return None,
    };
    Some(Record { email, name })
}

/// Where `/magic-link/verify` sends the browser, made absolute against the base URL as Better
/// Auth does (`new URL(target, baseURL)`).
struct Targets {
    callback: String,
    new_user: String,
    error: String,
}

impl Targets {
    fn new(ctx: &Ctx<'_>, q: &VerifyMagicLinkQuery) -> Targets {
        let given = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(str::to_string);
        let callback = ctx.absolute_url(&given(&q.callback_url).unwrap_or_else(|| "/".to_string()));
        let or_callback = |v: &Option<String>| ctx.absolute_url(&given(v).unwrap_or_else(|| callback.clone()));
        Targets {
            new_user: or_callback(&q.new_user_callback_url),
            error: or_callback(&q.error_callback_url),
            callback,
        }
    }

    /// `302 <errorCallbackURL>?error=<code>`.
    fn fail(&self, ctx: &Ctx<'_>, code: &str) -> Result<Response, ApiError> {
        Ok(Response::redirect(&set_query_param(
            &ctx.config().base_url(),
            &self.error,
            "error",
            code,
        )))
    }
}

fn magic_link_verify(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let query: VerifyMagicLinkQuery = ctx.query(req)?;
    if ctx.transport == Transport::Http {
        // Better Auth's three `originCheck`s, each reporting itself as the callbackURL.
        for target in [
            &query.callback_url,
            &query.new_user_callback_url,
            &query.error_callback_url,
        ] {
            if target
                .as_deref()
                .is_some_and(|t| !ctx.app.trusted.is_allowed_redirect(t))
            {
                return Err(ApiError::new(403, codes::INVALID_CALLBACK_URL));
            }
        }
    }
    let targets = Targets::new(ctx, &query);
    // Consumed before anything is checked: a link works once, valid or not.
    let row = ctx.storage().consume_verification(&identifier(ctx, &query.token))?;
    let Some(record) = row
        .filter(|r| r.expires_at > ctx.now)
        .and_then(|r| parse_record(&r.value))
    else {
        return targets.fail(ctx, "INVALID_TOKEN");
    };
    let address = email::normalize(&record.email);
    let (user, is_new) = match ctx.storage().find_user_by_email(&address)? {
        Some(user) => (user, false),
        None if ctx.config().magic_link.disable_sign_up => return targets.fail(ctx, "new_user_signup_disabled"),
        None => match sign_up(ctx, &address, record.name.as_deref())? {
            Some(signed_up) => signed_up,
            None => return targets.fail(ctx, "failed_to_create_user"),
        },
    };
    let user = if user.email_verified {
        user
    } else {
        // Opening the link proves the address: what was attached to the account before anyone
        // proved it (a password, a provider account, sessions) may be an attacker's and goes.
        match ctx.storage().revoke_unproven_account_access(&user.id, ctx.now)? {
            Some(u) => u,
            None => return targets.fail(ctx, "user_not_found"),
        }
    };
    let session = create_session(ctx, req, &user.id, true)?;
    ctx.set_session_cookie(&session.token, false);
    if query.callback_url.as_deref().is_none_or(str::is_empty) {
        return Ok(Response::json(&json!({
            "token": session.token,
            "user": ctx.user_json(&user),
            "session": ctx.session_json(&session),
        })));
    }
    Ok(Response::redirect(if is_new {
        &targets.new_user
    } else {
        &targets.callback
    }))
}

/// Creates the user a link for an unknown address signs up: verified (the link proved the
/// address), named as the sign-in request asked or `""`. `None` when a concurrent sign-up
/// took the address and it is gone again; a user that appeared meanwhile is used as it is.
fn sign_up(ctx: &Ctx<'_>, address: &str, name: Option<&str>) -> Result<Option<(User, bool)>, ApiError> {
    let mut user = User {
        email_verified: true,
        ..User::new(name.unwrap_or_default(), address, None, ctx.now)
    };
    for plugin in &ctx.app.plugins {
        plugin.hooks.user_defaults(&mut user);
    }
    match ctx.storage().create_user(&user) {
        Ok(()) => Ok(Some((user, true))),
        Err(StorageError::Conflict(_)) => Ok(ctx.storage().find_user_by_email(address)?.map(|u| (u, false))),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_follow_better_auths_strict_schema() {
        let ok = parse_record(r#"{"type":"magic-link","email":"a@b.co","name":"Ada"}"#).unwrap();
        assert_eq!((ok.email.as_str(), ok.name.as_deref()), ("a@b.co", Some("Ada")));
        assert!(parse_record(r#"{"type":"magic-link","email":"a@b.co"}"#).is_some_and(|r| r.name.is_none()));
        for bad in [
            r#"{"type":"email-otp","email":"a@b.co"}"#,
            r#"{"type":"magic-link","email":"nope"}"#,
            r#"{"type":"magic-link","email":"a@b.co","extra":1}"#,
            r#"{"type":"magic-link","email":"a@b.co","name":5}"#,
            r#"{"type":"magic-link"}"#,
            r#"["magic-link"]"#,
            "user-id-123",
        ] {
            assert!(parse_record(bad).is_none(), "{bad}");
        }
    }
}
