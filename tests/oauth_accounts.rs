//! ID-token sign-in (JWKS signature, issuer, audience, expiry, nonce, key rotation) and the
//! account endpoints: link-social (redirect and idToken), list-accounts, unlink-account,
//! get-access-token (with refresh), refresh-token, account-info, and token encryption.

use serde_json::{json, Value};
use sesame::ApiInput;

use crate::support::fake_provider::TestKey;
use crate::support::oauth::{self, callback, github_sign_in, location};
use crate::support::{assert_error, cookie_header, json_body, TestApp};

const GOOGLE_ISS: &str = "https://accounts.google.com";

fn google_token(t: &TestApp, edit: impl FnOnce(&mut Value), key: TestKey) -> String {
    let mut c = oauth::claims(t, GOOGLE_ISS, "google-client", "g-123", "grace@example.com");
    edit(&mut c);
    oauth::id_token(&c, key)
}

fn id_token_sign_in(t: &TestApp) {
    let f = oauth::fake();
    let t = oauth::app(t.backend, &f, &[]);
    let token = google_token(&t, |c| c["nonce"] = json!("n-1"), TestKey::Rsa);
    let resp = t.post(
        "/sign-in/social",
        json!({"provider": "google", "idToken": {"token": token, "nonce": "n-1", "accessToken": "ya29.x"}}),
    );
    assert_eq!(resp.status, 200, "{}", crate::support::body_text(&resp));
    let body = json_body(&resp);
    assert_eq!(body["redirect"], false);
    assert!(body.get("url").is_none());
    assert_eq!(body["user"]["email"], "grace@example.com");
    assert_eq!(body["user"]["emailVerified"], true);
    let cookies = cookie_header(&resp);
    assert_eq!(
        json_body(&t.get("/get-session", Some(&cookies)))["session"]["token"],
        body["token"]
    );
    let accounts = json_body(&t.get("/list-accounts", Some(&cookies)));
    assert_eq!(accounts[0]["issuer"], GOOGLE_ISS);
    assert_eq!(accounts[0]["accountId"], "g-123");

    let refused = |token: String, nonce: Option<&str>| {
        let mut id = json!({"token": token});
        if let Some(n) = nonce {
            id["nonce"] = json!(n);
        }
        t.post("/sign-in/social", json!({"provider": "google", "idToken": id}))
    };
    assert_error(
        &refused(google_token(&t, |_| {}, TestKey::Other("test-rsa")), None),
        401,
        "INVALID_TOKEN",
    );
    assert_error(
        &refused(
            google_token(&t, |c| c["aud"] = json!("other-client"), TestKey::Rsa),
            None,
        ),
        401,
        "INVALID_TOKEN",
    );
    assert_error(
        &refused(
            google_token(&t, |c| c["iss"] = json!("https://evil.example"), TestKey::Rsa),
            None,
        ),
        401,
        "INVALID_TOKEN",
    );
    let now = oauth::now_secs(&t);
    let expired = google_token(
        &t,
        |c| {
            c["iat"] = json!(now - 7200);
            c["exp"] = json!(now - 3600)
        },
        TestKey::Rsa,
    );
    assert_error(&refused(expired, None), 401, "INVALID_TOKEN");
    assert_error(
        &refused(
            google_token(&t, |c| c["nonce"] = json!("n-1"), TestKey::Rsa),
            Some("n-2"),
        ),
        401,
        "INVALID_TOKEN",
    );
    assert_error(&refused("not.a.jwt".into(), None), 401, "INVALID_TOKEN");
    // Google accepts RS256 only.
    assert_error(
        &refused(google_token(&t, |_| {}, TestKey::Ec), None),
        401,
        "INVALID_TOKEN",
    );
    let no_email = google_token(
        &t,
        |c| {
            c.as_object_mut().unwrap().remove("email");
        },
        TestKey::Rsa,
    );
    assert_error(&refused(no_email, None), 401, "USER_EMAIL_NOT_FOUND");
    assert_error(
        &t.post(
            "/sign-in/social",
            json!({"provider": "github", "idToken": {"token": "x"}}),
        ),
        404,
        "ID_TOKEN_NOT_SUPPORTED",
    );
}

