//! `/admin/impersonate-user` and `/admin/stop-impersonating`. An impersonation session is
//! marked with the admin's id (`impersonatedBy`), lives `SESAME_ADMIN_IMPERSONATION_DURATION`
//! (Better Auth's default: one hour) and never slides; the admin's own session token waits in
//! the signed `admin_session` cookie (`<token>:<dont-remember marker>`, Better Auth's format)
//! until stop-impersonating puts it back.

use serde_json::json;

use super::*;
use crate::endpoint::answers::{SessionAnswer, UserAnswer};
use crate::endpoint::session::create_session_with;
use crate::endpoint::{NoInput, Typed};
use crate::error::codes;

/// `{session, user}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SessionAndUser {
    pub session: SessionAnswer,
    pub user: UserAnswer,
}

pub static IMPERSONATE_USER: Typed<sessions::UserIdBody, NoInput, SessionAndUser> =
    Typed::post("/admin/impersonate-user", "impersonateUser", impersonate_user)
        .summary("Impersonate a user")
        .errors(&[
            codes::UNAUTHORIZED,
            YOU_ARE_NOT_ALLOWED_TO_IMPERSONATE_USERS,
            codes::USER_NOT_FOUND,
            YOU_CANNOT_IMPERSONATE_ADMINS,
            BANNED_USER,
        ]);

fn impersonate_user(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let body: sessions::UserIdBody = ctx.input()?;
    let s = caller(ctx, req)?;
    require(
        ctx,
        &s,
        &[("user", &["impersonate"])],
        YOU_ARE_NOT_ALLOWED_TO_IMPERSONATE_USERS,
    )?;
    // No impersonation from an impersonation session: Better Auth reaches the same end only
    // through its default roles (an impersonated user is never an admin); Sesame also
    // refuses it outright, so that `SESAME_ADMIN_USER_IDS` cannot chain them.
    if s.session.impersonated_by.is_some() {
        return Err(ApiError::new(403, YOU_ARE_NOT_ALLOWED_TO_IMPERSONATE_USERS));
    }
    let target = ops::existing(ctx.storage(), &coerce(&body.user_id))?;
    let admin = &ctx.config().admin;
    if access::is_admin(admin, &target.id, target.admin.role.as_deref())
        && !may(ctx, &s, &[("user", &["impersonate-admins"])])
    {
        return Err(ApiError::new(403, YOU_CANNOT_IMPERSONATE_ADMINS));
    }
    let lifetime = time::Duration::seconds(admin.impersonation_duration);
    let session = create_session_with(ctx, req, &target.id, false, |row| {
        row.impersonated_by = Some(s.user.id.clone());
        row.expires_at = ctx.now + lifetime;
    })?;
    let jar = &ctx.app.cookies;
    let marker = if s.dont_remember { "true" } else { "" };
    ctx.add_cookie(jar.signed(
        ctx.secret(),
        "admin_session",
        &format!("{}:{marker}", s.session.token),
        Some(ctx.config().session_expires_in),
    ));
    ctx.set_session_cookie(&session.token, true);
    Ok(Response::json(
        &json!({ "session": ctx.session_json(&session), "user": ctx.user_json(&target) }),
    ))
}

pub static STOP_IMPERSONATING: Typed<NoInput, NoInput, SessionAndUser> =
    Typed::post("/admin/stop-impersonating", "stopImpersonating", stop_impersonating)
        .summary("Stop impersonating a user")
        .optional_body()
        .errors(&[codes::UNAUTHORIZED, NOT_IMPERSONATING, ADMIN_SESSION_NOT_FOUND]);

fn stop_impersonating(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let s = caller(ctx, req)?;
    let Some(admin_id) = s.session.impersonated_by.clone() else {
        return Err(ApiError::bad_request(NOT_IMPERSONATING));
    };
    // Better Auth answers 500 when the admin or their session is gone; Sesame answers 400
    // and leaves the impersonation session as it is, as Better Auth does.
    let not_found = || ApiError::bad_request(ADMIN_SESSION_NOT_FOUND);
    let header = req.cookie_header();
    let cookie = ctx
        .app
        .cookies
        .read_signed(ctx.secret(), header.as_deref(), "admin_session")
        .ok_or_else(not_found)?;
    let (token, marker) = cookie.split_once(':').unwrap_or((cookie.as_str(), ""));
    let (admin_session, admin_user) = ctx.storage().find_session_with_user(token)?.ok_or_else(not_found)?;
    if admin_session.user_id != admin_id || crate::auth::session::is_expired(&admin_session, ctx.now) {
        return Err(not_found());
    }
    ctx.storage().delete_session(&s.session.token)?;
    let dont_remember = !marker.is_empty() || admin_session.dont_remember_me;
    ctx.set_session_cookie(&admin_session.token, dont_remember);
    ctx.add_cookie(ctx.app.cookies.expire("admin_session"));
    Ok(Response::json(&json!({
        "session": ctx.session_json(&admin_session),
        "user": ctx.user_json(&admin_user),
    })))
}
