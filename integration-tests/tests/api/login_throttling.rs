use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Stack, error_code};

async fn login_from(
    stack: &Stack,
    i: usize,
    ip: &str,
    account: &str,
    password: &str,
) -> (StatusCode, Option<String>, Value) {
    let response = stack
        .request(i, Method::POST, "/v1/auth/login")
        .header("x-forwarded-for", ip)
        .json(&json!({ "account": account, "password": password }))
        .send()
        .await
        .unwrap();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (response.status(), retry, response.json().await.unwrap())
}

#[tokio::test]
async fn failed_logins_on_an_account_are_throttled_across_both_replicas() {
    let stack = Stack::start().await;
    stack.register("alice").await;
    for attempt in 0..5 {
        let (status, _, _) = login_from(
            &stack,
            attempt % 2,
            "203.0.113.1",
            "alice",
            "wrong password!!",
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    for i in 0..2 {
        let (status, retry, body) = login_from(&stack, i, "198.51.100.7", "alice", PASSWORD).await;
        assert_eq!(
            status,
            StatusCode::TOO_MANY_REQUESTS,
            "even the right password, from elsewhere, via replica {i}"
        );
        assert_eq!(error_code(&body), "login_throttled");
        let retry: u64 = retry.expect("Retry-After").parse().unwrap();
        assert!((1..=900).contains(&retry), "{retry}");
    }
    stack.register("bob").await;
    let (status, _, _) = login_from(&stack, 0, "203.0.113.1", "bob", PASSWORD).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "another account from the same address is not affected"
    );
}

#[tokio::test]
async fn failed_logins_from_one_address_are_throttled_whatever_the_account() {
    let stack = Stack::start().await;
    stack.register("alice").await;
    for n in 0..20 {
        let (status, _, _) = login_from(
            &stack,
            n % 2,
            "203.0.113.9",
            &format!("guess{n}"),
            "wrong password!!",
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {n}");
    }
    let (status, retry, _) = login_from(&stack, 0, "203.0.113.9", "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry.is_some());
    let (status, _, _) = login_from(&stack, 1, "203.0.113.10", "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "other addresses still sign in");
}

#[tokio::test]
async fn a_forged_forwarded_for_entry_does_not_escape_the_limit() {
    let stack = Stack::start().await;
    stack.register("alice").await;
    // With one trusted proxy, only the right-most entry counts; a client prepending
    // addresses cannot rotate its way around the per-address limit.
    for n in 0..20 {
        let ip = format!("10.0.0.{n}, 203.0.113.20");
        let (status, _, _) =
            login_from(&stack, 0, &ip, &format!("guess{n}"), "wrong password!!").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _, _) = login_from(&stack, 1, "10.9.9.9, 203.0.113.20", "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn parallel_guesses_cannot_overshoot_the_limit() {
    let stack = Stack::start().await;
    stack.register("alice").await;
    let attempts =
        (0..12).map(|n| login_from(&stack, n % 2, "203.0.113.30", "alice", "wrong password!!"));
    let results = futures_util::future::join_all(attempts).await;
    let checked = results
        .iter()
        .filter(|(status, _, _)| *status == StatusCode::UNAUTHORIZED)
        .count();
    let throttled = results
        .iter()
        .filter(|(status, _, _)| *status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(
        (checked, throttled),
        (5, 7),
        "exactly the limit of guesses reached the password check"
    );
}
