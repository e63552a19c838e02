//! `GET /callback/:provider` and `POST /callback/:provider`: state check,
//! code exchange, profile, user/account resolution, session, then a 302. Every failure is a
//! 302 to an error URL with `?error=<code>`; nothing here answers 500 for a provider's fault.

use serde_json::Value;

use crate::endpoint::session::create_session;
use crate::endpoint::social::link::{self, AccountKey};
use crate::endpoint::social::state;
use crate::endpoint::validate::query_object;
use crate::endpoint::{Ctx, Kind, Produces, Typed};
use crate::error::ApiError;
use crate::http::{Request, Response};
use crate::oauth::provider::CodeExchange;

/// The callback's fields, in Better Auth's schema order.
const FIELDS: &[&str] = &[
    "code",
    "error",
    "device_id",
    "error_description",
    "state",
    "user",
    "iss",
];

crate::input! {
    /// The callback's parameters (the query of the GET, the form body of the POST), in Better
    /// Auth's schema order. Input of another type redirects to the error page
    /// (`invalid_callback_request`), as Better Auth's `onValidationError` does.
    pub struct CallbackInput {
        code: Option<String> = "code" as Kind::String,
        error: Option<String> = "error" as Kind::String,
        device_id: Option<String> = "device_id" as Kind::String,
        error_description: Option<String> = "error_description" as Kind::String,
        state: Option<String> = "state" as Kind::String,
        user: Option<String> = "user" as Kind::String,
        iss: Option<String> = "iss" as Kind::String,
    }
}

pub static CALLBACK_OAUTH: Typed<crate::endpoint::NoInput, CallbackInput, serde_json::Value> =
    Typed::get("/callback/:provider", "callbackOAuth", callback_get)
        .summary("OAuth redirect target: state, code exchange, session, 302")
        .produces(Produces::Redirect)
        .handler_validates();

pub static CALLBACK_OAUTH_POST: Typed<CallbackInput, CallbackInput, serde_json::Value> =
    Typed::post("/callback/:provider", "callbackOAuthPost", callback_post)
        .summary("form_post OAuth callback: 302 to the GET form")
        .forms()
        .produces(Produces::Redirect)
        .handler_validates();

/// `url` plus `?`/`&` plus form-encoded params (`appendQueryParams`).
fn append_query(url: &str, params: &[(&str, &str)]) -> String {
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{encoded}")
}

fn redirect_error(url: &str, code: &str, description: Option<&str>) -> Response {
    let mut params = vec![("error", code)];
    if let Some(d) = description.filter(|d| !d.is_empty()) {
        params.push(("error_description", d));
    }
    Response::redirect(&append_query(url, &params))
}

fn default_error_url(ctx: &Ctx<'_>) -> String {
    format!("{}/error", ctx.config().base_url())
}

/// The callback fields as strings; `None` when one is present with another type.
fn fields(source: &serde_json::Map<String, Value>) -> Option<Vec<(&'static str, String)>> {
    let mut out = Vec::new();
    for key in FIELDS {
        match source.get(*key) {
            None => {}
            Some(Value::String(s)) => out.push((*key, s.clone())),
            Some(_) => return None,
        }
    }
    Some(out)
}

/// Form-post providers (Apple): bounce to the GET form so SameSite=Lax cookies are sent.
fn callback_post(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let id = req.param("provider").unwrap_or_default();
    let body = match &ctx.body {
        None => serde_json::Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            return Ok(redirect_error(
                &default_error_url(ctx),
                "invalid_callback_request",
                None,
            ))
        }
    };
    let query = query_object(&req.query);
    let (Some(from_body), Some(from_query)) = (fields(&body), fields(&query)) else {
        return Ok(redirect_error(
            &default_error_url(ctx),
            "invalid_callback_request",
            None,
        ));
    };
    let mut merged: Vec<(&str, String)> = Vec::new();
    for key in FIELDS {
        let v = from_query.iter().chain(from_body.iter()).find(|(k, _)| k == key);
        if let Some((k, v)) = v {
            merged.push((k, v.clone()));
        }
    }
    let pairs: Vec<(&str, &str)> = merged.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let encoded_id = crate::http::js::encode_uri_component(id);
    let target = format!("{}/callback/{encoded_id}", ctx.config().base_url());
    let query_string = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter())
        .finish();
    Ok(Response::redirect(&format!("{target}?{query_string}")))
}

