//! A role change is in force from the user's very next request, on every gateway, even
//! when Redis fails in the middle of it: a change whose roles cache cannot be fenced is
//! refused (nothing changes), never committed behind a stale cache.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{Stack, StackOptions, error_code};

#[tokio::test]
async fn a_revocation_redis_cannot_fence_is_refused_and_changes_nothing() {
    let stack = Stack::start_with(StackOptions {
        private_redis: true,
        ..Default::default()
    })
    .await;
    let alice = stack.sign_up_and_in("alice").await;
    stack
        .set_roles(alice.user_id, &["traveller", "super_admin"])
        .await;
    let users = |gateway| {
        stack.call(
            gateway,
            Method::GET,
            "/v1/users",
            Some(&alice.access_token),
            None,
        )
    };
    assert_eq!(users(0).await.0, StatusCode::OK, "her roles are cached");
    let revoke = format!(
        "/v1/users/{}/roles/{}",
        alice.user_id,
        stack.role_id("super_admin").await
    );

    // Redis stops answering while the admin revokes (straight at rbac-service: a gateway
    // would refuse the admin's own request first).
    let redis = stack.private_redis.as_ref().unwrap();
    redis.command(&["CLIENT", "PAUSE", "1500", "ALL"]);
    let response = stack
        .http
        .delete(format!("{}{revoke}", stack.rbac_url))
        .header("x-waypoint-internal", &stack.internal_token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    // PING answers once the pause is over.
    assert!(redis.command(&["PING"]).contains("PONG"));
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(error_code(&body), "redis_unavailable");

    // Refused means refused: she still holds the role, in the database and at the gateway.
    let names = stack.role_names(alice.user_id).await;
    assert_eq!(names, ["super_admin", "traveller"]);
    assert_eq!(users(1).await.0, StatusCode::OK);

    // With Redis back the same revocation goes through and holds from her next request.
    stack
        .admin(Method::DELETE, &revoke, None, StatusCode::NO_CONTENT)
        .await;
    assert_eq!(users(0).await.0, StatusCode::FORBIDDEN);
    assert_eq!(users(1).await.0, StatusCode::FORBIDDEN);
}
