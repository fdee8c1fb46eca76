use gateway::ratelimit::{Rate, RateLimits};
use reqwest::{Method, StatusCode};

use std::time::Duration;

use crate::helpers::{Stack, StackOptions, error_code};

/// Counted exactly in Redis (`RATE_LIMIT_SYNC=off`), so a test can assert every header
/// across replicas whatever the machine's load does to the sync timing; the counting in
/// process has its own test below (its bound on overshoot) and unit tests.
fn limits(anon: &str, user: &str, write: &str) -> RateLimits {
    RateLimits {
        anon: Rate::parse(anon).unwrap(),
        user: Rate::parse(user).unwrap(),
        login: Rate::parse("1000/min").unwrap(),
        write: Rate::parse(write).unwrap(),
        sync: None,
    }
}

fn header(response: &reqwest::Response, name: &str) -> Option<u64> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn a_users_limit_is_one_limit_across_both_replicas_with_its_headers() {
    let stack = Stack::start_with(StackOptions {
        rate_limits: limits("1000/min", "6/min", "1000/min"),
        ..Default::default()
    })
    .await;
    let alice = stack.sign_up_and_in("alice").await;
    for n in 0..6u64 {
        let response = stack
            .request((n % 2) as usize, Method::GET, "/v1/auth/me")
            .bearer_auth(&alice.access_token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "request {n}");
        assert_eq!(header(&response, "ratelimit-limit"), Some(6));
        assert_eq!(header(&response, "ratelimit-remaining"), Some(5 - n));
        assert!((1..=60).contains(&header(&response, "ratelimit-reset").unwrap()));
    }
    let response = stack
        .request(1, Method::GET, "/v1/auth/me")
        .bearer_auth(&alice.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&response, "ratelimit-remaining"), Some(0));
    let retry = header(&response, "retry-after").expect("Retry-After");
    assert!((1..=60).contains(&retry));
    assert_eq!(error_code(&response.json().await.unwrap()), "throttled");

    let bob = stack.sign_up_and_in("bob").await;
    assert_eq!(
        stack.me(0, &bob.access_token).await,
        StatusCode::OK,
        "another user has their own allowance"
    );
}

#[tokio::test]
async fn anonymous_callers_are_limited_per_address() {
    let stack = Stack::start_with(StackOptions {
        rate_limits: limits("3/min", "1000/min", "1000/min"),
        ..Default::default()
    })
    .await;
    let jwks = |i: usize, ip: &'static str| {
        stack
            .request(i, Method::GET, "/v1/auth/jwks.json")
            .header("x-forwarded-for", ip)
            .send()
    };
    for n in 0..3 {
        assert_eq!(
            jwks(n % 2, "203.0.113.5").await.unwrap().status(),
            StatusCode::OK
        );
    }
    let response = jwks(0, "203.0.113.5").await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(header(&response, "retry-after").is_some());
    assert_eq!(
        jwks(1, "203.0.113.6").await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn writes_have_a_stricter_limit_than_reads() {
    let stack = Stack::start_with(StackOptions {
        rate_limits: limits("1000/min", "1000/min", "2/min"),
        echo_on_b: true,
        ..Default::default()
    })
    .await;
    let alice = stack.sign_up_and_in("alice").await;
    let token = Some(alice.access_token.as_str());
    for _ in 0..2 {
        assert_eq!(
            stack
                .call(1, Method::POST, "/v1/orders", token, None)
                .await
                .0,
            StatusCode::OK
        );
    }
    assert_eq!(
        stack
            .call(1, Method::POST, "/v1/orders", token, None)
            .await
            .0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        stack
            .call(1, Method::GET, "/v1/orders", token, None)
            .await
            .0,
        StatusCode::OK
    );
}

/// A well-formed access token for `real`'s key and claims but another `jti`, carrying
/// `real`'s signature: a distinct forgery each call, which only the RSA check rejects.
fn forged(real: &str, n: usize) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    let mut parts = real.split('.');
    let (header, claims, signature) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let mut claims: serde_json::Value =
        serde_json::from_slice(&B64.decode(claims).unwrap()).unwrap();
    claims["jti"] = format!("forged-{n}").into();
    format!("{header}.{}.{signature}", B64.encode(claims.to_string()))
}

