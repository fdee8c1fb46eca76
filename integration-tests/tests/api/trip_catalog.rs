//! The trips catalog behind the gateway: browsing is public, everything else needs a
//! signed-in user, and writing trips needs a catalog role.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use shared::config::Secret;
use shared::testing::{RedisServer, TestDatabase, free_port};

use crate::helpers::{Stack, StackOptions, error_code};

/// The stack with recommend-service behind its gateways; returns the service's own URL.
async fn stack_with_recommend() -> (Stack, TestDatabase, String) {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let extra_routes = gateway::config::recommend_routes(&url)
        .into_iter()
        .map(|r| (r.pattern, r.upstream))
        .collect();
    let stack = Stack::start_with(StackOptions {
        extra_routes,
        ..Default::default()
    })
    .await;
    let db = TestDatabase::new();
    let app = recommend_service::Application::build(recommend_service::Settings {
        bind_addr: format!("127.0.0.1:{port}"),
        workers: 1,
        database_url: db.url.clone(),
        database_pool_size: 4,
        redis: RedisServer::shared().settings(),
        internal_token: Secret::new(stack.internal_token.clone()),
        cache_ttl: Duration::from_secs(60),
        model_refresh_interval: Duration::from_secs(3600),
        min_profile: 3,
    })
    .await
    .expect("recommend-service starts");
    tokio::spawn(app.run_until_stopped());
    (stack, db, url)
}

#[tokio::test]
async fn browsing_is_public_and_changing_the_catalog_is_not() {
    let (stack, _db, recommend) = stack_with_recommend().await;
    // A trip, created as a product admin would be forwarded (RBAC adds the role header).
    let trip: serde_json::Value = stack
        .http
        .post(format!("{recommend}/v1/trips"))
        .header("x-waypoint-internal", &stack.internal_token)
        .header("x-user-id", "1")
        .header("x-session-id", "s")
        .header("x-user-roles", "product_admin")
        .json(&json!({ "title": "Lijiang", "destination": "Lijiang", "price_cents": 1000, "duration_days": 2 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = trip["id"].as_i64().unwrap();

    for path in [
        "/v1/trips".to_owned(),
        format!("/v1/trips/{id}"),
        format!("/v1/trips/{id}/similar"),
    ] {
        let (status, body) = stack.call(1, Method::GET, &path, None, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }

    let body = json!({ "title": "x", "destination": "y", "price_cents": 1, "duration_days": 1 });
    let anonymous = [
        (Method::POST, "/v1/trips".to_owned()),
        (Method::PUT, format!("/v1/trips/{id}")),
        (Method::PATCH, format!("/v1/trips/{id}")),
        (Method::DELETE, format!("/v1/trips/{id}")),
        (Method::POST, format!("/v1/trips/{id}/favourite")),
        (Method::GET, "/v1/ratings".to_owned()),
        (Method::POST, "/v1/ratings".to_owned()),
        (Method::GET, "/v1/recommendations".to_owned()),
    ];
    for (method, path) in &anonymous {
        let (status, response) = stack
            .call(0, method.clone(), path, None, Some(body.clone()))
            .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: {response}"
        );
        assert_eq!(error_code(&response), "missing_token", "{method} {path}");
    }

    let traveller = stack.sign_up_and_in("lily").await;
    let token = Some(traveller.access_token.as_str());
    for (method, path) in &anonymous[..4] {
        let (status, response) = stack
            .call(1, method.clone(), path, token, Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {response}");
        assert_eq!(error_code(&response), "forbidden");
    }
    let (status, rated) = stack
        .call(
            0,
            Method::POST,
            "/v1/ratings",
            token,
            Some(json!({ "trip_id": id, "score": 5 })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rated}");
    let (status, list) = stack
        .call(1, Method::GET, "/v1/recommendations", token, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let (status, mine) = stack.call(1, Method::GET, "/v1/ratings", token, None).await;
    assert_eq!((status, mine["count"].as_i64()), (StatusCode::OK, Some(1)));
}
