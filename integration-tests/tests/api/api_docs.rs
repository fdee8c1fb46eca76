use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{Stack, concrete};

#[tokio::test]
async fn the_gateway_serves_every_services_description_merged_and_each_documented_route_exists() {
    let stack = Stack::start().await;
    let doc: Value = stack
        .request(1, Method::GET, "/v1/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().expect("paths");
    for expected in [
        "/v1/auth/login",
        "/v1/users/{id}",
        "/v1/roles/{id}/permissions",
        "/v1/users/{id}/roles/{role_id}",
    ] {
        assert!(paths.contains_key(expected), "{expected} documented");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let internal: Vec<&String> = paths
        .keys()
        .filter(|p| p.starts_with("/internal"))
        .collect();
    assert!(
        internal.is_empty(),
        "service-to-service routes are not public: {internal:?}"
    );
    for (path, operations) in paths {
        let concrete = concrete(path);
        for method in operations.as_object().unwrap().keys() {
            let method: Method = method.to_uppercase().parse().unwrap();
            let (status, body) = stack.call(0, method.clone(), &concrete, None, None).await;
            let unknown =
                status == StatusCode::NOT_FOUND && body["error"]["code"] == "route_not_found";
            assert!(!unknown, "{method} {path} is documented but not routed");
        }
    }
}

#[tokio::test]
async fn the_docs_page_works_without_a_cdn() {
    let stack = Stack::start().await;
    let page = stack.request(0, Method::GET, "/docs").send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("/docs/assets/swagger-ui-bundle.js"));
    assert!(!html.contains("https://"), "no asset from another host");
    for asset in ["swagger-ui-bundle.js", "swagger-ui.css", "docs-init.js"] {
        let response = stack
            .request(0, Method::GET, &format!("/docs/assets/{asset}"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{asset} (run `npm ci` in docs/)"
        );
    }
    let response = stack
        .request(0, Method::GET, "/docs/assets/..%2fpackage.json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}