fn callback_get(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let default_error = default_error_url(ctx);
    let Some(q) = fields(&query_object(&req.query)) else {
        return Ok(redirect_error(&default_error, "invalid_callback_request", None));
    };
    let get = |k: &str| q.iter().find(|(qk, _)| *qk == k).map(|(_, v)| v.as_str());
    let Some(state_value) = get("state").filter(|s| !s.is_empty()) else {
        return Ok(redirect_error(&default_error, "state_not_found", None));
    };
    let data = match state::consume(ctx, req, state_value)? {
        Ok(d) => d,
        Err(f) => {
            return Ok(redirect_error(
                f.error_url.as_deref().unwrap_or(&default_error),
                f.code,
                None,
            ))
        }
    };
    let error_url = data.error_url.clone().unwrap_or(default_error);
    let fail = |code: &str| Ok(redirect_error(&error_url, code, None));
    if let Some(error) = get("error").filter(|e| !e.is_empty()) {
        return Ok(redirect_error(&error_url, error, get("error_description")));
    }
    let Some(code) = get("code").filter(|c| !c.is_empty()) else {
        return fail("no_code");
    };
    let oauth = &ctx.app.oauth;
    let Some(provider) = oauth.provider(req.param("provider").unwrap_or_default()) else {
        return fail("oauth_provider_not_found");
    };
    let log = |what: &str, e: &dyn std::fmt::Display| {
        tracing::warn!("oauth callback {}: {what}: {e}", provider.id());
    };
    let eps = match provider.endpoints(&oauth.http) {
        Ok(e) => e,
        Err(e) => {
            log("provider unavailable", &e);
            return fail("invalid_code");
        }
    };
    if let (Some(iss), Some(expected)) = (get("iss"), eps.issuer.as_deref()) {
        if iss != expected {
            return fail("issuer_mismatch");
        }
    }
    if provider.requires_nonce(&eps) && data.id_token_nonce.is_none() {
        return fail("nonce_binding_missing");
    }
    let redirect_uri = format!("{}/callback/{}", ctx.config().base_url(), provider.id());
    let exchange = CodeExchange {
        code,
        verifier: &data.code_verifier,
        redirect_uri: &redirect_uri,
        device_id: get("device_id"),
    };
    let tokens = match provider.exchange_code(&oauth.http, &eps, &exchange, ctx.now) {
        Ok(t) => t,
        Err(e) => {
            log("code exchange failed", &e);
            return fail("invalid_code");
        }
    };
    let apple_user: Option<Value> = get("user").and_then(|u| serde_json::from_str(u).ok());
    let nonce = data.id_token_nonce.as_deref();
    let info = match provider.user_info(
        &oauth.http,
        &oauth.jwks,
        &eps,
        &tokens,
        nonce,
        apple_user.as_ref(),
        ctx.now,
    ) {
        Ok(i) if !i.subject.trim().is_empty() => i,
        Ok(_) => return fail("unable_to_get_user_info"),
        Err(e) => {
            log("user info failed", &e);
            return fail("unable_to_get_user_info");
        }
    };
    let Some(info) = info.with_checked_email() else {
        return fail("invalid_email");
    };
    let Some(issuer) = provider.account_issuer(&eps, &info) else {
        return fail("unable_to_get_user_info");
    };
    let key = AccountKey {
        provider_id: provider.id(),
        issuer: &issuer,
        account_id: &info.subject,
    };
    if let Some(target) = &data.link {
        return match link::link_to_user(ctx, &key, &info, &tokens, &target.user_id, &target.email)? {
            Ok(()) => Ok(Response::redirect(&data.callback_url)),
            Err(code) => fail(code),
        };
    }
    if info.email.as_deref().unwrap_or_default().is_empty() {
        return fail("email_not_found");
    }
    let cfg = &provider.config;
    let disable_sign_up = cfg.disable_sign_up || (cfg.disable_implicit_sign_up && data.request_sign_up != Some(true));
    let resolved = match link::resolve_user(ctx, &key, &info, &tokens, disable_sign_up)? {
        Ok(r) => r,
        Err(reason) => return fail(&reason.replace(' ', "_")),
    };
    crate::endpoint::mail::after_social_sign_in(ctx, &resolved.user, resolved.is_register, Some(&data.callback_url))?;
    // A session a plugin refuses (the admin plugin's ban) goes to the error page with its
    // code and message, as Better Auth's callback does with any APIError that has a code.
    let session = match create_session(ctx, req, &resolved.user.id, true) {
        Ok(s) => s,
        Err(e) if (400..500).contains(&e.status) => {
            return Ok(redirect_error(&error_url, &e.code, Some(&e.message)));
        }
        Err(e) => return Err(e),
    };
    ctx.set_session_cookie(&session.token, false);
    let target = match (&data.new_user_url, resolved.is_register) {
        (Some(u), true) => u.clone(),
        _ => data.callback_url.clone(),
    };
    Ok(Response::redirect(&target))
}
