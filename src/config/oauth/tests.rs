use super::*;

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn builtin_and_generic_providers() {
    let c = OAuthConfig::from_vars(&vars(&[
        ("GITHUB_CLIENT_ID", "gh"),
        ("GITHUB_CLIENT_SECRET", "shh"),
        ("SESAME_GITHUB_SCOPES", "repo,gist"),
        ("SESAME_OIDC_PROVIDERS", "my-idp"),
        ("SESAME_OIDC_MY_IDP_ISSUER", "https://idp.example.com/"),
        ("SESAME_OIDC_MY_IDP_CLIENT_ID", "c"),
        ("SESAME_OAUTH2_PROVIDERS", "corp"),
        ("SESAME_OAUTH2_CORP_CLIENT_ID", "c2"),
        ("SESAME_OAUTH2_CORP_AUTHORIZATION_URL", "https://corp/a"),
        ("SESAME_OAUTH2_CORP_TOKEN_URL", "https://corp/t"),
        ("SESAME_OAUTH2_CORP_USERINFO_URL", "https://corp/u"),
        ("SESAME_OAUTH2_CORP_ID_FIELD", "data.id"),
        ("SESAME_OAUTH2_CORP_AUTH_METHOD", "basic"),
        ("SESAME_TRUSTED_PROVIDERS", "github, corp"),
    ]))
    .unwrap();
    let ids: Vec<&str> = c.providers.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["github", "my-idp", "corp"]);
    assert_eq!(c.providers[0].scopes, ["repo", "gist"]);
    assert_eq!(c.providers[0].client_secret.as_ref().map(Secret::expose), Some("shh"));
    assert!(!format!("{:?}", c.providers[0]).contains("shh"));
    assert_eq!(
        c.providers[1].kind,
        ProviderKind::Oidc {
            discovery_url: "https://idp.example.com/.well-known/openid-configuration".into()
        }
    );
    assert!(
        matches!(&c.providers[2].kind, ProviderKind::OAuth2 { fields } if fields.id == "data.id" && fields.email == "email")
    );
    assert_eq!(c.providers[2].client_auth, ClientAuth::Basic);
    assert_eq!(c.trusted_providers, ["github", "corp"]);
}

#[test]
fn bad_values_name_the_variable() {
    let e = OAuthConfig::from_vars(&vars(&[
        ("SESAME_OIDC_PROVIDERS", "x"),
        ("SESAME_OIDC_X_CLIENT_ID", "c"),
    ]))
    .unwrap_err();
    assert!(e.to_string().contains("SESAME_OIDC_X_DISCOVERY_URL"));
    let e = OAuthConfig::from_vars(&vars(&[("SESAME_OIDC_PROVIDERS", "github")])).unwrap_err();
    assert!(e.to_string().contains("already taken"));
    let e = OAuthConfig::from_vars(&vars(&[("SESAME_OAUTH_TIMEOUT_MS", "0")])).unwrap_err();
    assert!(e.to_string().contains("SESAME_OAUTH_TIMEOUT_MS"));
    let e = OAuthConfig::from_vars(&vars(&[
        ("GOOGLE_CLIENT_ID", "g"),
        ("SESAME_GOOGLE_TOKEN_URL", "ftp://x"),
    ]))
    .unwrap_err();
    assert!(e.to_string().contains("SESAME_GOOGLE_TOKEN_URL"));
}
