//! Who a provider identity belongs to (spec §8.4, Better Auth's `link-account.ts`): an
//! existing account by `(issuer, accountId)`, else implicit linking to the user with the same
//! email when the rules allow it, else a new user and account created together. Also the
//! explicit link flow of `/link-social`'s callback.

use crate::auth::email;
use crate::crypto;
use crate::endpoint::Ctx;
use crate::error::ApiError;
use crate::oauth::tokens::{merge_scopes, Sealer, Tokens};
use crate::oauth::UserInfo;
use crate::storage::models::{Account, User, UserUpdate};
use crate::storage::StorageError;

/// The provider identity and tokens to store on the account row.
pub struct AccountKey<'a> {
    pub provider_id: &'a str,
    pub issuer: &'a str,
    pub account_id: &'a str,
}

/// A sign-in's outcome: the user, and whether they were just created.
pub struct Resolved {
    pub user: User,
    pub is_register: bool,
}

/// A failure to report with Better Auth's phrase (`account not linked`, …); the callback turns
/// spaces into underscores.
pub type Refusal = &'static str;

fn sealer<'a>(ctx: &'a Ctx<'_>) -> Sealer<'a> {
    Sealer {
        secret: ctx.secret(),
        enabled: ctx.app.oauth.encrypt_tokens,
    }
}

/// A new account row for the identity.
pub fn new_account(
    ctx: &Ctx<'_>,
    key: &AccountKey<'_>,
    user_id: &str,
    tokens: &Tokens,
    scope: Option<String>,
) -> Result<Account, ApiError> {
    let seal = sealer(ctx);
    Ok(Account {
        id: crypto::new_id(),
        issuer: key.issuer.to_string(),
        account_id: key.account_id.to_string(),
        provider_id: key.provider_id.to_string(),
        user_id: user_id.to_string(),
        access_token: seal.seal(tokens.access_token.as_deref())?,
        refresh_token: seal.seal(tokens.refresh_token.as_deref())?,
        id_token: tokens.id_token.clone(),
        access_token_expires_at: tokens.access_token_expires_at,
        refresh_token_expires_at: tokens.refresh_token_expires_at,
        scope,
        password: None,
        created_at: ctx.now,
        updated_at: ctx.now,
    })
}

/// Writes fresh tokens over an account; absent values keep what is stored.
pub fn refresh_account_tokens(
    ctx: &Ctx<'_>,
    account: &Account,
    tokens: &Tokens,
    scope: Option<String>,
) -> Result<Account, ApiError> {
    let seal = sealer(ctx);
    let mut a = account.clone();
    if let Some(t) = seal.seal(tokens.access_token.as_deref())? {
        a.access_token = Some(t);
    }
    if let Some(t) = seal.seal(tokens.refresh_token.as_deref())? {
        a.refresh_token = Some(t);
    }
    if tokens.id_token.is_some() {
        a.id_token.clone_from(&tokens.id_token);
    }
    if tokens.access_token_expires_at.is_some() {
        a.access_token_expires_at = tokens.access_token_expires_at;
    }
    if tokens.refresh_token_expires_at.is_some() {
        a.refresh_token_expires_at = tokens.refresh_token_expires_at;
    }
    if scope.is_some() {
        a.scope = scope;
    }
    a.updated_at = ctx.now;
    ctx.storage().update_account(&a)?;
    Ok(a)
}

fn promote_verified(ctx: &Ctx<'_>, user: User, info: &UserInfo, address: &str) -> Result<User, ApiError> {
    if info.email_verified && !user.email_verified && address == user.email {
        let update = UserUpdate {
            email_verified: Some(true),
            ..UserUpdate::default()
        };
        return Ok(ctx.storage().update_user(&user.id, &update, ctx.now)?.unwrap_or(user));
    }
    Ok(user)
}

