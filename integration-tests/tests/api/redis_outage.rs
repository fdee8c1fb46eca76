use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};

use crate::helpers::{PASSWORD, Stack, StackOptions, error_code};

#[tokio::test]
async fn with_redis_down_protected_routes_fail_closed_and_recover_without_a_restart() {
    let mut stack = Stack::start_with(StackOptions {
        private_redis: true,
        ..Default::default()
    })
    .await;
    let alice = stack.sign_up_and_in("alice").await;
    assert_eq!(stack.me(0, &alice.access_token).await, StatusCode::OK);

    stack.redis().stop();
    for i in 0..2 {
        let started = Instant::now();
        let (status, body) = stack
            .call(
                i,
                Method::GET,
                "/v1/auth/me",
                Some(&alice.access_token),
                None,
            )
            .await;
        assert_eq!(
            status,
            StatusCode::SERVICE_UNAVAILABLE,
            "never 200 without a session check"
        );
        assert_eq!(error_code(&body), "session_store_unavailable");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "answered within the timeout budget: {:?}",
            started.elapsed()
        );
    }
    let (status, _) = stack.login_via(0, "alice", PASSWORD).await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "no sign-in without the session store"
    );

    stack.redis().restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = stack.login_via(1, "alice", PASSWORD).await;
        if status == StatusCode::OK {
            let token = body["access_token"].as_str().unwrap();
            for i in 0..2 {
                let (status, body) = stack
                    .call(i, Method::GET, "/v1/auth/me", Some(token), None)
                    .await;
                assert_eq!(status, StatusCode::OK, "{body}");
            }
            break;
        }
        assert!(
            Instant::now() < deadline,
            "service did not recover: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_redis_slower_than_its_timeout_is_a_503_not_a_hang() {
    let mut stack = Stack::start_with(StackOptions {
        private_redis: true,
        ..Default::default()
    })
    .await;
    let alice = stack.sign_up_and_in("alice").await;
    // Paused far longer than the 200 ms Redis timeout: a gateway that waited for Redis
    // would answer only after the pause, with a 200. A 503 before the pause ends shows it
    // gave up on its own; no tight clock is involved.
    let pause = Duration::from_secs(5);
    let paused_at = Instant::now();
    assert!(
        stack
            .redis()
            .command(&["CLIENT", "PAUSE", &pause.as_millis().to_string(), "ALL"])
            .contains("OK")
    );
    let (status, body) = stack
        .call(
            0,
            Method::GET,
            "/v1/auth/me",
            Some(&alice.access_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(error_code(&body), "session_store_unavailable");
    assert!(paused_at.elapsed() < pause, "answered only after the pause");

    let deadline = Instant::now() + pause + Duration::from_secs(10);
    while stack.me(0, &alice.access_token).await != StatusCode::OK {
        assert!(
            Instant::now() < deadline,
            "the session did not survive the pause"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_redis_restart_costs_no_request_that_arrives_after_redis_is_back() {
    let mut stack = Stack::start_with(StackOptions {
        private_redis: true,
        ..Default::default()
    })
    .await;
    let alice = stack.sign_up_and_in("alice").await;
    for i in 0..2 {
        assert_eq!(stack.me(i, &alice.access_token).await, StatusCode::OK);
    }
    // The test server does not persist by itself: a snapshot keeps the sessions (and the
    // policy version) across the restart, so only the connections are lost.
    assert!(stack.redis().command(&["SAVE"]).contains("OK"));
    // Back once it answers PING; every connection the stack held to it is now dead.
    stack.redis().restart();

    // The very first request through each replica (its per-worker connection) is served.
    for i in 0..2 {
        assert_eq!(
            stack.me(i, &alice.access_token).await,
            StatusCode::OK,
            "the first request through replica {i} after the restart"
        );
    }
    // And auth-service's first Redis command since the restart (the login throttle).
    let (status, body) = stack.login_via(1, "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
