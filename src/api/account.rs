//! Account endpoints: `GET /list-accounts`, `POST /unlink-account`,
//! `POST /refresh-token`, `POST /get-access-token`, `GET /account-info`. Accounts are chosen
//! by their local row id. Where Better Auth answers 401 with an empty body, Sesame answers
//! JSON `UNAUTHORIZED`.

use serde_json::{json, Map, Value};

use crate::clock::iso;
use crate::config::oauth::ProviderKind;
use crate::endpoint::answers::{AccountAnswer, AccountInfoAnswer, StatusAnswer, TokensAnswer};
use crate::endpoint::current;
use crate::endpoint::validate::query_object;
use crate::endpoint::{Ctx, Kind, NoInput, Schema, Transport, Typed};
use crate::error::{codes, ApiError};
use crate::http::{Request, Response};
use crate::oauth::provider::Provider;
use crate::oauth::tokens::{Sealer, Tokens};
use crate::storage::models::Account;

pub static LIST_USER_ACCOUNTS: Typed<NoInput, NoInput, Vec<AccountAnswer>> =
    Typed::get("/list-accounts", "listUserAccounts", list_accounts)
        .summary("The user's accounts, without tokens")
        .session()
        .errors(&[codes::UNAUTHORIZED]);

crate::input! {
    /// The body of `POST /unlink-account`.
    pub struct UnlinkAccountBody {
        account_id: String = "accountId" as Kind::String,
    }
}

pub static UNLINK_ACCOUNT: Typed<UnlinkAccountBody, NoInput, StatusAnswer> =
    Typed::post("/unlink-account", "unlinkAccount", unlink_account)
        .summary("Unlink an account (fresh session; never the last one)")
        .session()
        .errors(&[
            codes::UNAUTHORIZED,
            codes::SESSION_NOT_FRESH,
            codes::FAILED_TO_UNLINK_LAST_ACCOUNT,
            codes::ACCOUNT_NOT_FOUND,
        ]);

crate::input! {
    /// Which account a token or profile call is about: exactly `{accountId, userId?}` or
    /// `{useAccountCookie: true, userId?}` (`userId` only for server callers without a session).
    pub struct AccountSelector {
        account_id: Option<String> = "accountId" as Kind::String,
        use_account_cookie: Option<bool> = "useAccountCookie" as Kind::Boolean,
        user_id: Option<String> = "userId" as Kind::String,
    }
}

/// The selector as zod sees the union: one `[source] Invalid input` for any mismatch.
fn check_selector(source: &'static str, value: Option<&Value>) -> Result<(), ApiError> {
    selector(source, value.and_then(Value::as_object)).map(|_| ())
}

const SELECTOR: Schema = Schema::Custom(check_selector, <AccountSelector as crate::endpoint::Input>::FIELDS);

pub static REFRESH_TOKEN: Typed<AccountSelector, NoInput, TokensAnswer> =
    Typed::post("/refresh-token", "refreshToken", refresh_token)
        .summary("Refresh an account's provider tokens")
        .body_schema(SELECTOR)
        .session()
        .errors(&[
            codes::UNAUTHORIZED,
            codes::ACCOUNT_NOT_FOUND,
            codes::PROVIDER_NOT_SUPPORTED,
            codes::TOKEN_REFRESH_NOT_SUPPORTED,
            codes::REFRESH_TOKEN_NOT_FOUND,
            codes::FAILED_TO_REFRESH_ACCESS_TOKEN,
        ]);

pub static GET_ACCESS_TOKEN: Typed<AccountSelector, NoInput, TokensAnswer> =
    Typed::post("/get-access-token", "getAccessToken", get_access_token)
        .summary("A valid provider access token, refreshed when expired")
        .body_schema(SELECTOR)
        .session()
        .errors(&[
            codes::UNAUTHORIZED,
            codes::ACCOUNT_NOT_FOUND,
            codes::PROVIDER_NOT_SUPPORTED,
            codes::FAILED_TO_GET_ACCESS_TOKEN,
        ]);

