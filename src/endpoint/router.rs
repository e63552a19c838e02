//! The route table: the mounted [`Endpoint`] declarations, matched by method and path (with
//! `:param` segments) for HTTP and by key for the in-process API. Two endpoints claiming one
//! method + path shape, or one key, fail [`Router::new`] — at start-up and in a unit test.

use std::collections::HashMap;

use anyhow::bail;

use super::{Ctx, Endpoint};
use crate::error::ApiError;
use crate::http::{Method, Request, Response};

pub type Handler = fn(&Ctx<'_>, &Request) -> Result<Response, ApiError>;

/// The outcome of matching a request path.
pub enum Match<'r> {
    Found(&'static Endpoint, Vec<(&'static str, String)>),
    /// The path exists with other methods: the `Allow` list.
    WrongMethod(Vec<&'r str>),
    NotFound,
}

pub struct Router {
    routes: Vec<&'static Endpoint>,
    /// Indexes into `routes` of the routes without `:param` segments, by path: most requests
    /// are found with one hash lookup instead of splitting every pattern (a linear scan was
    /// about a third of the instructions of a `/ok` request, measured with callgrind).
    exact: HashMap<&'static str, Vec<usize>>,
    /// Indexes of the routes with `:param` segments, in table order, with the literal part
    /// before the first parameter, which a path must start with to be worth splitting.
    with_params: Vec<(usize, &'static str)>,
}

impl Router {
    /// Builds the table, refusing conflicting routes or keys.
    pub fn new(routes: Vec<&'static Endpoint>) -> anyhow::Result<Router> {
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
        for r in routes.iter() {
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
        let mut exact: HashMap<&'static str, Vec<usize>> = HashMap::new();
        let mut with_params = Vec::new();
        for (i, r) in routes.iter().enumerate() {
            if let Some(at) = r.path.find("/:") {
                with_params.push((i, &r.path[..=at]));
            } else {
                exact.entry(r.path).or_default().push(i);
            }
        }
        Ok(Router {
            routes,
            exact,
            with_params,
        })
    }

    /// Every route whose pattern matches `path`, in table order, with its parameters.
    fn matching<'a>(
        &'a self,
        path: &'a str,
    ) -> impl Iterator<Item = (&'static Endpoint, Vec<(&'static str, String)>)> + 'a {
        let exact = self.exact.get(path).map(Vec::as_slice).unwrap_or_default();
        let mut exact = exact.iter().copied().peekable();
        let mut params = self
            .with_params
            .iter()
            .filter(move |(_, prefix)| path.starts_with(prefix))
            .map(|&(i, _)| i)
            .peekable();
        // Both lists are in table order: merge them so the first match wins as in the table.
        std::iter::from_fn(move || loop {
            let next = match (exact.peek(), params.peek()) {
                (Some(&e), Some(&p)) if e < p => exact.next(),
                (Some(_), None) => exact.next(),
                (_, Some(_)) => params.next(),
                (None, None) => return None,
            }?;
            let route = self.routes[next];
            if let Some(found) = match_path(route.path, path) {
                return Some((route, found));
            }
        })
    }

    pub fn routes(&self) -> &[&'static Endpoint] {
        &self.routes
    }

    /// Whether a request would run a password-hashing ([`Endpoint::slow`]) handler (path
    /// without the base path).
    pub fn is_slow(&self, method: &Method, path: &str) -> bool {
        matches!(self.find(method, path), Match::Found(route, _) if route.slow)
    }

    pub fn by_key(&self, key: &str) -> Option<&'static Endpoint> {
        self.routes.iter().copied().find(|r| r.key == key)
    }

    /// The pattern (`/reset-password/:token`) of the route a path matches, whatever the method,
    /// so logs can show it instead of the path's tokens.
    pub fn pattern(&self, path: &str) -> Option<&'static str> {
        self.matching(path).next().map(|(r, _)| r.path)
    }

    /// Matches a path already stripped of the base path.
    pub fn find(&self, method: &Method, path: &str) -> Match<'_> {
        let mut allow = Vec::new();
        for (route, params) in self.matching(path) {
            if route.method == *method {
                return Match::Found(route, params);
            }
            allow.push(route.method.as_str());
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

    const fn get(path: &'static str, key: &'static str) -> Endpoint {
        Endpoint::new(Method::Get, path, key, h)
    }

    const fn post(path: &'static str, key: &'static str) -> Endpoint {
        Endpoint::new(Method::Post, path, key, h)
    }

    #[test]
    fn matches_params_and_reports_allow() {
        static CB_GET: Endpoint = get("/callback/:id", "callbackOAuth");
        static CB_POST: Endpoint = post("/callback/:id", "callbackOAuthPost");
        static OK: Endpoint = get("/ok", "ok");
        let r = Router::new(vec![&CB_GET, &CB_POST, &OK]).unwrap();
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
    fn first_match_in_table_order_across_exact_and_param_routes() {
        static PARAM_GET: Endpoint = get("/a/:x", "paramGet");
        static EXACT_POST: Endpoint = post("/a/b", "exactPost");
        static EXACT_GET: Endpoint = get("/a/b", "exactGet");
        let r = Router::new(vec![&PARAM_GET, &EXACT_POST]).unwrap();
        assert!(matches!(r.find(&Method::Get, "/a/b"), Match::Found(route, _) if route.key == "paramGet"));
        assert!(matches!(r.find(&Method::Post, "/a/b"), Match::Found(route, _) if route.key == "exactPost"));
        assert!(matches!(r.find(&Method::Delete, "/a/b"), Match::WrongMethod(a) if a == vec!["GET", "POST"]));
        let r = Router::new(vec![&EXACT_GET, &PARAM_GET]).unwrap();
        assert!(matches!(r.find(&Method::Get, "/a/b"), Match::Found(route, _) if route.key == "exactGet"));
        assert!(matches!(r.find(&Method::Get, "/a/c"), Match::Found(route, params)
            if route.key == "paramGet" && params == vec![("x", "c".to_string())]));
        assert_eq!(r.pattern("/a/b"), Some("/a/b"));
    }

    #[test]
    fn conflicting_routes_fail() {
        static A: Endpoint = get("/a/:x", "a");
        static B: Endpoint = get("/a/:y", "b");
        let err = Router::new(vec![&A, &B]).err().unwrap();
        assert!(err.to_string().contains("route conflict"));
        static K1: Endpoint = get("/a", "k");
        static K2: Endpoint = post("/b", "k");
        let err = Router::new(vec![&K1, &K2]).err().unwrap();
        assert!(err.to_string().contains("endpoint key"));
        static ALIAS: Endpoint = post("/alias", "alias").alias_of("/missing");
        let err = Router::new(vec![&ALIAS]).err().unwrap();
        assert!(err.to_string().contains("not a route"));
    }
}
