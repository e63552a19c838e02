//! The bad-input battery: 10 000 generated requests (proptest, fixed seed) per backend over
//! every route of the app with every route (all plugins, every flow, the social providers
//! configured against a fake) and some that do not exist, through `App::handle_http`. Path
//! parameters get real values (configured providers, a live reset token) and hostile ones.
//! Malformed and truncated JSON, wrong types, huge and deeply nested values, invalid UTF-8,
//! odd Unicode in names and emails, duplicate and conflicting headers, forged / truncated /
//! oversized cookies, path tricks and unknown methods. Every answer must be: no panic, no 5xx,
//! errors as JSON with a `code`; and a rejected request (an error status, or a redirect to an
//! error) must leave every row of every table and the outbox as they were.

use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use serde_json::{json, Value};
use sesame::auth::session::new_session;
use sesame::clock::Clock;
use sesame::http::cookies::sign;
use sesame::http::js::encode_uri_component;
use sesame::http::{Method, Request, Response};

use crate::support::{body_text, TestApp, BASE, ORIGIN, PASSWORD};

const CASES: u32 = 10_000;
const KNOWN_EMAIL: &str = "known@example.com";

#[derive(Debug, Clone)]
enum CookieKind {
    None,
    Valid,
    /// The valid signed cookie with one character changed.
    Flipped(usize),
    /// The valid signed cookie cut short.
    Truncated(usize),
    /// A well-formed but unsigned or wrongly signed value.
    Forged(String),
    /// 16 KiB of cookie.
    Oversized,
    /// Several Cookie headers, the valid one last.
    Duplicated,
    Raw(String),
}

#[derive(Debug, Clone)]
struct Case {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    cookie: CookieKind,
    body: Vec<u8>,
}

fn odd_strings() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(KNOWN_EMAIL.to_string()),
        Just("KNOWN@EXAMPLE.COM".to_string()),
        Just(PASSWORD.to_string()),
        Just("\u{202e}moc.live@evil".to_string()),
        Just("zero\u{200b}width@example.com".to_string()),
        Just("nul\u{0}byte@example.com".to_string()),
        Just("😀🔥@example.com".to_string()),
        Just("e\u{301}\u{301}\u{301}".to_string()),
        Just("ＡＢＣ@ｅｘａｍｐｌｅ.com".to_string()),
        Just("user@例え.jp".to_string()),
        Just("\u{feff}bom@example.com".to_string()),
        Just(" spaced@example.com ".to_string()),
        Just("a@@b.c".to_string()),
        Just("@".to_string()),
        Just("\"quoted\"@example.com".to_string()),
        Just(format!("{}@example.com", "l".repeat(300))),
        Just("x".repeat(100_000)),
        Just("/dashboard".to_string()),
        Just("//evil.example".to_string()),
        Just("https://evil.example".to_string()),
        Just("javascript:alert(1)".to_string()),
        Just("<script>alert(1)</script>".to_string()),
        Just("' OR 1=1 --".to_string()),
        "\\PC{0,40}",
        "[a-z]{1,12}@[a-z]{1,8}\\.(com|io)",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        (-1e300f64..1e300).prop_map(|f| json!(f)),
        odd_strings().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("[a-zA-Z]{1,8}", inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

const FIELDS: &[&str] = &[
    "name",
    "email",
    "password",
    "currentPassword",
    "newPassword",
    "image",
    "callbackURL",
    "redirectTo",
    "errorCallbackURL",
    "newUserCallbackURL",
    "rememberMe",
    "revokeOtherSessions",
    "token",
    "__proto__",
    "constructor",
];

fn body() -> impl Strategy<Value = Vec<u8>> {
    let object = || {
        prop::collection::vec((prop::sample::select(FIELDS), json_value()), 0..7).prop_map(|kv| {
            let m: serde_json::Map<String, Value> = kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            Value::Object(m).to_string().into_bytes()
        })
    };
    let plausible = (odd_strings(), odd_strings(), odd_strings(), any::<bool>()).prop_map(|(name, email, pw, rm)| {
        json!({"name": name, "email": email, "password": pw, "currentPassword": pw,
               "newPassword": pw, "rememberMe": rm, "image": null})
        .to_string()
        .into_bytes()
    });
    prop_oneof![
        4 => object(),
        3 => plausible,
        2 => (object(), any::<prop::sample::Index>()).prop_map(|(b, i)| b[..i.index(b.len().max(1)).min(b.len())].to_vec()),
        1 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => (1usize..3000).prop_map(|d| format!("{}{}", "[".repeat(d), "]".repeat(d)).into_bytes()),
        1 => (1usize..3000).prop_map(|d| "{\"a\":".repeat(d).into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..200),
        1 => Just(b"{\"name\":\"\xff\xfe\",\"email\":\"a\xc3@b.co\"}".to_vec()),
        1 => Just(b"email=known%40example.com&password=x&rememberMe=maybe&email=dup".to_vec()),
        1 => Just(Vec::new()),
        1 => Just(b"null".to_vec()),
        1 => Just(b"{\"email\":1e999999}".to_vec()),
    ]
}

/// Hostile values for any path parameter.
fn hostile_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "", "..", "%2e%2e", "%00", "a%2Fb", "%2F%2Fevil.example", "<script>", "null",
            "undefined", "__proto__", "constructor", "%F0%9F%98%80", "%ff", "a b", "x.y",
        ])
        .prop_map(str::to_string),
        1 => Just("x".repeat(3000)),
        1 => "\\PC{0,24}".prop_map(|s| encode_uri_component(&s)),
        1 => "[a-zA-Z0-9._~-]{1,40}",
    ]
}

