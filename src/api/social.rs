//! `POST /sign-in/social` (spec §3.3) and `POST /link-social` (spec §3.18): start a redirect
//! flow (state + PKCE, `{url, redirect}` with a `Location` header, 200 not 302), or sign in /
//! link directly with a provider ID token.

use serde_json::{json, Map, Value};

use crate::endpoint::current;
use crate::endpoint::session::create_session;
use crate::endpoint::social::link::{self, AccountKey};
use crate::endpoint::social::state::{self, LinkTarget, NewState};
use crate::endpoint::validate::Fields;
use crate::endpoint::Ctx;
use crate::error::{codes, ApiError};
use crate::http::{Request, Response};
use crate::oauth::provider::{AuthRequest, Endpoints, Provider};
use crate::oauth::tokens::Tokens;
use crate::oauth::{id_token, UserInfo};

const RESERVED: &[&str] = &[
    "state",
    "client_id",
    "redirect_uri",
    "response_type",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "scope",
];

/// The `idToken` object of the body.
struct IdTokenInput {
    token: String,
    nonce: Option<String>,
    access_token: Option<String>,
    refresh_token: Option<String>,
    user: Option<Value>,
}

/// The body shared by both endpoints.
struct SocialBody {
    provider: String,
    callback_url: Option<String>,
    new_user_url: Option<String>,
    error_url: Option<String>,
    disable_redirect: bool,
    scopes: Vec<String>,
    login_hint: Option<String>,
    request_sign_up: Option<bool>,
    additional_params: Vec<(String, String)>,
    additional_data: Option<Map<String, Value>>,
    id_token: Option<IdTokenInput>,
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn parse_body(ctx: &Ctx<'_>) -> Result<SocialBody, ApiError> {
    let body = ctx.body.as_ref();
    let field = |k: &str| body.and_then(|b| b.get(k));
    let mut f = Fields::body(body);
    let provider = match field("provider") {
        Some(Value::String(s)) => s.clone(),
        _ => {
            if body.is_some_and(Value::is_object) {
                f.custom("provider", "Invalid input");
            }
            String::new()
        }
    };
    let callback_url = f.opt_string("callbackURL");
    let new_user_url = f.opt_string("newUserCallbackURL");
    let error_url = f.opt_string("errorCallbackURL");
    let disable_redirect = f.opt_bool("disableRedirect").unwrap_or(false);
    let login_hint = f.opt_string("loginHint");
    let request_sign_up = f.opt_bool("requestSignUp");
    let mut scopes = Vec::new();
    match field("scopes") {
        None => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) => scopes.push(s.clone()),
                    other => f.custom(
                        &format!("scopes.{i}"),
                        &format!("Invalid input: expected string, received {}", kind(other)),
                    ),
                }
            }
        }
        Some(other) => f.custom(
            "scopes",
            &format!("Invalid input: expected array, received {}", kind(other)),
        ),
    }
    let mut additional_params = Vec::new();
    match field("additionalParams") {
        None => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                match v {
                    Value::String(s) => additional_params.push((k.clone(), s.clone())),
                    other => f.custom(
                        &format!("additionalParams.{k}"),
                        &format!("Invalid input: expected string, received {}", kind(other)),
                    ),
                }
            }
            if m.keys().any(|k| RESERVED.contains(&k.as_str())) {
                f.custom(
                    "additionalParams",
                    &format!(
                        "additionalParams cannot include reserved OAuth parameters: {}",
                        RESERVED.join(", ")
                    ),
                );
            }
        }
        Some(other) => f.custom(
            "additionalParams",
            &format!("Invalid input: expected record, received {}", kind(other)),
        ),
    }
    let additional_data = match field("additionalData") {
        None => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(other) => {
            f.custom(
                "additionalData",
                &format!("Invalid input: expected record, received {}", kind(other)),
            );
            None
        }
    };
    let id_token = match field("idToken") {
        None => None,
        Some(Value::Object(m)) => {
            let text = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
            let token = match m.get("token") {
                Some(Value::String(s)) => s.clone(),
                other => {
                    let got = other.map_or("undefined", kind);
                    f.custom(
                        "idToken.token",
                        &format!("Invalid input: expected string, received {got}"),
                    );
                    String::new()
                }
            };
            for k in ["nonce", "accessToken", "refreshToken"] {
                if let Some(v) = m.get(k).filter(|v| !v.is_string()) {
                    f.custom(
                        &format!("idToken.{k}"),
                        &format!("Invalid input: expected string, received {}", kind(v)),
                    );
                }
            }
            Some(IdTokenInput {
                token,
                nonce: text("nonce"),
                access_token: text("accessToken"),
                refresh_token: text("refreshToken"),
                user: m.get("user").cloned(),
            })
        }
        Some(other) => {
            f.custom(
                "idToken",
                &format!("Invalid input: expected object, received {}", kind(other)),
            );
            None
        }
    };
    f.finish()?;
    Ok(SocialBody {
        provider,
        callback_url,
        new_user_url,
        error_url,
        disable_redirect,
        scopes,
        login_hint,
        request_sign_up,
        additional_params,
        additional_data,
        id_token,
    })
}

