//! The open-api plugin: a valid OpenAPI 3.1 document of every route, and a self-contained
//! reference page.

use std::process::Command;

use sesame::plugins::{open_api, ALL_PLUGINS};

use crate::support::{body_text, json_body, Backend, TestApp};

fn all_plugins_app() -> TestApp {
    TestApp::with_config(Backend::Memory, |c| {
        c.plugins = ALL_PLUGINS.iter().map(|p| p.id.to_string()).collect()
    })
}

#[test]
fn every_route_of_every_plugin_is_documented_from_its_declaration() {
    let t = all_plugins_app();
    let doc = open_api::generate(&t.app);
    for route in t.app.router.routes() {
        assert!(
            !route.summary.is_empty(),
            "{} ({}) has no summary",
            route.key,
            route.path
        );
        let path = route
            .path
            .split('/')
            .map(|s| s.strip_prefix(':').map(|p| format!("{{{p}}}")).unwrap_or(s.to_string()))
            .collect::<Vec<_>>()
            .join("/");
        let op = &doc["paths"][&path][route.method.as_str().to_ascii_lowercase()];
        assert_eq!(op["summary"], route.summary, "{path}");
        for field in route.query.fields() {
            let params = op["parameters"].as_array().unwrap();
            assert!(params.iter().any(|p| p["name"] == field.name), "{path}: {}", field.name);
        }
        let errors =
            &op["responses"]["400"]["content"]["application/json"]["schema"]["allOf"][1]["properties"]["code"]["enum"];
        for code in route.errors {
            assert!(
                errors.as_array().unwrap().iter().any(|c| c == code.code),
                "{path}: {}",
                code.code
            );
        }
    }
    // The username plugin's codes are among the documented ones.
    let examples = &doc["components"]["schemas"]["Error"]["properties"]["code"]["examples"];
    assert!(examples
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "USERNAME_IS_ALREADY_TAKEN"));
}

#[test]
fn document_lists_every_route_with_its_body() {
    let t = all_plugins_app();
    let resp = t.get("/open-api/generate-schema", None);
    assert_eq!(resp.status, 200);
    let doc = json_body(&resp);
    assert_eq!(doc["openapi"], "3.1.0");
    for route in t.app.router.routes() {
        let path = route
            .path
            .split('/')
            .map(|s| s.strip_prefix(':').map(|p| format!("{{{p}}}")).unwrap_or(s.to_string()))
            .collect::<Vec<_>>()
            .join("/");
        let op = &doc["paths"][&path][route.method.as_str().to_ascii_lowercase()];
        assert_eq!(op["operationId"], route.key, "{path}");
    }
    let sign_up = &doc["paths"]["/sign-up/email"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(sign_up["required"], serde_json::json!(["name", "email", "password"]));
    assert!(
        doc["paths"]["/sign-up/email"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
            .is_object()
    );
    let codes = &doc["paths"]["/sign-in/email"]["post"]["responses"]["400"]["content"]["application/json"]["schema"]
        ["allOf"][1]["properties"]["code"]["enum"];
    assert!(codes
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "INVALID_EMAIL_OR_PASSWORD"));
}

#[test]
fn document_validates_with_an_independent_validator() {
    let t = all_plugins_app();
    let doc = json_body(&t.get("/open-api/generate-schema", None));
    let available = Command::new("python3")
        .args(["-c", "import openapi_spec_validator"])
        .status()
        .is_ok_and(|s| s.success());
    if !available {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have openapi-spec-validator (pip install openapi-spec-validator)"
        );
        eprintln!("SKIP: python3 openapi-spec-validator is not installed; the OpenAPI document was not validated");
        return;
    }
    let path = std::env::temp_dir().join(format!("sesame-openapi-{}.json", std::process::id()));
    std::fs::write(&path, doc.to_string()).unwrap();
    let out = Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "validator: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn reference_page_is_self_contained() {
    let t = all_plugins_app();
    let resp = t.get("/reference", None);
    assert_eq!(resp.status, 200);
    assert!(resp.header("content-type").unwrap().starts_with("text/html"));
    let html = body_text(&resp);
    assert!(html.contains("/api/auth/open-api/generate-schema"));
    for external in ["<script src", "<link", "http://", "https://"] {
        assert!(
            !html.contains(external),
            "reference page loads something external: {external}"
        );
    }
}

#[test]
fn routes_are_absent_unless_enabled() {
    let t = TestApp::new(Backend::Memory);
    assert_eq!(t.get("/open-api/generate-schema", None).status, 404);
    assert!(t.app.call("generateOpenAPISchema", sesame::ApiInput::new()).is_err());
    let t = all_plugins_app();
    assert_eq!(
        t.app.call("generateOpenAPISchema", sesame::ApiInput::new()).unwrap()["openapi"],
        "3.1.0"
    );
}
