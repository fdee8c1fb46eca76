//! No service trusts the network: every path of every service but the health checks refuses
//! a request that does not carry the internal token, whoever reaches the port.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use shared::testing::{ReservedPort, TestDatabase};

use crate::helpers::{Stack, StackOptions, concrete, error_code};

/// The service-to-service routes (the gateway never routes them, so no policy lists them).
const INTERNAL_PATHS: &[&str] = &[
    "/internal/users",
    "/internal/policy",
    "/internal/users/{id}/roles",
    "/internal/roles/{name}/users",
    "/internal/trips/{id}",
    "/internal/signals",
    "/internal/model/rebuild",
    "/internal/chat/stats",
];

/// Paths no service routes: refused before routing all the same.
const UNROUTED_PATHS: &[&str] = &[
    "/",
    "/openapi.json",
    "/no/such/route",
    "/healthz/x",
    "/HEALTHZ",
];

const METHODS: [Method; 7] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
];

async fn get_json(stack: &Stack, url: &str) -> Value {
    let response = stack
        .http
        .get(url)
        .header("x-waypoint-internal", &stack.internal_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{url} with the token");
    response.json().await.unwrap()
}

#[tokio::test]
async fn every_route_of_every_service_but_the_health_checks_needs_the_internal_token() {
    let stack = Stack::start_with(StackOptions {
        payments: true,
        ..Default::default()
    })
    .await;
    let chat_port = ReservedPort::new();
    let chat_url = format!("http://127.0.0.1:{}", chat_port.port());
    let chat_db = TestDatabase::new();
    stack
        .start_chat_replica(chat_port.into_listener(), &chat_db)
        .await;
    let services = [
        ("auth-service", stack.auth_url.clone()),
        ("rbac-service", stack.rbac_url.clone()),
        ("payment-service", stack.payment_url.clone().unwrap()),
        ("recommend-service", stack.recommend_url.clone().unwrap()),
        ("chat-service", chat_url),
    ];

    // Every public route of the platform (the policy has a resource for each), every
    // route each service documents, the internal ones and some that no service routes;
    // each is tried on every service, since the check runs before routing.
    let policy = get_json(&stack, &format!("{}/internal/policy", stack.rbac_url)).await;
    let mut patterns: BTreeSet<String> = policy["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["pattern"].as_str().unwrap().to_owned())
        .collect();
    assert!(patterns.len() > 30, "the seeded policy covers the platform");
    for (_, base) in &services {
        let doc = get_json(&stack, &format!("{base}/openapi.json")).await;
        patterns.extend(doc["paths"].as_object().unwrap().keys().cloned());
    }
    patterns.extend(INTERNAL_PATHS.iter().map(|p| p.to_string()));
    patterns.extend(UNROUTED_PATHS.iter().map(|p| p.to_string()));

    let mut answered = Vec::new();
    for (service, base) in &services {
        for probe in ["/healthz", "/readyz"] {
            let response = stack.http.get(format!("{base}{probe}")).send().await;
            assert_eq!(
                response.unwrap().status(),
                StatusCode::OK,
                "{service} {probe} is open to probes"
            );
        }
        for pattern in &patterns {
            let url = format!("{base}{}", concrete(pattern));
            for method in METHODS {
                for token in [None, Some("not-the-token")] {
                    let mut request = stack.http.request(method.clone(), &url);
                    if let Some(token) = token {
                        request = request.header("x-waypoint-internal", token);
                    }
                    // The identity headers a gateway would set change nothing either.
                    let response = request
                        .header("x-user-id", "1")
                        .header("x-session-id", "0".repeat(32))
                        .header("x-user-roles", "super_admin")
                        .send()
                        .await
                        .unwrap();
                    let status = response.status();
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    let refused = status == StatusCode::UNAUTHORIZED
                        && (method == Method::HEAD
                            || error_code(&body) == "internal_token_required");
                    if !refused {
                        answered.push(format!("{service}: {method} {pattern} → {status}"));
                    }
                }
            }
        }
    }
    assert!(
        answered.is_empty(),
        "answered without the token: {answered:#?}"
    );

    // The same calls with the token reach the services (the refusals above were the
    // token's doing, not a dead service).
    let members = get_json(
        &stack,
        &format!("{}/internal/roles/super_admin/users", stack.rbac_url),
    )
    .await;
    assert!(!members["user_ids"].as_array().unwrap().is_empty());
}