fn find_provider<'a>(ctx: &'a Ctx<'_>, id: &str) -> Result<&'a Provider, ApiError> {
    ctx.app
        .oauth
        .provider(id)
        .ok_or_else(|| ApiError::new(404, codes::PROVIDER_NOT_FOUND))
}

fn endpoints(ctx: &Ctx<'_>, provider: &Provider) -> Result<Endpoints, ApiError> {
    provider.endpoints(&ctx.app.oauth.http).map_err(|e| {
        tracing::warn!("oauth provider {}: {e:#}", provider.id());
        ApiError::new(502, codes::PROVIDER_UNAVAILABLE)
    })
}

/// The redirect flow of both endpoints.
fn start_redirect(
    ctx: &Ctx<'_>,
    provider: &Provider,
    body: SocialBody,
    link: Option<LinkTarget>,
) -> Result<Response, ApiError> {
    let callback_url = body
        .callback_url
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| ctx.config().base_origin.clone());
    let eps = endpoints(ctx, provider)?;
    let nonce = provider.requires_nonce(&eps).then(|| crate::crypto::random_string(32));
    let (state, verifier) = state::create(
        ctx,
        NewState {
            callback_url,
            error_url: body.error_url.filter(|u| !u.is_empty()),
            new_user_url: body.new_user_url.filter(|u| !u.is_empty()),
            link,
            request_sign_up: body.request_sign_up,
            id_token_nonce: nonce.clone(),
            additional_data: body.additional_data,
        },
    )?;
    let redirect_uri = format!("{}/callback/{}", ctx.config().base_url(), provider.id());
    let url = provider
        .authorization_url(
            &eps,
            &AuthRequest {
                state: &state,
                code_verifier: &verifier,
                redirect_uri: &redirect_uri,
                scopes: &body.scopes,
                login_hint: body.login_hint.as_deref(),
                nonce: nonce.as_deref(),
                additional: &body.additional_params,
            },
        )
        .map_err(|e| {
            tracing::error!("oauth provider {}: bad authorization endpoint: {e}", provider.id());
            ApiError::new(502, codes::PROVIDER_UNAVAILABLE)
        })?;
    let mut resp = Response::json(&json!({ "url": url, "redirect": !body.disable_redirect }));
    if !body.disable_redirect {
        resp = resp.with_header("location", url);
    }
    Ok(resp)
}

/// Verifies a body `idToken` and reads the profile it carries (§3.3 idToken flow, steps 1–3).
fn verified_identity(ctx: &Ctx<'_>, provider: &Provider, input: &IdTokenInput) -> Result<(UserInfo, String), ApiError> {
    if !provider.supports_id_token() {
        return Err(ApiError::new(404, codes::ID_TOKEN_NOT_SUPPORTED));
    }
    let oauth = &ctx.app.oauth;
    let eps = endpoints(ctx, provider)?;
    let audiences = provider.audiences();
    let invalid = |reason: String| {
        tracing::info!("oauth provider {}: id token refused: {reason}", provider.id());
        ApiError::new(401, codes::INVALID_TOKEN)
    };
    let Some((jwks, rules)) = provider.id_token_rules(&eps, &audiences, input.nonce.as_deref()) else {
        return Err(invalid("no key set".into()));
    };
    let claims = id_token::verify(&oauth.http, &oauth.jwks, jwks, &input.token, &rules, ctx.now)
        .map_err(|e| invalid(format!("{e:#}")))?;
    let info = provider
        .user_info_from_claims(&oauth.http, claims, input.user.as_ref())
        .map_err(|_| ApiError::new(401, codes::FAILED_TO_GET_USER_INFO))?;
    let info = info
        .with_checked_email()
        .ok_or_else(|| ApiError::new(401, codes::INVALID_EMAIL))?;
    if info.email.is_none() {
        return Err(ApiError::new(401, codes::USER_EMAIL_NOT_FOUND));
    }
    let issuer = provider
        .account_issuer(&eps, &info)
        .filter(|_| !info.subject.is_empty())
        .ok_or_else(|| ApiError::new(401, codes::FAILED_TO_GET_USER_INFO))?;
    Ok((info, issuer))
}