fn id_token_keys_are_cached_and_refetched_on_rotation(t: &TestApp) {
    let f = oauth::fake();
    let t = oauth::app(t.backend, &f, &[]);
    // ES256 through the generic OIDC provider (its discovery lists RS256 and ES256).
    let token = oauth::id_token(
        &oauth::claims(&t, &f.base, "mock-client", "s-1", "ec@example.com"),
        TestKey::Ec,
    );
    assert_eq!(
        t.post(
            "/sign-in/social",
            json!({"provider": "mock", "idToken": {"token": token}})
        )
        .status,
        200
    );
    let token = oauth::id_token(
        &oauth::claims(&t, &f.base, "mock-client", "s-1", "ec@example.com"),
        TestKey::Rsa,
    );
    assert_eq!(
        t.post(
            "/sign-in/social",
            json!({"provider": "mock", "idToken": {"token": token}})
        )
        .status,
        200
    );
    assert_eq!(f.requests("/jwks").len(), 1, "the key set is cached");
    // The provider rotates its keys: an unknown kid refetches (at most once a minute).
    f.respond_fixture("/jwks", "jwks-rotated.json");
    let rotated = oauth::id_token(
        &oauth::claims(&t, &f.base, "mock-client", "s-1", "ec@example.com"),
        TestKey::Other("rotated-rsa"),
    );
    let body = json!({"provider": "mock", "idToken": {"token": rotated}});
    assert_error(&t.post("/sign-in/social", body.clone()), 401, "INVALID_TOKEN");
    t.clock.advance(time::Duration::minutes(2));
    let rotated = oauth::id_token(
        &oauth::claims(&t, &f.base, "mock-client", "s-1", "ec@example.com"),
        TestKey::Other("rotated-rsa"),
    );
    assert_eq!(
        t.post(
            "/sign-in/social",
            json!({"provider": "mock", "idToken": {"token": rotated}})
        )
        .status,
        200
    );
    assert_eq!(f.requests("/jwks").len(), 2);
}

fn list_and_unlink_accounts(t: &TestApp) {
    let f = oauth::fake();
    let t = oauth::app(t.backend, &f, &[]);
    assert_error(&t.get("/list-accounts", None), 401, "UNAUTHORIZED");
    let resp = github_sign_in(&t, json!({"provider": "github"}));
    let cookies = cookie_header(&resp);
    let accounts = json_body(&t.get("/list-accounts", Some(&cookies)));
    let gh_id = accounts[0]["id"].as_str().unwrap().to_string();
    assert_error(
        &t.post_with_cookies("/unlink-account", json!({"accountId": gh_id}), &cookies),
        400,
        "FAILED_TO_UNLINK_LAST_ACCOUNT",
    );
    // Link Google by ID token (same email, verified), then unlink GitHub.
    let token = oauth::id_token(
        &oauth::claims(&t, GOOGLE_ISS, "google-client", "g-9", "octocat@example.com"),
        TestKey::Rsa,
    );
    let resp = t.post_with_cookies(
        "/link-social",
        json!({"provider": "google", "idToken": {"token": token}}),
        &cookies,
    );
    assert_eq!(json_body(&resp), json!({"url": "", "status": true, "redirect": false}));
    assert_error(
        &t.post_with_cookies("/unlink-account", json!({"accountId": "nope"}), &cookies),
        400,
        "ACCOUNT_NOT_FOUND",
    );
    let resp = t.post_with_cookies("/unlink-account", json!({"accountId": gh_id}), &cookies);
    assert_eq!(json_body(&resp), json!({"status": true}));
    let left = json_body(&t.get("/list-accounts", Some(&cookies)));
    assert_eq!(left.as_array().unwrap().len(), 1);
    assert_eq!(left[0]["providerId"], "google");
    // Unlinking needs a fresh session.
    t.clock.advance(time::Duration::days(2));
    let resp = t.post_with_cookies("/unlink-account", json!({"accountId": "x"}), &cookies);
    assert!(matches!(resp.status, 401 | 403), "{}", resp.status);
}

