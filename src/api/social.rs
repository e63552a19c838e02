//! `POST /sign-in/social` and `POST /link-social`: start a redirect
//! flow (state + PKCE, `{url, redirect}` with a `Location` header, 200 not 302), or sign in /
//! link directly with a provider ID token.

use serde_json::{json, Map, Value};

use crate::endpoint::answers::SocialAnswer;
use crate::endpoint::current;
use crate::endpoint::session::create_session;
use crate::endpoint::social::link::{self, AccountKey};
use crate::endpoint::social::state::{self, LinkTarget, NewState};
use crate::endpoint::{Ctx, Input, Kind, NoInput, Typed};
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

crate::input! {
    /// The `idToken` object of the body: sign in (or link) with a provider's ID token.
    pub struct IdTokenInput {
        token: String = "token" as Kind::String,
        nonce: Option<String> = "nonce" as Kind::String,
        access_token: Option<String> = "accessToken" as Kind::String,
        refresh_token: Option<String> = "refreshToken" as Kind::String,
        user: Option<Value> = "user" as Kind::Any,
    }
}

/// `additionalParams` may not set the parameters Sesame sends itself.
fn no_reserved_params(v: &Value) -> Option<String> {
    let m = v.as_object()?;
    m.keys().any(|k| RESERVED.contains(&k.as_str())).then(|| {
        format!(
            "additionalParams cannot include reserved OAuth parameters: {}",
            RESERVED.join(", ")
        )
    })
}

crate::input! {
    /// The body of `POST /sign-in/social` and `POST /link-social`.
    pub struct SocialBody {
        provider: String = "provider" as Kind::Choice,
        callback_url: Option<String> = "callbackURL" as Kind::String,
        new_user_url: Option<String> = "newUserCallbackURL" as Kind::String,
        error_url: Option<String> = "errorCallbackURL" as Kind::String,
        disable_redirect: Option<bool> = "disableRedirect" as Kind::Boolean,
        login_hint: Option<String> = "loginHint" as Kind::String,
        request_sign_up: Option<bool> = "requestSignUp" as Kind::Boolean,
        scopes: Option<Vec<String>> = "scopes" as Kind::Strings,
        additional_params: Option<Map<String, Value>> = "additionalParams" as Kind::StringMap => no_reserved_params,
        additional_data: Option<Map<String, Value>> = "additionalData" as Kind::Record,
        id_token: Option<IdTokenInput> = "idToken" as Kind::Object(<IdTokenInput as Input>::FIELDS),
    }
}

pub static SIGN_IN_SOCIAL: Typed<SocialBody, NoInput, SocialAnswer> =
    Typed::post("/sign-in/social", "signInSocial", sign_in_social)
        .summary("Sign in with a social provider (redirect URL or idToken)")
        .errors(&[
            codes::PROVIDER_NOT_FOUND,
            codes::ID_TOKEN_NOT_SUPPORTED,
            codes::INVALID_TOKEN,
            codes::FAILED_TO_GET_USER_INFO,
            codes::USER_EMAIL_NOT_FOUND,
            codes::EMAIL_NOT_VERIFIED,
            codes::OAUTH_LINK_ERROR,
            codes::CALLBACK_URL_REQUIRED,
        ]);

pub static LINK_SOCIAL_ACCOUNT: Typed<SocialBody, NoInput, SocialAnswer> =
    Typed::post("/link-social", "linkSocialAccount", link_social)
        .summary("Link a social account to the current user")
        .session()
        .errors(&[
            codes::UNAUTHORIZED,
            codes::PROVIDER_NOT_FOUND,
            codes::SOCIAL_ACCOUNT_ALREADY_LINKED,
            codes::LINKING_NOT_ALLOWED,
            codes::LINKING_DIFFERENT_EMAILS_NOT_ALLOWED,
            codes::LINKING_FAILED,
        ]);

impl SocialBody {
    /// `additionalParams` as pairs, in the body's order.
    fn params(&self) -> Vec<(String, String)> {
        self.additional_params
            .iter()
            .flatten()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
            .collect()
    }
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
    let scopes = body.scopes.clone().unwrap_or_default();
    let additional = body.params();
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
                scopes: &scopes,
                login_hint: body.login_hint.as_deref(),
                nonce: nonce.as_deref(),
                additional: &additional,
            },
        )
        .map_err(|e| {
            tracing::error!("oauth provider {}: bad authorization endpoint: {e}", provider.id());
            ApiError::new(502, codes::PROVIDER_UNAVAILABLE)
        })?;
    let disable_redirect = body.disable_redirect.unwrap_or(false);
    let mut resp = Response::json(&json!({ "url": url, "redirect": !disable_redirect }));
    if !disable_redirect {
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

fn sign_in_social(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let body: SocialBody = ctx.input()?;
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
    crate::endpoint::mail::after_social_sign_in(ctx, &resolved.user, resolved.is_register, callback)?;
    let session = create_session(ctx, req, &resolved.user.id, true)?;
    ctx.set_session_cookie(&session.token, false);
    Ok(Response::json(&json!({
        "redirect": false,
        "token": session.token,
        "user": ctx.user_json(&resolved.user),
    })))
}

fn link_social(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let body: SocialBody = ctx.input()?;
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
