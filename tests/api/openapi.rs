//! The OpenAPI document and the offline playground.

use reqwest::Method;
use serde_json::Value;

use crate::api::call;
use crate::helpers::{TestApp, client};

/// Every route of SPEC §6 and §12 under `/api/v1`.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/me"),
    ("get", "/api/v1/tokens"),
    ("post", "/api/v1/tokens"),
    ("get", "/api/v1/tokens/{id}"),
    ("patch", "/api/v1/tokens/{id}"),
    ("delete", "/api/v1/tokens/{id}"),
    ("post", "/api/v1/tokens/{id}/regenerate"),
    ("post", "/api/v1/tokens/{id}/roll"),
    ("post", "/api/v1/tokens/{id}/end-overlap"),
    ("post", "/api/v1/tokens/{id}/revoke"),
    ("post", "/api/v1/tokens/{id}/reactivate"),
    ("get", "/api/v1/tokens/{id}/usage"),
    ("get", "/api/v1/channels"),
    ("get", "/api/v1/channels/{id}"),
    ("post", "/api/v1/verify"),
    ("get", "/api/v1/forward-auth"),
    ("get", "/api/v1/auth-request"),
    ("get", "/api/v1/webhooks"),
    ("post", "/api/v1/webhooks"),
    ("get", "/api/v1/webhooks/{id}"),
    ("patch", "/api/v1/webhooks/{id}"),
    ("delete", "/api/v1/webhooks/{id}"),
    ("post", "/api/v1/webhooks/{id}/test"),
    ("get", "/api/v1/webhooks/{id}/deliveries"),
];

#[tokio::test]
async fn every_api_route_is_in_the_openapi_3_1_document_with_the_bearer_scheme() {
    let app = TestApp::spawn().await;
    let slug = app.setup().await.1;
    let (_, admin) = app.create_token(&slug, &["admin"], |_| {}).await;
    let res = client()
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let doc: Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["type"],
        "http"
    );
    let paths = doc["paths"].as_object().unwrap();
    for (method, path) in ROUTES {
        let op = &paths[*path][*method];
        assert!(op.is_object(), "{method} {path} is documented");
        assert_eq!(
            op["security"][0]["bearer"],
            serde_json::json!([]),
            "{method} {path} needs the bearer"
        );
        assert!(
            op["responses"]["401"].is_object(),
            "{method} {path} documents 401"
        );
        // …and the route really exists: it answers something other than 404/405 route misses.
        let concrete = path.replace("{id}", "nope");
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let body = matches!(*method, "post" | "patch").then(|| serde_json::json!({}));
        let res = call(&app, m, &concrete, Some(&admin), body).await;
        assert_ne!(res.status(), 405, "{method} {path}");
        if !path.contains("{id}") {
            assert_ne!(res.status(), 404, "{method} {path}");
        }
    }
    // Nothing documented that the spec does not list.
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(documented, ROUTES.len());
}

#[tokio::test]
async fn the_playground_is_served_with_its_assets_and_the_error_codes() {
    let app = TestApp::spawn().await;
    let html = client()
        .get(app.url("/docs/api"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for code in [
        "missing_token",
        "invalid_token",
        "token_revoked",
        "token_expired",
        "ip_not_allowed",
        "insufficient_permission",
        "channel_not_allowed",
        "rate_limited",
        "validation_failed",
    ] {
        assert!(html.contains(&format!("id=\"error-{code}\"")), "{code}");
    }
    for asset in [
        "/static/swagger/swagger-ui-bundle.js",
        "/static/swagger/swagger-ui.css",
        "/static/docs.js",
    ] {
        assert!(html.contains(asset));
        let res = client().get(app.url(asset)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{asset}");
        assert!(res.bytes().await.unwrap().len() > 500);
    }
    assert!(!html.contains("https://"), "no external asset");
}

#[tokio::test]
async fn the_token_bodies_list_this_deployments_permissions() {
    let app = TestApp::spawn_with(|c| {
        c.permission_catalog =
            keyward::domain::permissions::Catalog::parse_spec("orders:read=Read orders").unwrap();
    })
    .await;
    let doc = app.get_json("/api/openapi.json").await;
    for body in ["TokenCreate", "TokenUpdate"] {
        let codes =
            &doc["components"]["schemas"][body]["properties"]["permissions"]["items"]["enum"];
        assert_eq!(
            codes,
            &serde_json::json!([
                "orders:read",
                "tokens:read",
                "tokens:write",
                "tokens:delete",
                "tokens:verify",
                "admin"
            ]),
            "{body}"
        );
    }
    assert_eq!(
        doc["components"]["schemas"]["TokenCreate"]["required"],
        serde_json::json!(["name", "permissions"])
    );
}