/// A value for the path parameter `name`: mostly real, else hostile.
fn param_value(name: &str, live_token: &str) -> BoxedStrategy<String> {
    match name {
        "provider" => prop_oneof![
            4 => prop::sample::select(vec!["github", "google", "mock"]).prop_map(str::to_string),
            1 => prop::sample::select(vec!["GitHub", "github%00", "github/", "apple", "credential"]).prop_map(str::to_string),
            2 => hostile_segment(),
        ]
        .boxed(),
        "token" => {
            let (live, flipped) = (live_token.to_string(), format!("{}A", &live_token[..live_token.len() - 1]));
            prop_oneof![
                4 => Just(live),
                1 => Just(flipped),
                2 => hostile_segment(),
            ]
            .boxed()
        }
        other => panic!("the battery has no values for path parameter :{other}"),
    }
}

/// The route pattern with its `:parameters` filled.
fn filled(pattern: String, live_token: String) -> BoxedStrategy<String> {
    let segments: Vec<BoxedStrategy<String>> = pattern
        .split('/')
        .map(|seg| match seg.strip_prefix(':') {
            None => Just(seg.to_string()).boxed(),
            Some(name) => param_value(name, &live_token),
        })
        .collect();
    segments.prop_map(|v| v.join("/")).boxed()
}

fn path(route: String) -> impl Strategy<Value = String> {
    let tricks = prop::sample::select(vec![
        "",
        "/",
        "//",
        "/..",
        "/%2e%2e",
        "/%2e%2e/%2e%2e/etc/passwd",
        "%2F",
        "#frag",
        "/%00",
        "%20",
        ";jsessionid=1",
    ]);
    let queries = prop::sample::select(vec![
        "?a=1&a=2",
        "?callbackURL=%2F%2Fevil.example",
        "?callbackURL=https%3A%2F%2Fevil.example&callbackURL=%2F",
        "?token=x&token=y",
        "?disableCookieCache=true&disableRefresh=1",
        "?error=%3Cscript%3E&error_description=%3Cimg%3E",
        "?%zz=%",
    ]);
    let prefix = prop::sample::select(vec![
        "",
        "/api/auth/",
        "//api/auth",
        "/API/auth",
        "/api/auth%2F",
        "/api/auth/..",
    ]);
    let (r1, r2, r3, r4) = (route.clone(), route.clone(), route.clone(), route.clone());
    prop_oneof![
        10 => Just(format!("{BASE}{r1}")),
        3 => queries.prop_map(move |q| format!("{BASE}{r2}{q}")),
        2 => tricks.prop_map(move |t| format!("{BASE}{r3}{t}")),
        1 => prefix.prop_map(move |p| format!("{p}{r4}")),
        1 => "/[a-zA-Z0-9%./_-]{0,40}",
        1 => (route_free(), "\\PC{0,20}").prop_map(|(p, s)| format!("{p}{s}")),
    ]
}