pub static ACCOUNT_INFO: Typed<NoInput, AccountSelector, AccountInfoAnswer> =
    Typed::get("/account-info", "accountInfo", account_info)
        .summary("The provider's profile for an account")
        .query_schema(SELECTOR)
        .session()
        .errors(&[
            codes::UNAUTHORIZED,
            codes::ACCOUNT_NOT_FOUND,
            codes::PROVIDER_NOT_CONFIGURED,
            codes::ACCESS_TOKEN_NOT_FOUND,
            codes::FAILED_TO_GET_USER_INFO,
        ]);

fn list_accounts(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let signed_in = current::require(ctx, req)?;
    let accounts = ctx.storage().list_user_accounts(&signed_in.user.id)?;
    let list: Vec<Value> = accounts.iter().map(Account::to_public_json).collect();
    Ok(Response::json(&Value::Array(list)))
}

fn unlink_account(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let UnlinkAccountBody { account_id } = ctx.input()?;
    let signed_in = current::require_fresh(ctx, req)?;
    let accounts = ctx.storage().list_user_accounts(&signed_in.user.id)?;
    if accounts.len() == 1 {
        return Err(ApiError::bad_request(codes::FAILED_TO_UNLINK_LAST_ACCOUNT));
    }
    if !accounts.iter().any(|a| a.id == account_id) {
        return Err(ApiError::bad_request(codes::ACCOUNT_NOT_FOUND));
    }
    ctx.storage().delete_account(&signed_in.user.id, &account_id)?;
    Ok(Response::json(&json!({ "status": true })))
}

/// The account selector: exactly `{accountId, userId?}` or `{useAccountCookie: true, userId?}`.
struct Selector {
    account_id: Option<String>,
    user_id: Option<String>,
}

fn selector(source: &'static str, value: Option<&Map<String, Value>>) -> Result<Selector, ApiError> {
    let invalid = || ApiError::validation(format!("[{source}] Invalid input"));
    let m = value.ok_or_else(invalid)?;
    let user_id = match m.get("userId") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(invalid()),
    };
    let allowed = |k: &str| k == "userId" || k == "accountId" || k == "useAccountCookie";
    if !m.keys().all(|k| allowed(k)) || (m.contains_key("accountId") && m.contains_key("useAccountCookie")) {
        return Err(invalid());
    }
    match (m.get("accountId"), m.get("useAccountCookie")) {
        (Some(Value::String(id)), None) => Ok(Selector {
            account_id: Some(id.clone()),
            user_id,
        }),
        // Sesame keeps no account cookie: such a selection never finds an account.
        (None, Some(Value::Bool(true))) => Ok(Selector {
            account_id: None,
            user_id,
        }),
        _ => Err(invalid()),
    }
}

/// The user an account call acts for: the session's, or a server caller's `userId`.
fn resolve_user_id(ctx: &Ctx<'_>, req: &Request, user_id: Option<String>) -> Result<String, ApiError> {
    if let Some(s) = current::resolve(ctx, req, false)? {
        return Ok(s.user.id);
    }
    // Better Auth: a caller with request headers must have a session. The in-process API adds
    // `content-type` for a body itself, so that one does not count.
    let has_headers = req.headers.iter().any(|(k, _)| k != "content-type");
    if ctx.transport == Transport::Http || has_headers {
        return Err(ApiError::unauthorized());
    }
    user_id.ok_or_else(|| ApiError::bad_request(codes::USER_ID_OR_SESSION_REQUIRED))
}

fn find_account(ctx: &Ctx<'_>, user_id: &str, sel: &Selector) -> Result<Account, ApiError> {
    let Some(id) = &sel.account_id else {
        return Err(ApiError::bad_request(codes::ACCOUNT_NOT_FOUND));
    };
    ctx.storage()
        .list_user_accounts(user_id)?
        .into_iter()
        .find(|a| &a.id == id)
        .ok_or_else(|| ApiError::bad_request(codes::ACCOUNT_NOT_FOUND))
}