fn link_social_flows_and_errors(t: &TestApp) {
    let f = oauth::fake();
    let t = oauth::app(t.backend, &f, &[]);
    assert_error(
        &t.post("/link-social", json!({"provider": "github"})),
        401,
        "UNAUTHORIZED",
    );
    let (_, cookies) = t.sign_up("octocat@example.com");
    assert_error(
        &t.post_with_cookies("/link-social", json!({"provider": "nope"}), &cookies),
        404,
        "PROVIDER_NOT_FOUND",
    );
    t.clock.advance(time::Duration::seconds(1));
    let resp = t.post_with_cookies(
        "/link-social",
        json!({"provider": "github", "callbackURL": "/linked"}),
        &cookies,
    );
    let flow = oauth::flow_from(resp);
    let browser = format!("{cookies}; {}", flow.cookies);
    let done = callback(&t, "github", &[("code", "c"), ("state", &flow.state)], &browser);
    assert_eq!(location(&done), "/linked");
    let providers: Vec<String> = json_body(&t.get("/list-accounts", Some(&cookies)))
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["providerId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(providers, ["credential", "github"]);

    // Different email → refused; already linked to someone else → 409.
    let other = oauth::id_token(
        &oauth::claims(&t, GOOGLE_ISS, "google-client", "g-1", "someone@example.com"),
        TestKey::Rsa,
    );
    assert_error(
        &t.post_with_cookies(
            "/link-social",
            json!({"provider": "google", "idToken": {"token": other}}),
            &cookies,
        ),
        401,
        "LINKING_DIFFERENT_EMAILS_NOT_ALLOWED",
    );
    let token = oauth::id_token(
        &oauth::claims(&t, GOOGLE_ISS, "google-client", "g-2", "grace@example.com"),
        TestKey::Rsa,
    );
    assert_eq!(
        t.post(
            "/sign-in/social",
            json!({"provider": "google", "idToken": {"token": token.clone()}})
        )
        .status,
        200
    );
    assert_error(
        &t.post_with_cookies(
            "/link-social",
            json!({"provider": "google", "idToken": {"token": token}}),
            &cookies,
        ),
        409,
        "SOCIAL_ACCOUNT_ALREADY_LINKED",
    );
    let mut unverified = oauth::claims(&t, GOOGLE_ISS, "google-client", "g-3", "octocat@example.com");
    unverified["email_verified"] = json!(false);
    let token = oauth::id_token(&unverified, TestKey::Rsa);
    assert_error(
        &t.post_with_cookies(
            "/link-social",
            json!({"provider": "google", "idToken": {"token": token}}),
            &cookies,
        ),
        401,
        "LINKING_NOT_ALLOWED",
    );
}

fn access_and_refresh_tokens(t: &TestApp) {
    let f = oauth::fake();
    let t = oauth::app(t.backend, &f, &[("SESAME_ENCRYPT_OAUTH_TOKENS", "true")]);
    let resp = github_sign_in(&t, json!({"provider": "github"}));
    let cookies = cookie_header(&resp);
    let account_id = json_body(&t.get("/list-accounts", Some(&cookies)))[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Stored encrypted, answered in clear.
    let user_id = json_body(&t.get("/get-session", Some(&cookies)))["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let row = t.storage().list_user_accounts(&user_id).unwrap().remove(0);
    let stored = row.access_token.clone().unwrap();
    assert_ne!(stored, "gho_fake_access");
    assert!(stored.bytes().all(|b| b.is_ascii_hexdigit()));

    let resp = t.post_with_cookies("/get-access-token", json!({"accountId": account_id}), &cookies);
    let body = json_body(&resp);
    assert_eq!(body["accessToken"], "gho_fake_access");
    assert_eq!(body["scopes"], json!(["read:user", "user:email"]));
    assert!(body["accessTokenExpiresAt"].is_string());
    assert!(f.requests("/github/token").len() == 1, "not refreshed while valid");

    // Expired: refreshed through the token endpoint with the decrypted refresh token.
    t.clock.advance(time::Duration::hours(9));
    f.respond_json(
        "/github/token",
        200,
        &json!({"access_token": "gho_new", "expires_in": 28800, "token_type": "bearer"}),
    );
    let body = json_body(&t.post_with_cookies("/get-access-token", json!({"accountId": account_id}), &cookies));
    assert_eq!(body["accessToken"], "gho_new");
    let refresh_req = f.requests("/github/token").pop().unwrap().form();
    assert_eq!(refresh_req["grant_type"], "refresh_token");
    assert_eq!(refresh_req["refresh_token"], "ghr_fake_refresh");

    let body = json_body(&t.post_with_cookies("/refresh-token", json!({"accountId": account_id}), &cookies));
    assert_eq!(body["accessToken"], "gho_new");
    assert_eq!(body["refreshToken"], "ghr_fake_refresh");
    assert_eq!(body["scope"], "read:user,user:email");
    assert_eq!(body["providerId"], "github");
    assert_eq!(body["accountId"], account_id.as_str());

    f.respond("/github/token", 500, r#"{"error":"server_error"}"#);
    assert_error(
        &t.post_with_cookies("/refresh-token", json!({"accountId": account_id}), &cookies),
        400,
        "FAILED_TO_REFRESH_ACCESS_TOKEN",
    );
    t.clock.advance(time::Duration::hours(9));
    assert_error(
        &t.post_with_cookies("/get-access-token", json!({"accountId": account_id}), &cookies),
        400,
        "FAILED_TO_GET_ACCESS_TOKEN",
    );
}

fn account_selector_errors(t: &TestApp) {
    let f = oauth::fake();
    let t = oauth::app(t.backend, &f, &[]);
    let (_, cookies) = t.sign_up("plain@example.com");
    let credential_id = json_body(&t.get("/list-accounts", Some(&cookies)))[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = t.post_with_cookies("/get-access-token", json!({"accountId": credential_id}), &cookies);
    assert_error(&resp, 400, "PROVIDER_NOT_SUPPORTED");
    assert_eq!(json_body(&resp)["message"], "Provider credential is not supported.");
    assert_error(
        &t.post_with_cookies("/refresh-token", json!({"accountId": credential_id}), &cookies),
        400,
        "PROVIDER_NOT_SUPPORTED",
    );
    for bad in [
        json!({"providerId": "github"}),
        json!({}),
        json!({"accountId": "x", "extra": 1}),
    ] {
        let resp = t.post_with_cookies("/get-access-token", bad, &cookies);
        assert_error(&resp, 400, "VALIDATION_ERROR");
        assert_eq!(json_body(&resp)["message"], "[body] Invalid input");
    }
    assert_error(
        &t.post("/get-access-token", json!({"accountId": "x"})),
        401,
        "UNAUTHORIZED",
    );
    assert_error(
        &t.post("/refresh-token", json!({"accountId": "x"})),
        401,
        "UNAUTHORIZED",
    );
    assert_error(&t.get("/account-info?accountId=x", None), 401, "UNAUTHORIZED");
    assert_error(
        &t.post_with_cookies("/get-access-token", json!({"accountId": "nope"}), &cookies),
        400,
        "ACCOUNT_NOT_FOUND",
    );
    assert_error(
        &t.get("/account-info?useAccountCookie=true", Some(&cookies)),
        400,
        "VALIDATION_ERROR",
    );
    assert_error(
        &t.get(&format!("/account-info?accountId={credential_id}"), Some(&cookies)),
        400,
        "PROVIDER_NOT_CONFIGURED",
    );
    // In-process callers without a session name the user; without either it is a 400.
    let err = t
        .app
        .call("getAccessToken", ApiInput::new().body(json!({"accountId": "x"})))
        .unwrap_err();
    assert_eq!((err.status, err.code.as_ref()), (400, "USER_ID_OR_SESSION_REQUIRED"));
    let user_id = json_body(&t.get("/get-session", Some(&cookies)))["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let err = t
        .app
        .call(
            "getAccessToken",
            ApiInput::new().body(json!({"accountId": credential_id, "userId": user_id})),
        )
        .unwrap_err();
    assert_eq!(err.code, "PROVIDER_NOT_SUPPORTED");
}

fn account_info_reads_the_provider_profile(t: &TestApp) {
    let f = oauth::fake();
    let t = oauth::app(t.backend, &f, &[]);
    let resp = github_sign_in(&t, json!({"provider": "github"}));
    let cookies = cookie_header(&resp);
    let account_id = json_body(&t.get("/list-accounts", Some(&cookies)))[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json_body(&t.get(&format!("/account-info?accountId={account_id}"), Some(&cookies)));
    assert_eq!(body["user"]["name"], "The Octocat");
    assert_eq!(body["user"]["email"], "Octocat@Example.com");
    assert_eq!(body["user"]["emailVerified"], true);
    assert_eq!(body["data"]["login"], "octocat");
    assert_eq!(
        body["account"],
        json!({"id": account_id, "providerId": "github", "accountId": "12345"})
    );
    f.respond("/github/user", 401, "{}");
    assert_error(
        &t.get(&format!("/account-info?accountId={account_id}"), Some(&cookies)),
        401,
        "FAILED_TO_GET_USER_INFO",
    );
}

crate::suite!(
    id_token_sign_in,
    id_token_keys_are_cached_and_refetched_on_rotation,
    list_and_unlink_accounts,
    link_social_flows_and_errors,
    access_and_refresh_tokens,
    account_selector_errors,
    account_info_reads_the_provider_profile,
);
