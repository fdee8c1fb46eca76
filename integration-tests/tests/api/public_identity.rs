//! "Public" means "no credentials needed", not "credentials ignored": on a public route a
//! valid token still identifies the caller to the service, and a bad one is a 401.

use std::time::{Duration, Instant};

use recommend_service::models::Signal;
use reqwest::{Method, StatusCode};

use crate::helpers::{Stack, StackOptions, error_code};
use crate::trip_catalog::create_trip;

/// The (trip, kind) signals recommend-service holds for `user_id`.
async fn signals_of(stack: &Stack, user_id: i64) -> Vec<(i64, String)> {
    let url = stack.recommend_db_url.clone().unwrap();
    let db = shared::db::Db::open(url, 1, recommend_service::startup::MIGRATIONS)
        .await
        .unwrap();
    db.run(move |conn| Ok(Signal::of_user(conn, user_id)?))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_signed_in_view_of_a_trip_through_the_gateway_becomes_a_view_signal() {
    let stack = Stack::start_with(StackOptions {
        recommend: true,
        ..Default::default()
    })
    .await;
    let curator = stack.sign_up_and_in("curator").await;
    stack.set_roles(curator.user_id, &["product_admin"]).await;
    let trip = create_trip(&stack, &curator.access_token, "Tiger Leaping Gorge", 50_000).await;
    let trip_id = trip["id"].as_i64().unwrap();
    let path = format!("/v1/trips/{trip_id}");
    let lily = stack.sign_up_and_in("lily").await;
    let mallory = stack.sign_up_and_in("mallory").await;

    let (status, body) = stack.call(1, Method::GET, &path, None, None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "anonymous browsing stays open: {body}"
    );
    let (status, body) = stack
        .call(1, Method::GET, &path, Some(&lily.access_token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The signal is recorded off the response path: poll for it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while signals_of(&stack, lily.user_id).await.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        signals_of(&stack, lily.user_id).await,
        [(trip_id, "view".to_owned())],
        "lily's view reached recommend-service as hers"
    );
    // mallory viewed nothing; the anonymous view (done first) was nobody's.
    assert!(signals_of(&stack, mallory.user_id).await.is_empty());
    assert!(signals_of(&stack, curator.user_id).await.is_empty());
}

#[tokio::test]
async fn a_bad_token_on_a_public_route_is_a_401_as_anywhere() {
    let stack = Stack::start_with(StackOptions {
        recommend: true,
        ..Default::default()
    })
    .await;
    let lily = stack.sign_up_and_in("lily").await;
    // The same token with one signature character changed.
    let mut forged = lily.access_token.clone().into_bytes();
    let at = forged.len() - 20;
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    for token in [forged.as_str(), "not-a-jwt"] {
        let (status, body) = stack
            .call(0, Method::GET, "/v1/trips", Some(token), None)
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::UNAUTHORIZED, "invalid_token"),
            "{body}"
        );
    }

    // A signed-out session's token is refused on a public route as on any other.
    let (status, _) = stack
        .call(
            0,
            Method::POST,
            "/v1/auth/logout",
            Some(&lily.access_token),
            None,
        )
        .await;
    assert!(status.is_success(), "{status}");
    let (status, body) = stack
        .call(1, Method::GET, "/v1/trips", Some(&lily.access_token), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    // Sign-in routes do not need the old token: no Authorization, no problem.
    let (status, body) = stack.login_via(1, "lily", crate::helpers::PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