fn route_free() -> impl Strategy<Value = String> {
    Just(format!("{BASE}/"))
}

fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    let content_type = prop::sample::select(vec![
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "application/x-www-form-urlencoded",
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/json, text/plain",
        "application/jsonx",
        "",
    ]);
    let one = prop_oneof![
        4 => content_type.prop_map(|v| ("content-type".to_string(), v.to_string())),
        2 => prop::sample::select(vec![ORIGIN, "http://evil.example", "null", "", "http://localhost:3000.evil.example"])
            .prop_map(|v| ("origin".to_string(), v.to_string())),
        1 => prop::sample::select(vec!["http://localhost:3000/page", "https://evil.example/", "garbage"])
            .prop_map(|v| ("referer".to_string(), v.to_string())),
        1 => prop::sample::select(vec!["cross-site", "same-origin", "none", "\u{0}"])
            .prop_map(|v| ("sec-fetch-site".to_string(), v.to_string())),
        1 => Just(("sec-fetch-mode".to_string(), "navigate".to_string())),
        1 => "[0-9a-f.:, ]{0,40}".prop_map(|v| ("x-forwarded-for".to_string(), v)),
        1 => ("[a-zA-Z-]{1,16}", "\\PC{0,30}"),
        1 => Just(("user-agent".to_string(), "x".repeat(10_000))),
    ];
    prop::collection::vec(one, 0..6)
}

fn cookie() -> impl Strategy<Value = CookieKind> {
    prop_oneof![
        3 => Just(CookieKind::None),
        3 => Just(CookieKind::Valid),
        1 => (0usize..80).prop_map(CookieKind::Flipped),
        1 => (0usize..80).prop_map(CookieKind::Truncated),
        1 => "[A-Za-z0-9]{32}\\.[A-Za-z0-9+/=%]{0,50}".prop_map(CookieKind::Forged),
        1 => Just(CookieKind::Oversized),
        1 => Just(CookieKind::Duplicated),
        1 => "\\PC{0,60}".prop_map(CookieKind::Raw),
    ]
}

fn case(routes: Vec<(String, String)>, live_token: String) -> impl Strategy<Value = Case> {
    prop::sample::select(routes).prop_flat_map(move |(method, pattern)| {
        let methods = prop_oneof![
            8 => Just(method),
            2 => prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "get", "", "POST "])
                .prop_map(str::to_string),
            1 => "[A-Z]{1,12}",
        ];
        let path = filled(pattern, live_token.clone()).prop_flat_map(path);
        (methods, path, content_type(), headers(), cookie(), body()).prop_map(
            |(method, path, content_type, mut headers, cookie, body)| {
                if let Some(ct) = content_type {
                    headers.insert(0, ("content-type".to_string(), ct.to_string()));
                }
                Case {
                    method,
                    path,
                    headers,
                    cookie,
                    body,
                }
            },
        )
    })
}

fn content_type() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        8 => Just(Some("application/json")),
        1 => Just(Some("application/x-www-form-urlencoded")),
        1 => Just(None),
    ]
}

/// Everything a rejected request must leave alone.
#[derive(Debug, PartialEq)]
struct Snapshot {
    known: Value,
    known_sessions: Vec<Value>,
    known_password: Option<String>,
    email_exists: bool,
}

