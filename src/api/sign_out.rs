//! `POST /sign-out`: deletes the session and always clears the cookies.

use serde_json::json;

use crate::endpoint::answers::SuccessAnswer;
use crate::endpoint::current;
use crate::endpoint::{Ctx, Kind, NoInput, Typed};
use crate::error::ApiError;
use crate::http::{Request, Response};

crate::input! {
    /// The body of `POST /sign-out` (optional; read by Better Auth's client, not the server).
    pub struct SignOutBody {
        callback_url: Option<String> = "callbackURL" as Kind::String,
        disable_redirect: Option<bool> = "disableRedirect" as Kind::Boolean,
        state: Option<String> = "state" as Kind::String,
    }
}

pub static SIGN_OUT: Typed<SignOutBody, NoInput, SuccessAnswer> = Typed::post("/sign-out", "signOut", sign_out)
    .summary("Sign out and clear the session cookies")
    .optional_body();

fn sign_out(ctx: &Ctx<'_>, req: &Request) -> Result<Response, ApiError> {
    if let Some(token) = current::session_token(ctx, req) {
        ctx.storage().delete_session(&token)?;
    }
    ctx.expire_session_cookies();
    Ok(Response::json(&json!({ "success": true })))
}