fn body_tokens(input: &IdTokenInput) -> Tokens {
    Tokens {
        access_token: input.access_token.clone(),
        refresh_token: None,
        id_token: Some(input.token.clone()),
        ..Tokens::default()
    }
}

pub fn sign_in_social(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let body = parse_body(ctx)?;
    let provider = find_provider(ctx, &body.provider)?;
    let Some(input) = &body.id_token else {
        return start_redirect(ctx, provider, body, None);
    };
    let (info, issuer) = verified_identity(ctx, provider, input)?;
    let key = AccountKey {
        provider_id: provider.id(),
        issuer: &issuer,
        account_id: &info.subject,
    };
    let cfg = &provider.config;
    let disable_sign_up = cfg.disable_sign_up || (cfg.disable_implicit_sign_up && body.request_sign_up != Some(true));
    // The refresh token and expiry of the body are not stored on this path (as Better Auth).
    let resolved = match link::resolve_user(ctx, &key, &info, &body_tokens(input), disable_sign_up)? {
        Ok(r) => r,
        Err(reason) => return Err(ApiError::with_message(401, codes::OAUTH_LINK_ERROR, reason)),
    };
    let callback = body.callback_url.as_deref();
    crate::endpoint::mail::after_social_sign_in(ctx, &resolved.user, resolved.is_register, callback);
    let session = create_session(ctx, req, &resolved.user.id, true)?;
    ctx.set_session_cookie(&session.token, false);
    Ok(Response::json(&json!({
        "redirect": false,
        "token": session.token,
        "user": resolved.user.to_json(),
    })))
}

pub fn link_social(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let body = parse_body(ctx)?;
    let signed_in = current::require(ctx, req)?;
    let provider = find_provider(ctx, &body.provider)?;
    let Some(input) = &body.id_token else {
        let target = LinkTarget {
            user_id: signed_in.user.id.clone(),
            email: signed_in.user.email.clone(),
        };
        return start_redirect(ctx, provider, body, Some(target));
    };
    let (info, issuer) = verified_identity(ctx, provider, input)?;
    let key = AccountKey {
        provider_id: provider.id(),
        issuer: &issuer,
        account_id: &info.subject,
    };
    let tokens = Tokens {
        refresh_token: input.refresh_token.clone(),
        ..body_tokens(input)
    };
    let done = || Response::json(&json!({ "url": "", "status": true, "redirect": false }));
    let user = &signed_in.user;
    if let Some(existing) = ctx.storage().find_account_by_issuer(&issuer, &info.subject)? {
        if existing.user_id != user.id {
            return Err(ApiError::new(409, codes::SOCIAL_ACCOUNT_ALREADY_LINKED));
        }
        link::refresh_account_tokens(ctx, &existing, &tokens, None)?;
        return Ok(done());
    }
    if !ctx.app.oauth.is_trusted(provider.id()) && !info.email_verified {
        return Err(ApiError::new(401, codes::LINKING_NOT_ALLOWED));
    }
    if info.email.as_deref() != Some(crate::auth::email::normalize(&user.email).as_str()) {
        return Err(ApiError::new(401, codes::LINKING_DIFFERENT_EMAILS_NOT_ALLOWED));
    }
    let account = link::new_account(ctx, &key, &user.id, &tokens, None)?;
    if ctx.storage().create_account(&account).is_err() {
        return Err(ApiError::new(417, codes::LINKING_FAILED));
    }
    Ok(done())
}