fn provider_for<'a>(
    ctx: &'a Ctx<'_>,
    account: &Account,
    code: crate::error::ErrorCode,
) -> Result<&'a Provider, ApiError> {
    ctx.app.oauth.provider(&account.provider_id).ok_or_else(|| {
        let message = if code == codes::PROVIDER_NOT_SUPPORTED {
            format!("Provider {} is not supported.", account.provider_id)
        } else {
            code.message.to_string()
        };
        ApiError::with_message(400, code, message)
    })
}

fn sealer<'a>(ctx: &'a Ctx<'_>) -> Sealer<'a> {
    Sealer {
        secret: ctx.secret(),
        enabled: ctx.app.oauth.encrypt_tokens,
    }
}

/// Calls the provider's refresh and stores the answer over the account.
fn refresh(
    ctx: &Ctx<'_>,
    provider: &Provider,
    account: &Account,
    refresh_token: &str,
) -> anyhow::Result<(Tokens, Account)> {
    let oauth = &ctx.app.oauth;
    let eps = provider.endpoints(&oauth.http)?;
    let tokens = provider.refresh(&oauth.http, &eps, refresh_token, ctx.now)?;
    let updated = crate::endpoint::social::link::refresh_account_tokens(ctx, account, &tokens, None)
        .map_err(|e| anyhow::anyhow!("storing refreshed tokens failed: {}", e.code))?;
    Ok((tokens, updated))
}

/// A usable access token, refreshed first when it expires within 5 s.
fn valid_access_token(ctx: &Ctx<'_>, provider: &Provider, account: &Account) -> Result<(Account, String), ApiError> {
    let failed = |e: anyhow::Error| {
        tracing::warn!("oauth provider {}: access token: {e:#}", provider.id());
        ApiError::bad_request(codes::FAILED_TO_GET_ACCESS_TOKEN)
    };
    let expiring = account
        .access_token_expires_at
        .is_some_and(|t| t - ctx.now < time::Duration::seconds(5));
    let seal = sealer(ctx);
    let mut account = account.clone();
    if let (true, Some(stored)) = (expiring, account.refresh_token.clone()) {
        let refresh_token = seal.open(Some(&stored)).map_err(failed)?.unwrap_or_default();
        account = refresh(ctx, provider, &account, &refresh_token).map_err(failed)?.1;
    }
    let access = seal
        .open(account.access_token.as_deref())
        .map_err(failed)?
        .unwrap_or_default();
    Ok((account, access))
}

