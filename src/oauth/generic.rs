//! Generic providers: OpenID Connect by discovery document, and plain OAuth 2 with a field
//! mapping of the user-info answer (Better Auth's `genericOAuth` plugin, whose providers are
//! first-class social providers: `/sign-in/social` and `/callback/:id` serve them).

use serde_json::{Map, Value};

use super::config::FieldMap;
use super::http::Client;
use super::providers::string_boolean;
use super::tokens::Tokens;
use super::UserInfo;

/// What a discovery document contributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    pub issuer: String,
    pub authorization: String,
    pub token: String,
    pub userinfo: Option<String>,
    pub jwks: Option<String>,
    pub algorithms: Vec<String>,
}

/// Fetches and checks a discovery document.
pub fn discover(http: &Client, url: &str) -> anyhow::Result<Discovered> {
    let doc = http.get_json(url, None, &[])?;
    let field = |k: &str| {
        doc.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let absolute = |k: &str| -> anyhow::Result<Option<String>> {
        match field(k) {
            None => Ok(None),
            Some(v) => Ok(Some(url::Url::parse(url)?.join(&v)?.to_string())),
        }
    };
    let issuer = field("issuer").ok_or_else(|| anyhow::anyhow!("discovery document has no issuer"))?;
    Ok(Discovered {
        authorization: absolute("authorization_endpoint")?
            .ok_or_else(|| anyhow::anyhow!("discovery document has no authorization_endpoint"))?,
        token: absolute("token_endpoint")?
            .ok_or_else(|| anyhow::anyhow!("discovery document has no token_endpoint"))?,
        userinfo: absolute("userinfo_endpoint")?,
        jwks: absolute("jwks_uri")?,
        algorithms: doc
            .get("id_token_signing_alg_values_supported")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default(),
        issuer,
    })
}

/// Follows a dotted path (`data.id`) into a JSON value.
pub fn path<'a>(v: &'a Value, dotted: &str) -> Option<&'a Value> {
    dotted.split('.').try_fold(v, |cur, key| cur.get(key))
}

fn text(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// The profile of an OIDC provider: the verified ID-token claims when they carry `sub` and
/// `email`, else the user-info endpoint (whose `sub` must then match the token's).
pub fn oidc_user_info(
    http: &Client,
    userinfo: Option<&str>,
    tokens: &Tokens,
    claims: Option<&Value>,
) -> anyhow::Result<UserInfo> {
    let from_claims = claims.filter(|c| text(c.get("sub")).is_some() && text(c.get("email")).is_some());
    let profile = match from_claims {
        Some(c) => c.clone(),
        None => {
            let url = userinfo.ok_or_else(|| anyhow::anyhow!("no email in the id_token and no userinfo endpoint"))?;
            let access = tokens
                .access_token
                .as_deref()
                .ok_or_else(|| anyhow::anyhow!("no access token"))?;
            let p = http.get_json(url, Some(access), &[])?;
            if let Some(sub) = claims.and_then(|c| text(c.get("sub"))) {
                anyhow::ensure!(
                    text(p.get("sub")).as_deref() == Some(sub.as_str()),
                    "userinfo sub does not match the id_token"
                );
            }
            p
        }
    };
    Ok(UserInfo {
        subject: text(profile.get("sub")).unwrap_or_default(),
        name: text(profile.get("name")).unwrap_or_default(),
        email: text(profile.get("email")),
        email_verified: string_boolean(profile.get("email_verified")),
        image: text(profile.get("picture")),
        data: match from_claims {
            Some(_) => profile_from_claims(&profile),
            None => profile_from_userinfo(profile),
        },
    })
}

/// The profile of a plain OAuth 2 provider, read through its field mapping.
pub fn oauth2_user_info(http: &Client, userinfo: &str, tokens: &Tokens, fields: &FieldMap) -> anyhow::Result<UserInfo> {
    let access = tokens
        .access_token
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("no access token"))?;
    // The mapping reads the answer as sent; `data` is the merged profile.
    let answer = http.get_json(userinfo, Some(access), &[])?;
    Ok(UserInfo {
        subject: text(path(&answer, &fields.id)).unwrap_or_default(),
        name: text(path(&answer, &fields.name)).unwrap_or_default(),
        email: text(path(&answer, &fields.email)),
        email_verified: string_boolean(path(&answer, &fields.email_verified)),
        image: text(path(&answer, &fields.image)),
        data: profile_from_userinfo(answer),
    })
}

/// The profile Better Auth's generic OAuth plugin builds from ID-token claims
/// (`fetchUserInfo`), which `/account-info` answers as `data`: `id` (the subject),
/// `emailVerified` and `image` (the `picture` claim) first, then every claim.
fn profile_from_claims(claims: &Value) -> Value {
    let Some(c) = claims.as_object() else {
        return claims.clone();
    };
    let mut out = Map::new();
    out.insert("id".into(), c.get("sub").cloned().unwrap_or(Value::Null));
    out.insert(
        "emailVerified".into(),
        Value::Bool(string_boolean(c.get("email_verified"))),
    );
    if let Some(p) = c.get("picture") {
        out.insert("image".into(), p.clone());
    }
    for (k, v) in c {
        out.insert(k.clone(), v.clone());
    }
    Value::Object(out)
}

/// The same profile from a user-info answer: the answer with `emailVerified` added and `image`
/// set to its `picture`. A key whose value would be JavaScript's `undefined` is left out, as
/// `JSON.stringify` leaves it out.
fn profile_from_userinfo(answer: Value) -> Value {
    let Value::Object(mut out) = answer else {
        return answer;
    };
    let verified = string_boolean(out.get("email_verified"));
    out.insert("emailVerified".into(), Value::Bool(verified));
    match out.get("picture").cloned() {
        Some(p) => {
            out.insert("image".into(), p);
        }
        None => {
            out.shift_remove("image");
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_merged_as_better_auth_merges_them() {
        let claims = serde_json::json!({"iss": "https://idp", "sub": "s1", "email": "a@b.co", "email_verified": "true", "name": "A"});
        assert_eq!(
            profile_from_claims(&claims).to_string(),
            r#"{"id":"s1","emailVerified":true,"iss":"https://idp","sub":"s1","email":"a@b.co","email_verified":"true","name":"A"}"#
        );
        let with_picture = serde_json::json!({"sub": "s1", "picture": "https://p/x.png"});
        assert_eq!(
            profile_from_claims(&with_picture).to_string(),
            r#"{"id":"s1","emailVerified":false,"image":"https://p/x.png","sub":"s1","picture":"https://p/x.png"}"#
        );
        let answer = serde_json::json!({"sub": "s1", "image": "stale", "email": "a@b.co", "email_verified": true});
        assert_eq!(
            profile_from_userinfo(answer).to_string(),
            r#"{"sub":"s1","email":"a@b.co","email_verified":true,"emailVerified":true}"#
        );
        let answer = serde_json::json!({"data": {"id": 7}, "picture": null});
        assert_eq!(
            profile_from_userinfo(answer).to_string(),
            r#"{"data":{"id":7},"picture":null,"emailVerified":false,"image":null}"#
        );
    }

    #[test]
    fn dotted_paths() {
        let v = serde_json::json!({"data": {"id": 7, "profile": {"mail": "a@b.c"}}});
        assert_eq!(text(path(&v, "data.id")).as_deref(), Some("7"));
        assert_eq!(text(path(&v, "data.profile.mail")).as_deref(), Some("a@b.c"));
        assert!(path(&v, "data.nope").is_none());
    }
}
