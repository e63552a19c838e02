//! The OAuth area's variables (read in `mod.rs`).

use super::ClientAuth;
use crate::config::var::{boolean, http_url, positive, text, word_list, Default, Spec, Var};

const fn flag(name: &'static str, default: Default, help: &'static str) -> Var<bool> {
    Var::new(name, default, help, boolean)
}

const fn endpoint(name: &'static str, help: &'static str) -> Var<String> {
    Var::new(name, Default::Computed("provider's"), help, http_url)
}

pub const CLIENT_ID: Var<String> = Var::new(
    "<P>_CLIENT_ID",
    Default::None,
    "Enables built-in provider `<P>`: GITHUB, GOOGLE, DISCORD, GITLAB, MICROSOFT, APPLE, FACEBOOK, TWITTER, LINKEDIN, SLACK (e.g. `GITHUB_CLIENT_ID`)",
    text,
);
pub const CLIENT_SECRET: Var<String> = Var::new(
    "<P>_CLIENT_SECRET",
    Default::None,
    "Its client secret (Apple: the signed client-secret JWT)",
    text,
)
.secret();
pub const MICROSOFT_TENANT: Var<String> = Var::new(
    "MICROSOFT_TENANT_ID",
    Default::Value("common"),
    "Entra ID tenant: common, organizations, consumers or a tenant id",
    text,
);
pub const GITLAB_BASE_URL: Var<String> = Var::new(
    "SESAME_GITLAB_BASE_URL",
    Default::Value("https://gitlab.com"),
    "Self-hosted GitLab: derives all three endpoints",
    http_url,
);
pub const GITHUB_EMAILS_URL: Var<String> = endpoint(
    "SESAME_GITHUB_EMAILS_URL",
    "Override of GitHub's `/user/emails` endpoint",
);
pub const OIDC_PROVIDERS: Var<Vec<String>> = Var::new(
    "SESAME_OIDC_PROVIDERS",
    Default::None,
    "Generic OpenID Connect provider ids, comma separated (`<G>` = `OIDC_<ID>`)",
    word_list,
);
pub const OAUTH2_PROVIDERS: Var<Vec<String>> = Var::new(
    "SESAME_OAUTH2_PROVIDERS",
    Default::None,
    "Generic OAuth 2 provider ids, comma separated (`<G>` = `OAUTH2_<ID>`)",
    word_list,
);
pub const GENERIC_CLIENT_ID: Var<String> = Var::new(
    "SESAME_<G>_CLIENT_ID",
    Default::None,
    "A generic provider's client id (required)",
    text,
);
pub const GENERIC_CLIENT_SECRET: Var<String> =
    Var::new("SESAME_<G>_CLIENT_SECRET", Default::None, "Its client secret", text).secret();