fn scopes(account: &Account) -> Vec<String> {
    account
        .scope
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn get_access_token(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let sel = selector("body", ctx.body.as_ref().and_then(Value::as_object))?;
    let user_id = resolve_user_id(ctx, req, sel.user_id.clone())?;
    let account = find_account(ctx, &user_id, &sel)?;
    let provider = provider_for(ctx, &account, codes::PROVIDER_NOT_SUPPORTED)?;
    let (account, access) = valid_access_token(ctx, provider, &account)?;
    let mut out = Map::new();
    out.insert("accessToken".into(), Value::String(access));
    if let Some(t) = account.access_token_expires_at {
        out.insert("accessTokenExpiresAt".into(), Value::String(iso(t)));
    }
    out.insert("scopes".into(), json!(scopes(&account)));
    if let Some(t) = &account.id_token {
        out.insert("idToken".into(), Value::String(t.clone()));
    }
    Ok(Response::json(&Value::Object(out)))
}

fn refresh_token(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let sel = selector("body", ctx.body.as_ref().and_then(Value::as_object))?;
    let user_id = resolve_user_id(ctx, req, sel.user_id.clone())?;
    let account = find_account(ctx, &user_id, &sel)?;
    let provider = provider_for(ctx, &account, codes::PROVIDER_NOT_SUPPORTED)?;
    let Some(stored) = account.refresh_token.clone() else {
        return Err(ApiError::bad_request(codes::REFRESH_TOKEN_NOT_FOUND));
    };
    let failed = |e: anyhow::Error| {
        tracing::warn!("oauth provider {}: refresh failed: {e:#}", provider.id());
        ApiError::bad_request(codes::FAILED_TO_REFRESH_ACCESS_TOKEN)
    };
    let refresh_plain = sealer(ctx).open(Some(&stored)).map_err(failed)?.unwrap_or_default();
    let (tokens, updated) = refresh(ctx, provider, &account, &refresh_plain).map_err(failed)?;
    // A value Better Auth has as `undefined` is left out, not sent as `null` (its memory
    // adapter; its SQL adapters send the column's `null`).
    let mut out = Map::new();
    out.insert("accessToken".into(), json!(tokens.access_token));
    out.insert(
        "refreshToken".into(),
        Value::String(tokens.refresh_token.clone().unwrap_or(refresh_plain)),
    );
    if let Some(t) = tokens.access_token_expires_at {
        out.insert("accessTokenExpiresAt".into(), Value::String(iso(t)));
    }
    if let Some(t) = updated.refresh_token_expires_at {
        out.insert("refreshTokenExpiresAt".into(), Value::String(iso(t)));
    }
    if let Some(scope) = &updated.scope {
        out.insert("scope".into(), Value::String(scope.clone()));
    }
    if let Some(id_token) = &updated.id_token {
        out.insert("idToken".into(), Value::String(id_token.clone()));
    }
    out.insert("providerId".into(), Value::String(updated.provider_id.clone()));
    out.insert("accountId".into(), Value::String(updated.id.clone()));
    Ok(Response::json(&Value::Object(out)))
}

fn account_info(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let query = query_object(&req.query);
    let sel = selector("query", Some(&query))?;
    let user_id = resolve_user_id(ctx, req, sel.user_id.clone())?;
    let account = find_account(ctx, &user_id, &sel)?;
    let provider = provider_for(ctx, &account, codes::PROVIDER_NOT_CONFIGURED)?;
    let (account, access) = valid_access_token(ctx, provider, &account)?;
    if access.is_empty() {
        return Err(ApiError::bad_request(codes::ACCESS_TOKEN_NOT_FOUND));
    }
    let oauth = &ctx.app.oauth;
    // The profile comes from the stored id_token as Better Auth reads it (built-ins decode it,
    // OIDC providers verify it). Once an OIDC token has expired Better Auth answers 401;
    // Sesame asks the userinfo endpoint with the access token instead.
    let mut tokens = Tokens {
        access_token: Some(access),
        id_token: account.id_token.clone(),
        ..Tokens::default()
    };
    let read = |tokens: &Tokens| {
        provider
            .endpoints(&oauth.http)
            .and_then(|eps| provider.user_info(&oauth.http, &oauth.jwks, &eps, tokens, None, None, ctx.now))
    };
    let oidc = matches!(provider.config.kind, ProviderKind::Oidc { .. });
    let mut info = read(&tokens);
    if info.is_err() && oidc && tokens.id_token.is_some() {
        tokens.id_token = None;
        info = read(&tokens);
    }
    let info = info.map_err(|e| {
        tracing::warn!("oauth provider {}: account info: {e:#}", provider.id());
        ApiError::new(401, codes::FAILED_TO_GET_USER_INFO)
    })?;
    let mut user = Map::new();
    user.insert("name".into(), Value::String(info.name));
    user.insert("email".into(), json!(info.email));
    if let Some(i) = info.image {
        user.insert("image".into(), Value::String(i));
    }
    user.insert("emailVerified".into(), Value::Bool(info.email_verified));
    Ok(Response::json(&json!({
        "user": user,
        "data": info.data,
        // Better Auth's schema for this object admits exactly these three keys.
        "account": {
            "id": account.id,
            "providerId": account.provider_id,
            "accountId": account.account_id,
        },
    })))
}
