//! `POST /sign-out` (spec §3.6): deletes the session and always clears the cookies.

use serde_json::json;

use crate::endpoint::current;
use crate::endpoint::validate::Fields;
use crate::endpoint::Ctx;
use crate::error::ApiError;
use crate::http::{Request, Response};

pub fn sign_out(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    let mut f = Fields::optional_body(ctx.body.as_ref());
    f.opt_string("callbackURL");
    f.opt_bool("disableRedirect");
    f.opt_string("state");
    f.finish()?;
    if let Some(token) = current::session_token(ctx, req) {
        ctx.storage().delete_session(&token)?;
    }
    ctx.expire_session_cookies();
    Ok(Response::json(&json!({ "success": true })))
}