/// Finds or creates the user for a sign-in (spec §8.4). `info.email` must be present.
pub fn resolve_user(
    ctx: &Ctx<'_>,
    key: &AccountKey<'_>,
    info: &UserInfo,
    tokens: &Tokens,
    disable_sign_up: bool,
) -> Result<Result<Resolved, Refusal>, ApiError> {
    let address = email::normalize(info.email.as_deref().unwrap_or_default());
    if let Some(account) = ctx.storage().find_account_by_issuer(key.issuer, key.account_id)? {
        let Some(user) = ctx.storage().find_user_by_id(&account.user_id)? else {
            return Ok(Err("unable to link account"));
        };
        // The stored scope is left alone on sign-in; only the tokens are refreshed.
        refresh_account_tokens(ctx, &account, tokens, None)?;
        let user = promote_verified(ctx, user, info, &address)?;
        return Ok(Ok(Resolved {
            user,
            is_register: false,
        }));
    }
    if let Some(user) = ctx.storage().find_user_by_email(&address)? {
        let trusted = ctx.app.oauth.is_trusted(key.provider_id);
        if (!trusted && !info.email_verified) || !user.email_verified {
            return Ok(Err("account not linked"));
        }
        let account = new_account(ctx, key, &user.id, tokens, tokens.scope_column())?;
        match ctx.storage().create_account(&account) {
            Ok(()) => {}
            Err(StorageError::Conflict(_)) => return Ok(Err("unable to link account")),
            Err(e) => return Err(e.into()),
        }
        let user = promote_verified(ctx, user, info, &address)?;
        return Ok(Ok(Resolved {
            user,
            is_register: false,
        }));
    }
    if disable_sign_up {
        return Ok(Err("signup disabled"));
    }
    let mut user = User {
        email_verified: info.email_verified,
        ..User::new(&info.name, &address, info.image.clone(), ctx.now)
    };
    for plugin in &ctx.app.plugins {
        plugin.hooks.user_defaults(&mut user);
    }
    let account = new_account(ctx, key, &user.id, tokens, tokens.scope_column())?;
    match ctx.storage().create_user_with_account(&user, &account) {
        Ok(()) => Ok(Ok(Resolved {
            user,
            is_register: true,
        })),
        // A concurrent sign-in created the user or account first.
        Err(StorageError::Conflict(_)) => Ok(Err("unable to create user")),
        Err(e) => Err(e.into()),
    }
}

/// The callback half of `/link-social`: attach the identity to `link_user_id`. Errors are
/// the callback's `error=` codes.
pub fn link_to_user(
    ctx: &Ctx<'_>,
    key: &AccountKey<'_>,
    info: &UserInfo,
    tokens: &Tokens,
    link_user_id: &str,
    link_email: &str,
) -> Result<Result<(), &'static str>, ApiError> {
    let trusted = ctx.app.oauth.is_trusted(key.provider_id);
    if !trusted && !info.email_verified {
        return Ok(Err("unable_to_link_account"));
    }
    // `info.email` was checked and normalised (`UserInfo::with_checked_email`).
    if info.email.as_deref() != Some(email::normalize(link_email).as_str()) {
        return Ok(Err("email_does_not_match"));
    }
    if let Some(existing) = ctx.storage().find_account_by_issuer(key.issuer, key.account_id)? {
        if existing.user_id != link_user_id {
            return Ok(Err("account_already_linked_to_different_user"));
        }
        let scope = merge_scopes(existing.scope.as_deref(), &tokens.scopes);
        refresh_account_tokens(ctx, &existing, tokens, scope)?;
        return Ok(Ok(()));
    }
    let account = new_account(ctx, key, link_user_id, tokens, tokens.scope_column())?;
    match ctx.storage().create_account(&account) {
        Ok(()) => Ok(Ok(())),
        Err(StorageError::Conflict(_) | StorageError::Other(_)) => Ok(Err("unable_to_link_account")),
        Err(e) => Err(e.into()),
    }
}