#[tokio::test]
async fn requests_that_fail_to_authenticate_count_against_the_anonymous_limit_of_their_address() {
    let stack = Stack::start_with(StackOptions {
        rate_limits: limits("9/min", "1000/min", "1000/min"),
        ..Default::default()
    })
    .await;
    let alice = stack.sign_up_and_in("alice").await;
    let bob = stack.sign_up_and_in("bob").await;
    let (status, _) = stack
        .call(
            0,
            Method::POST,
            "/v1/auth/logout",
            Some(&bob.access_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // From one address (named by the trusted proxy): a forged token (a fresh one each
    // time), no token, and the token of a session that has ended, over both replicas.
    let attacker = "203.0.113.66";
    let attempt = |n: usize| {
        let mut request = stack
            .request(n % 2, Method::GET, "/v1/auth/me")
            .header("x-forwarded-for", attacker);
        match n % 3 {
            0 => request = request.bearer_auth(forged(&alice.access_token, n)),
            1 => {}
            _ => request = request.bearer_auth(&bob.access_token),
        }
        request.send()
    };
    for n in 0..9 {
        let response = attempt(n).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {n}");
        assert_eq!(header(&response, "ratelimit-limit"), Some(9), "attempt {n}");
        assert_eq!(
            header(&response, "ratelimit-remaining"),
            Some(8 - n as u64),
            "attempt {n}"
        );
        let expected = ["invalid_token", "missing_token", "session_ended"][n % 3];
        assert_eq!(error_code(&response.json().await.unwrap()), expected);
    }
    for n in 9..15 {
        let response = attempt(n).await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "attempt {n}: over the anonymous limit"
        );
        let retry = header(&response, "retry-after").expect("Retry-After");
        assert!((1..=60).contains(&retry), "{retry}");
        assert_eq!(header(&response, "ratelimit-remaining"), Some(0));
        assert_eq!(error_code(&response.json().await.unwrap()), "throttled");
    }

    // A signed-in user elsewhere is unaffected, on both replicas.
    for i in 0..2 {
        let response = stack
            .request(i, Method::GET, "/v1/auth/me")
            .header("x-forwarded-for", "198.51.100.20")
            .bearer_auth(&alice.access_token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "replica {i}");
    }
}

/// One user hammering both replicas at once, each at a bounded rate: the limit is one limit
/// (a replica alone would allow it whole, the two together twice), and what gets through
/// beyond it stays within the README's bound, (replicas − 1) × rate per replica × 4 ×
/// `RATE_LIMIT_SYNC`.
#[tokio::test]
async fn a_user_hammering_both_replicas_gets_the_limit_plus_at_most_the_stated_overshoot() {
    const LIMIT: u64 = 100;
    const SYNC: Duration = Duration::from_millis(100);
    // Each replica is sent at most one request per tick, in sequence.
    const TICK: Duration = Duration::from_millis(10);
    const PER_REPLICA: usize = 200;
    let stack = Stack::start_with(StackOptions {
        rate_limits: RateLimits {
            sync: Some(SYNC),
            ..limits("1000/min", &format!("{LIMIT}/min"), "1000/min")
        },
        ..Default::default()
    })
    .await;
    let alice = stack.sign_up_and_in("alice").await;
    // All in one fixed window: not within a few seconds of the minute's end.
    let into_minute = shared::time::now_millis() % 60_000;
    if into_minute > 55_000 {
        tokio::time::sleep(Duration::from_millis((60_100 - into_minute) as u64)).await;
    }

    let hammer = |replica: usize| {
        let (stack, token) = (&stack, alice.access_token.clone());
        async move {
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let (mut allowed, mut throttled) = (0u64, 0u64);
            for _ in 0..PER_REPLICA {
                tick.tick().await;
                let response = stack
                    .request(replica, Method::GET, "/v1/auth/me")
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                match response.status() {
                    StatusCode::OK => allowed += 1,
                    StatusCode::TOO_MANY_REQUESTS => {
                        assert_eq!(header(&response, "ratelimit-remaining"), Some(0));
                        assert!((1..=60).contains(&header(&response, "retry-after").unwrap()));
                        throttled += 1;
                    }
                    other => panic!("replica {replica}: {other}"),
                }
            }
            (allowed, throttled)
        }
    };
    let ((a, a_throttled), (b, b_throttled)) = tokio::join!(hammer(0), hammer(1));
    let allowed = a + b;
    let rate = 1.0 / TICK.as_secs_f64();
    let bound = (rate * 4.0 * SYNC.as_secs_f64()) as u64;
    eprintln!("allowed {allowed} ({a} + {b}), limit {LIMIT}, overshoot bound {bound}");
    assert!(
        (LIMIT..=LIMIT + bound).contains(&allowed),
        "allowed {allowed} ({a} + {b}), limit {LIMIT}, overshoot bound {bound}"
    );
    assert!(
        a_throttled > 0 && b_throttled > 0,
        "both replicas refuse once the shared count is over: {a_throttled}, {b_throttled}"
    );
}