fn snapshot(t: &TestApp, user_id: &str, email: Option<&str>) -> Snapshot {
    let s = t.storage();
    let mut sessions: Vec<Value> = s
        .list_user_sessions(user_id)
        .unwrap()
        .iter()
        .map(|x| x.to_json())
        .collect();
    sessions.sort_by_key(|v| v["id"].to_string());
    Snapshot {
        known: s
            .find_user_by_id(user_id)
            .unwrap()
            .map(|u| u.to_json())
            .unwrap_or(Value::Null),
        known_sessions: sessions,
        known_password: s.find_credential_account(user_id).unwrap().and_then(|a| a.password),
        // A NUL cannot be stored (nor looked up) in PostgreSQL; such requests are refused.
        email_exists: email
            .filter(|e| !e.contains('\0'))
            .map(|e| {
                s.find_user_by_email(&sesame::auth::email::normalize(e))
                    .unwrap()
                    .is_some()
            })
            .unwrap_or(false),
    }
}

/// A live session for the known user (earlier cases may have signed it out); its cookie value,
/// and whether it had to be created.
fn live_cookie(t: &TestApp, user_id: &str) -> (String, bool) {
    let s = t.storage();
    let mut created = false;
    let token = match s.list_user_sessions(user_id).unwrap().into_iter().next() {
        Some(session) => session.token,
        None => {
            let session = new_session(
                user_id,
                t.clock.now(),
                &t.app.config,
                true,
                String::new(),
                String::new(),
            );
            s.create_session(&session).unwrap();
            created = true;
            session.token
        }
    };
    (
        encode_uri_component(&sign(t.app.config.secret.expose(), &token)),
        created,
    )
}

fn cookie_header(kind: &CookieKind, valid: &str) -> Vec<String> {
    let name = "better-auth.session_token";
    match kind {
        CookieKind::None => vec![],
        CookieKind::Valid => vec![format!("{name}={valid}")],
        CookieKind::Flipped(i) => {
            let mut v: Vec<char> = valid.chars().collect();
            let i = i % v.len();
            v[i] = if v[i] == 'A' { 'B' } else { 'A' };
            vec![format!("{name}={}", v.into_iter().collect::<String>())]
        }
        CookieKind::Truncated(n) => vec![format!("{name}={}", &valid[..n % valid.len()])],
        CookieKind::Forged(v) => vec![format!("{name}={v}")],
        CookieKind::Oversized => vec![format!("{name}={valid}; junk={}", "j".repeat(16 * 1024))],
        CookieKind::Duplicated => vec![format!("{name}=forged.AAAA"), format!("{name}={valid}; {name}=x")],
        CookieKind::Raw(v) => vec![v.clone()],
    }
}

fn check(resp: &Response) -> Result<(), TestCaseError> {
    let text = body_text(resp);
    prop_assert!(resp.status < 500, "status {} body {}", resp.status, text);
    prop_assert_eq!(resp.header("x-content-type-options"), Some("nosniff"));
    if resp.status >= 400 {
        let body: Value =
            serde_json::from_slice(&resp.body).map_err(|_| TestCaseError::fail(format!("not JSON: {text}")))?;
        prop_assert!(body["code"].is_string(), "no code: {}", body);
        prop_assert!(body["message"].is_string(), "no message: {}", body);
        prop_assert_eq!(&body["status"], &json!(resp.status));
    } else if resp
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json"))
        && !resp.body.is_empty()
    {
        prop_assert!(
            serde_json::from_slice::<Value>(&resp.body).is_ok(),
            "bad JSON: {}",
            text
        );
    }
    // Wherever it points, a Location stays on the trusted origin (the battery's hostile values
    // may appear in its path or query, e.g. the form_post callback's own URL).
    if let Some(location) = resp.header("location") {
        let base = url::Url::parse(&format!("{ORIGIN}{BASE}/x")).unwrap();
        let target = base.join(location);
        prop_assert!(
            target
                .as_ref()
                .is_ok_and(|u| u.origin().ascii_serialization() == ORIGIN),
            "redirect to {} ({:?})",
            location,
            target.map(|u| u.origin().ascii_serialization())
        );
        prop_assert!(
            !location.chars().any(char::is_control),
            "control character in {:?}",
            location
        );
    }
    Ok(())
}

