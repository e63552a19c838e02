//! An app with every route there is: all plugins, change-email and delete-user on, and the
//! social providers pointing at a fake. Checks that sweep the route table (CSRF, open
//! redirects, the bad-input battery) run on it, so a route cannot escape them by being off in
//! `Config::for_tests()`. Path parameters are filled with real values by [`fill`].

use sesame::mail::MailKind;
use sesame::plugins::ALL_PLUGINS;

use super::fake_provider::FakeProvider;
use super::{oauth, Backend, TestApp};

/// The app and the fake its providers talk to (kept alive with it).
pub struct Everything {
    pub t: TestApp,
    pub fake: FakeProvider,
}

pub fn app(backend: Backend) -> Everything {
    let fake = oauth::fake();
    let vars = oauth::vars(&fake, &[]);
    let t = TestApp::with_config(backend, |c| {
        c.oauth = sesame::config::oauth::OAuthConfig::from_vars(&vars).expect("oauth config parses");
        c.plugins = ALL_PLUGINS.iter().map(|p| p.id.to_string()).collect();
        c.email.change_email = true;
        c.email.delete_user = true;
    });
    Everything { t, fake }
}

/// Real values for path parameters: a configured provider, a live password-reset token.
pub struct PathValues {
    pub provider: String,
    pub token: String,
}

impl PathValues {
    /// A fresh reset token for `email` (who must exist), as the emailed link carries it.
    pub fn for_user(t: &TestApp, email: &str) -> PathValues {
        let resp = t.post("/request-password-reset", serde_json::json!({"email": email}));
        assert_eq!(resp.status, 200, "{}", super::body_text(&resp));
        let token = t.mail_to(MailKind::ResetPassword, email).token;
        PathValues {
            provider: "github".to_string(),
            token,
        }
    }
}

/// `pattern` with each `:param` replaced by its real value. Panics on a parameter it does not
/// know, so a new parameterised route is noticed here rather than swept with a literal `:x`.
pub fn fill(pattern: &str, values: &PathValues) -> String {
    pattern
        .split('/')
        .map(|seg| match seg.strip_prefix(':') {
            None => seg.to_string(),
            Some("provider") => values.provider.clone(),
            Some("token") => values.token.clone(),
            Some(other) => panic!("no real value for path parameter :{other} in {pattern}"),
        })
        .collect::<Vec<_>>()
        .join("/")
}
