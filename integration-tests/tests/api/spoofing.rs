use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::Stack;

#[tokio::test]
async fn client_sent_identity_headers_are_ignored() {
    let stack = Stack::start().await;
    let alice = stack.sign_up_and_in("alice").await;
    let bob = stack.sign_up_and_in("bob").await;

    let response = stack
        .request(0, Method::GET, "/v1/auth/me")
        .header("x-user-id", alice.user_id.to_string())
        .header("x-session-id", "0".repeat(32))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "no token, no identity"
    );

    let me: Value = stack
        .request(1, Method::GET, "/v1/auth/me")
        .bearer_auth(&bob.access_token)
        .header("x-user-id", alice.user_id.to_string())
        .header("X-User-Roles", "super_admin")
        .header("x-waypoint-internal", "guess")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        me["account"], "bob",
        "the token decides who you are, not a header"
    );
}

#[tokio::test]
async fn an_access_token_in_the_url_is_not_accepted() {
    let stack = Stack::start().await;
    let alice = stack.sign_up_and_in("alice").await;
    let path = format!("/v1/auth/me?access_token={}", alice.access_token);
    let (status, _) = stack.call(0, Method::GET, &path, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn services_believe_identity_headers_only_with_the_internal_token() {
    let stack = Stack::start().await;
    let alice = stack.sign_up_and_in("alice").await;
    let direct = |token: Option<&str>| {
        let mut request = stack
            .http
            .get(format!("{}/v1/auth/me", stack.auth_url))
            .header("x-user-id", alice.user_id.to_string())
            .header("x-session-id", "0".repeat(32));
        if let Some(token) = token {
            request = request.header("x-waypoint-internal", token);
        }
        request.send()
    };
    assert_eq!(
        direct(None).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        direct(Some("wrong")).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        direct(Some(&stack.internal_token)).await.unwrap().status(),
        StatusCode::OK
    );
}
