use gateway::ratelimit::{Rate, RateLimits};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Stack, StackOptions};

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

#[tokio::test]
async fn a_caller_reaching_a_gateway_directly_cannot_pick_its_own_address() {
    let stack = Stack::start_with(StackOptions {
        // Counted exactly (`RATE_LIMIT_SYNC=off`): each request sees the other replica's
        // counts at once; the counting in process is tested in `rate_limits`.
        rate_limits: RateLimits {
            anon: Rate::parse("4/min").unwrap(),
            sync: None,
            ..StackOptions::default().rate_limits
        },
        ..Default::default()
    })
    .await;
    stack.register("mallory").await;
    // Not the trusted proxy (127.0.0.1): another loopback address, straight to a gateway.
    let direct = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();

    // The session records the caller's own address, not the one it claims.
    let signed_in = direct
        .post(format!("{}/v1/auth/login", stack.gw(0)))
        .header("x-forwarded-for", "198.51.100.99")
        .json(&json!({ "account": "mallory", "password": PASSWORD }))
        .send();
    let login: Value = signed_in.await.unwrap().json().await.unwrap();
    let token = login["access_token"].as_str().expect("signed in");
    let (_, sessions) = stack
        .call(0, Method::GET, "/v1/auth/sessions", Some(token), None)
        .await;
    assert_eq!(sessions["results"][0]["ip"], "127.0.0.2", "{sessions}");

    // A new address in X-Forwarded-For on every request does not make a new allowance.
    let jwks = |n: u8| {
        direct
            .get(format!(
                "{}/v1/auth/jwks.json",
                stack.gw(usize::from(n % 2))
            ))
            .header("x-forwarded-for", format!("198.51.100.{n}"))
            .send()
    };
    // Alternating replicas: one count for the caller's own address across both.
    for n in 0..3 {
        assert_eq!(jwks(n).await.unwrap().status(), StatusCode::OK, "{n}");
    }
    assert_eq!(
        jwks(3).await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the fifth request from 127.0.0.2 in the window, whatever it claimed"
    );
    // The trusted proxy naming 127.0.0.2 finds that same address throttled.
    let via_proxy = stack
        .request(1, Method::GET, "/v1/auth/jwks.json")
        .header("x-forwarded-for", "127.0.0.2")
        .send()
        .await
        .unwrap();
    assert_eq!(via_proxy.status(), StatusCode::TOO_MANY_REQUESTS);
}