pub const GENERIC_PKCE: Var<bool> = flag("SESAME_<G>_PKCE", Default::Value("true"), "Send a PKCE challenge");
pub const GENERIC_AUTH_METHOD: Var<ClientAuth> = Var::new(
    "SESAME_<G>_AUTH_METHOD",
    Default::Value("post"),
    "How the client authenticates at the token endpoint: `post` or `basic`",
    client_auth,
);
pub const OIDC_DISCOVERY_URL: Var<String> = Var::new(
    "SESAME_OIDC_<ID>_DISCOVERY_URL",
    Default::Computed("from _ISSUER"),
    "Its discovery document (this or `_ISSUER` is required)",
    http_url,
);
pub const OIDC_ISSUER: Var<String> = Var::new(
    "SESAME_OIDC_<ID>_ISSUER",
    Default::None,
    "Its issuer; the discovery document is `<issuer>/.well-known/openid-configuration`",
    http_url,
);
const fn field(name: &'static str, default: &'static str, help: &'static str) -> Var<String> {
    Var::new(name, Default::Value(default), help, text)
}
pub const FIELD_ID: Var<String> = field(
    "SESAME_OAUTH2_<ID>_ID_FIELD",
    "id",
    "User-info field (dotted path) of the user id",
);
pub const FIELD_EMAIL: Var<String> = field("SESAME_OAUTH2_<ID>_EMAIL_FIELD", "email", "… of the email");
pub const FIELD_EMAIL_VERIFIED: Var<String> = field(
    "SESAME_OAUTH2_<ID>_EMAIL_VERIFIED_FIELD",
    "email_verified",
    "… of whether the email is verified",
);
pub const FIELD_NAME: Var<String> = field("SESAME_OAUTH2_<ID>_NAME_FIELD", "name", "… of the name");
pub const FIELD_IMAGE: Var<String> = field("SESAME_OAUTH2_<ID>_IMAGE_FIELD", "picture", "… of the image URL");
pub const SCOPES: Var<Vec<String>> = Var::new(
    "SESAME_<PROVIDER>_SCOPES",
    Default::Computed("provider's"),
    "Built-in: scopes added to the defaults; generic: the scopes requested (OIDC: openid email profile). Comma or space separated",
    word_list,
);
pub const AUTHORIZATION_URL: Var<String> = endpoint(
    "SESAME_<PROVIDER>_AUTHORIZATION_URL",
    "Authorization endpoint override (self-hosted instances, tests); required for OAUTH2 providers",
);
pub const TOKEN_URL: Var<String> = endpoint(
    "SESAME_<PROVIDER>_TOKEN_URL",
    "Token endpoint override; required for OAUTH2 providers",
);
pub const USERINFO_URL: Var<String> = endpoint(
    "SESAME_<PROVIDER>_USERINFO_URL",
    "User-info endpoint override; required for OAUTH2 providers",
);
pub const JWKS_URL: Var<String> = endpoint("SESAME_<PROVIDER>_JWKS_URL", "ID-token key set override");
pub const ID_TOKEN_AUDIENCES: Var<Vec<String>> = Var::new(
    "SESAME_<PROVIDER>_ID_TOKEN_AUDIENCES",
    Default::None,
    "Extra accepted ID-token audiences (mobile client ids, Apple bundle id)",
    word_list,
);
pub const DISABLE_SIGN_UP: Var<bool> = flag(
    "SESAME_<PROVIDER>_DISABLE_SIGN_UP",
    Default::Value("false"),
    "Never create users through this provider",
);
pub const DISABLE_IMPLICIT_SIGN_UP: Var<bool> = flag(
    "SESAME_<PROVIDER>_DISABLE_IMPLICIT_SIGN_UP",
    Default::Value("false"),
    "Create users only when the sign-in asks for it (`requestSignUp`)",
);
pub const TRUSTED_PROVIDERS: Var<Vec<String>> = Var::new(
    "SESAME_TRUSTED_PROVIDERS",
    Default::None,
    "Provider ids whose emails count as verified for account linking, comma separated",
    word_list,
);
pub const ENCRYPT_TOKENS: Var<bool> = flag(
    "SESAME_ENCRYPT_OAUTH_TOKENS",
    Default::Value("false"),
    "Encrypt stored provider tokens (XChaCha20-Poly1305, key from the secret, as Better Auth)",
);
pub const TIMEOUT_MS: Var<u64> = Var::new(
    "SESAME_OAUTH_TIMEOUT_MS",
    Default::Value("10000"),
    "Connect/read timeout of every call to a provider",
    positive,
);

pub const VARIABLES: &[&Spec] = &[
    &CLIENT_ID.spec,
    &CLIENT_SECRET.spec,
    &MICROSOFT_TENANT.spec,
    &GITLAB_BASE_URL.spec,
    &GITHUB_EMAILS_URL.spec,
    &OIDC_PROVIDERS.spec,
    &OAUTH2_PROVIDERS.spec,
    &GENERIC_CLIENT_ID.spec,
    &GENERIC_CLIENT_SECRET.spec,
    &GENERIC_PKCE.spec,
    &GENERIC_AUTH_METHOD.spec,
    &OIDC_DISCOVERY_URL.spec,
    &OIDC_ISSUER.spec,
    &FIELD_ID.spec,
    &FIELD_EMAIL.spec,
    &FIELD_EMAIL_VERIFIED.spec,
    &FIELD_NAME.spec,
    &FIELD_IMAGE.spec,
    &SCOPES.spec,
    &AUTHORIZATION_URL.spec,
    &TOKEN_URL.spec,
    &USERINFO_URL.spec,
    &JWKS_URL.spec,
    &ID_TOKEN_AUDIENCES.spec,
    &DISABLE_SIGN_UP.spec,
    &DISABLE_IMPLICIT_SIGN_UP.spec,
    &TRUSTED_PROVIDERS.spec,
    &ENCRYPT_TOKENS.spec,
    &TIMEOUT_MS.spec,
];

fn client_auth(s: &str) -> Result<ClientAuth, String> {
    match s {
        "post" | "client_secret_post" => Ok(ClientAuth::Post),
        "basic" | "client_secret_basic" => Ok(ClientAuth::Basic),
        _ => Err("must be post or basic".to_string()),
    }
}