fn bad_input_never_wins(t: &TestApp) {
    let all = crate::support::everything::app(t.backend);
    let t = &all.t;
    let (resp, _) = t.sign_up(KNOWN_EMAIL);
    let user_id = crate::support::json_body(&resp)["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let live_token = crate::support::everything::PathValues::for_user(t, KNOWN_EMAIL).token;
    let routes: Vec<(String, String)> = t
        .app
        .router
        .routes()
        .iter()
        .map(|r| (r.method.as_str().to_string(), r.path.to_string()))
        .chain([("GET".to_string(), "/does-not-exist".to_string())])
        .collect();
    // Every table and the outbox, before each request (the previous request's "after", unless
    // the case itself had to create a session first).
    let snapshots = std::cell::RefCell::new(crate::support::db_snapshot::Snapshotter::new(t));
    let last = std::cell::RefCell::new(snapshots.borrow_mut().take(t));
    let (rejected, error_redirects) = (std::cell::Cell::new(0u32), std::cell::Cell::new(0u32));
    let config = RunnerConfig {
        cases: CASES,
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..RunnerConfig::default()
    };
    let mut runner = TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let statuses = std::cell::RefCell::new(std::collections::BTreeMap::new());
    let result = runner.run(&case(routes, live_token), |c| {
        let (valid, created) = live_cookie(t, &user_id);
        let before_all = if created {
            snapshots.borrow_mut().take(t)
        } else {
            last.borrow().clone()
        };
        let mut req = Request::new(Method::parse(&c.method), &c.path);
        for (k, v) in &c.headers {
            req = req.with_header(k, v);
        }
        for cookie in cookie_header(&c.cookie, &valid) {
            req = req.with_header("cookie", &cookie);
        }
        req.body = c.body.clone();
        req.remote_addr = Some([192, 0, 2, 1].into());
        let email = serde_json::from_slice::<Value>(&c.body)
            .ok()
            .and_then(|b| b.get("email").and_then(Value::as_str).map(str::to_string));
        // The storage-level view, for memory storage (which has no tables to read); on SQLite
        // and PostgreSQL every row is compared below.
        let memory = t.backend == crate::support::Backend::Memory;
        let before = memory.then(|| snapshot(t, &user_id, email.as_deref()));
        let resp = t.send(req);
        // Recorded before any assertion can end the case, so the next case (or the shrinker's
        // next try) starts from the true state.
        let after_all = snapshots.borrow_mut().take(t);
        *last.borrow_mut() = after_all.clone();
        check(&resp)?;
        // An error redirect (Better Auth sends browsers to `…?error=CODE`) is a rejection too.
        let error_redirect =
            (300..400).contains(&resp.status) && resp.header("location").is_some_and(|l| l.contains("error="));
        if resp.status >= 400 || error_redirect {
            let after = memory.then(|| snapshot(t, &user_id, email.as_deref()));
            prop_assert_eq!(
                &before,
                &after,
                "a rejected request ({}) changed state",
                body_text(&resp)
            );
            prop_assert!(
                before_all == after_all,
                "a rejected request ({} {}) changed the database or the outbox:\nbefore {:?}\nafter {:?}",
                resp.status,
                body_text(&resp),
                before_all,
                after_all
            );
            rejected.set(rejected.get() + 1);
            error_redirects.set(error_redirects.get() + u32::from(error_redirect));
        }
        *statuses.borrow_mut().entry(resp.status).or_insert(0u32) += 1;
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let statuses = statuses.into_inner();
    let (rejected, error_redirects) = (rejected.get(), error_redirects.get());
    println!(
        "bad-input battery ({:?}): {CASES} requests, statuses {statuses:?}, {rejected} rejected ({error_redirects} error redirects) each compared against a snapshot of {} tables and the outbox",
        t.backend,
        last.borrow().tables.len()
    );
    assert!(error_redirects > 0, "no error redirect was checked");
    // the battery reached the handlers, not just the router
    assert!(statuses.get(&200).copied().unwrap_or(0) > 100, "{statuses:?}");
    assert!(statuses.get(&400).copied().unwrap_or(0) > 100, "{statuses:?}");
    assert!(statuses.get(&401).copied().unwrap_or(0) > 10, "{statuses:?}");
}

crate::suite!(bad_input_never_wins);
