//! Gateways hold session state in memory: whatever ends a session or changes a user's
//! roles still takes effect on the other replica, and a replica that may have missed the
//! news (its invalidation stream cut) checks Redis instead of serving from memory.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{PASSWORD, Stack, StackOptions};

/// Waits until every gateway serves sessions from memory (its heartbeat comes back).
async fn caching(stack: &Stack) {
    let http = reqwest::Client::new();
    for (name, url) in stack
        .metrics
        .iter()
        .filter(|(n, _)| n.starts_with("gateway"))
    {
        stack
            .eventually(Duration::from_secs(10), name, || async {
                let text = http.get(url).send().await.unwrap().text().await.unwrap();
                text.contains("gateway_session_cache_current 1")
            })
            .await;
    }
}

/// Uses the token on gateway 1 until it holds the session in memory.
async fn warm(stack: &Stack, token: &str) {
    for _ in 0..2 {
        assert_eq!(stack.me(1, token).await, StatusCode::OK);
    }
}

/// Logout or logout-all through gateway 0.
async fn sign_out(stack: &Stack, path: &str, token: &str) {
    let (status, _) = stack.call(0, Method::POST, path, Some(token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{path}");
}

async fn refused_on_1(stack: &Stack, token: &str, what: &str) {
    stack
        .eventually(Duration::from_secs(1), what, || async {
            stack.me(1, token).await == StatusCode::UNAUTHORIZED
        })
        .await;
}

#[tokio::test]
async fn logout_logout_all_a_password_change_and_disabling_hold_on_the_replica_that_holds_the_session()
 {
    let stack = Stack::start().await;
    caching(&stack).await;

    let alice = stack.sign_up_and_in("alice").await;
    warm(&stack, &alice.access_token).await;
    sign_out(&stack, "/v1/auth/logout", &alice.access_token).await;
    refused_on_1(&stack, &alice.access_token, "logout").await;

    let bob = stack.sign_up_and_in("bob").await;
    let (_, other) = stack.login_via(0, "bob", PASSWORD).await;
    let other = other["access_token"].as_str().unwrap().to_owned();
    warm(&stack, &bob.access_token).await;
    let (status, _) = stack
        .call(0, Method::POST, "/v1/auth/logout-all", Some(&other), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    refused_on_1(&stack, &bob.access_token, "logout-all").await;

    let carol = stack.sign_up_and_in("carol").await;
    let (_, here) = stack.login_via(0, "carol", PASSWORD).await;
    let here = here["access_token"].as_str().unwrap().to_owned();
    warm(&stack, &carol.access_token).await;
    warm(&stack, &here).await;
    let (status, body) = stack
        .call(
            0,
            Method::PUT,
            "/v1/auth/password",
            Some(&here),
            Some(json!({ "old_password": PASSWORD, "new_password": "a much better passphrase" })),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    refused_on_1(&stack, &carol.access_token, "password change").await;
    assert_eq!(
        stack.me(1, &here).await,
        StatusCode::OK,
        "the session that changed it"
    );

    let dave = stack.sign_up_and_in("dave").await;
    warm(&stack, &dave.access_token).await;
    stack
        .admin(
            Method::PATCH,
            &format!("/v1/users/{}", dave.user_id),
            Some(json!({ "is_disabled": true })),
            StatusCode::OK,
        )
        .await;
    refused_on_1(&stack, &dave.access_token, "disabled account").await;
}

#[tokio::test]
async fn a_revoked_role_is_refused_on_the_replica_that_holds_the_session() {
    let stack = Stack::start().await;
    caching(&stack).await;
    let alice = stack.sign_up_and_in("alice").await;
    stack
        .set_roles(alice.user_id, &["traveller", "super_admin"])
        .await;
    let users = || stack.call(1, Method::GET, "/v1/users", Some(&alice.access_token), None);
    for _ in 0..2 {
        assert_eq!(users().await.0, StatusCode::OK);
    }
    stack.set_roles(alice.user_id, &["traveller"]).await;
    stack
        .eventually(Duration::from_secs(1), "role revoked", || async {
            users().await.0 == StatusCode::FORBIDDEN
        })
        .await;
}

/// Cut the stream (Redis drops every pub/sub connection) right before a logout, so the
/// other replica never gets the message: it must not serve the ended session from memory.
#[tokio::test]
async fn a_replica_whose_invalidation_stream_is_cut_never_serves_an_ended_session() {
    let stack = Stack::start_with(StackOptions {
        private_redis: true,
        ..Default::default()
    })
    .await;
    for round in 0..3 {
        caching(&stack).await;
        let alice = stack.sign_up_and_in(&format!("alice{round}")).await;
        warm(&stack, &alice.access_token).await;
        let redis = stack.private_redis.as_ref().unwrap();
        redis.command(&["CLIENT", "KILL", "TYPE", "pubsub"]);
        sign_out(&stack, "/v1/auth/logout", &alice.access_token).await;
        for _ in 0..5 {
            assert_eq!(
                stack.me(1, &alice.access_token).await,
                StatusCode::UNAUTHORIZED,
                "round {round}: served from a view that missed the logout"
            );
        }
    }
}

/// Gateway 1 last saw the session longer than the idle timeout ago; gateway 0 kept it
/// alive meanwhile. Gateway 1 asks Redis rather than refusing on its own view.
#[tokio::test]
async fn a_session_kept_alive_on_one_replica_is_live_on_the_other() {
    let idle = Duration::from_secs(2);
    let stack = Stack::start_with(StackOptions {
        idle_timeout: idle,
        ..Default::default()
    })
    .await;
    caching(&stack).await;
    let alice = stack.sign_up_and_in("alice").await;
    warm(&stack, &alice.access_token).await;
    let until = std::time::Instant::now() + idle * 2;
    while std::time::Instant::now() < until {
        assert_eq!(stack.me(0, &alice.access_token).await, StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(stack.me(1, &alice.access_token).await, StatusCode::OK);
}
