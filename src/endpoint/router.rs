//! The route table: static `(method, path, endpoint key, handler)` rows, matched with `:param`
//! segments. The same table serves HTTP (by method + path) and the in-process API (by key).
//! Two routes claiming one method + path shape, or one key, fail [`Router::new`] — at start-up
//! and in a unit test.

use anyhow::bail;

use super::Ctx;
use crate::error::ApiError;
use crate::http::body::BodyKind;
use crate::http::{Method, Request, Response};

pub type Handler = fn(&Ctx<'_>, &Request) -> Result<Response, ApiError>;

#[derive(Clone)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    /// Better Auth's `auth.api` key, e.g. `signUpEmail`.
    pub key: &'static str,
    pub handler: Handler,
    pub body: BodyKind,
    /// A one-line description, used by `--help`-style listings and the OpenAPI document.
    pub summary: &'static str,
    /// The handler hashes a password (or otherwise holds a thread for long): the server runs
    /// it on the bounded, low-priority slow lane so it cannot starve session checks.
    pub slow: bool,
    /// Another path for the same endpoint (`/forget-password` for `/request-password-reset`):
    /// the target's path, whose rate-limit rule and bucket the alias shares.
    pub alias_of: Option<&'static str>,
}

impl Route {
    pub const fn get(path: &'static str, key: &'static str, handler: Handler, summary: &'static str) -> Route {
        Route {
            method: Method::Get,
            path,
            key,
            handler,
            body: BodyKind::Json,
            summary,
            slow: false,
            alias_of: None,
        }
    }
    pub const fn post(path: &'static str, key: &'static str, handler: Handler, summary: &'static str) -> Route {
        Route {
            method: Method::Post,
            path,
            key,
            handler,
            body: BodyKind::Json,
            summary,
            slow: false,
            alias_of: None,
        }
    }
    pub const fn accepting_forms(mut self) -> Route {
        self.body = BodyKind::JsonOrForm;
        self
    }
    /// Marks a route as another path of the endpoint at `target` (see [`Route::alias_of`]).
    pub const fn alias_of(mut self, target: &'static str) -> Route {
        self.alias_of = Some(target);
        self
    }
    /// Marks a route whose handler hashes passwords (see [`Route::slow`]).
    pub const fn hashing(mut self) -> Route {
        self.slow = true;
        self
    }
}

/// The outcome of matching a request path.
pub enum Match<'r> {
    Found(&'r Route, Vec<(&'static str, String)>),
    /// The path exists with other methods: the `Allow` list.
    WrongMethod(Vec<&'r str>),
    NotFound,
}

pub struct Router {
    routes: Vec<Route>,
}

impl Router {
    /// Builds the table, refusing conflicting routes or keys.
    pub fn new(routes: Vec<Route>) -> anyhow::Result<Router> {
        for (i, a) in routes.iter().enumerate() {
            for b in routes.iter().skip(i + 1) {
                if a.method == b.method && shape(a.path) == shape(b.path) {
                    bail!(
                        "route conflict: {} {} ({}) and {} {} ({})",
                        a.method.as_str(),
                        a.path,
                        a.key,
                        b.method.as_str(),
                        b.path,
                        b.key
                    );
                }
                if a.key == b.key {
                    bail!("endpoint key {} is claimed by {} and {}", a.key, a.path, b.path);
                }
            }
        }
        for r in &routes {
            if let Some(target) = r.alias_of {
                if !routes
                    .iter()
                    .any(|t| t.method == r.method && t.path == target && t.alias_of.is_none())
                {
                    bail!(
                        "{} {} is an alias of {target}, which is not a route",
                        r.method.as_str(),
                        r.path
                    );
                }
            }
        }
        Ok(Router { routes })
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Whether a request would run a [`Route::slow`] handler (path without the base path).
    pub fn is_slow(&self, method: &Method, path: &str) -> bool {
        matches!(self.find(method, path), Match::Found(route, _) if route.slow)
    }

    pub fn by_key(&self, key: &str) -> Option<&Route> {
        self.routes.iter().find(|r| r.key == key)
    }

    /// The pattern (`/reset-password/:token`) of the route a path matches, whatever the method,
    /// so logs can show it instead of the path's tokens.
    pub fn pattern(&self, path: &str) -> Option<&'static str> {
        self.routes
            .iter()
            .find(|r| match_path(r.path, path).is_some())
            .map(|r| r.path)
    }

    /// Matches a path already stripped of the base path.
    pub fn find(&self, method: &Method, path: &str) -> Match<'_> {
        let mut allow = Vec::new();
        for route in &self.routes {
            if let Some(params) = match_path(route.path, path) {
                if route.method == *method {
                    return Match::Found(route, params);
                }
                allow.push(route.method.as_str());
            }
        }
        if allow.is_empty() {
            Match::NotFound
        } else {
            Match::WrongMethod(allow)
        }
    }
}

/// The path with every `:param` replaced by `:`, for conflict detection.
fn shape(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with(':') { ":" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

fn match_path(pattern: &'static str, path: &str) -> Option<Vec<(&'static str, String)>> {
    let mut params = Vec::new();
    let mut pat = pattern.split('/');
    let mut got = path.split('/');
    loop {
        match (pat.next(), got.next()) {
            (None, None) => return Some(params),
            (Some(p), Some(g)) => {
                if let Some(name) = p.strip_prefix(':') {
                    if g.is_empty() {
                        return None;
                    }
                    let decoded = percent_encoding::percent_decode_str(g).decode_utf8().ok()?;
                    params.push((name, decoded.into_owned()));
                } else if p != g {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(_: &Ctx<'_>, _: &Request) -> Result<Response, ApiError> {
        Err(ApiError::internal())
    }

    #[test]
    fn matches_params_and_reports_allow() {
        let r = Router::new(vec![
            Route::get("/callback/:id", "callbackOAuth", h, ""),
            Route::post("/callback/:id", "callbackOAuthPost", h, ""),
            Route::get("/ok", "ok", h, ""),
        ])
        .unwrap();
        match r.find(&Method::Get, "/callback/git%2Dhub") {
            Match::Found(route, params) => {
                assert_eq!(route.key, "callbackOAuth");
                assert_eq!(params, vec![("id", "git-hub".to_string())]);
            }
            _ => panic!("expected a match"),
        }
        assert!(matches!(r.find(&Method::Post, "/ok"), Match::WrongMethod(a) if a == vec!["GET"]));
        assert!(matches!(r.find(&Method::Get, "/ok/"), Match::NotFound));
        assert!(matches!(r.find(&Method::Get, "/callback/"), Match::NotFound));
        assert!(matches!(r.find(&Method::Get, "/nope"), Match::NotFound));
        assert_eq!(r.pattern("/callback/secret-value"), Some("/callback/:id"));
        assert_eq!(r.pattern("/nope"), None);
    }

    #[test]
    fn conflicting_routes_fail() {
        let err = Router::new(vec![Route::get("/a/:x", "a", h, ""), Route::get("/a/:y", "b", h, "")])
            .err()
            .unwrap();
        assert!(err.to_string().contains("route conflict"));
        let err = Router::new(vec![Route::get("/a", "k", h, ""), Route::post("/b", "k", h, "")])
            .err()
            .unwrap();
        assert!(err.to_string().contains("endpoint key"));
        let err = Router::new(vec![Route::post("/alias", "alias", h, "").alias_of("/missing")])
            .err()
            .unwrap();
        assert!(err.to_string().contains("not a route"));
    }
}
