//! The internal contract with payment-service, and favourites.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Who, error_code, fields, spawn_app, traveller};

#[tokio::test]
async fn internal_trip_lookups_answer_the_contract_shape() {
    let app = spawn_app().await;
    let trip = app.trip("Shangri-La", "Diqing", 450_000).await;
    let (status, body) = app
        .get(&format!("/internal/trips/{trip}"), Who::Anonymous)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({ "id": trip, "title": "Shangri-La", "destination": "Diqing", "price_cents": 450_000, "status": "on_sale" })
    );
    let (status, body) = app.get("/internal/trips/777", Who::Anonymous).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "not_found");
    let (status, body) = app
        .get(&format!("/internal/trips/{trip}"), Who::Outsider)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "internal_token_required");
}

#[tokio::test]
async fn purchase_signals_are_idempotent_on_their_reference() {
    let app = spawn_app().await;
    let trip = app.trip("Meili Snow Mountain", "Diqing", 380_000).await;
    let signal =
        json!({ "user_id": 42, "trip_id": trip, "kind": "purchase", "reference": "WP20261201001" });
    for _ in 0..3 {
        let (status, body) = app
            .call(
                Method::POST,
                "/internal/signals",
                Who::Anonymous,
                Some(signal.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    let report = app.rebuild().await;
    assert_eq!(report["interactions"], 1, "three deliveries, one purchase");

    let mut other = signal.clone();
    other["user_id"] = json!(43);
    let (status, body) = app
        .call(
            Method::POST,
            "/internal/signals",
            Who::Anonymous,
            Some(other),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_code(&body), "reference_conflict");

    let cases = [
        (
            json!({ "user_id": 1, "trip_id": trip, "kind": "refund", "reference": "x" }),
            vec!["kind"],
        ),
        (
            json!({ "user_id": 1, "trip_id": trip, "kind": "purchase", "reference": " " }),
            vec!["reference"],
        ),
        (
            json!({ "user_id": 1, "trip_id": trip, "kind": "purchase" }),
            vec!["reference"],
        ),
    ];
    for (body, expected) in cases {
        let (status, response) = app
            .call(
                Method::POST,
                "/internal/signals",
                Who::Anonymous,
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(fields(&response), expected, "{body}");
    }
    let unknown = json!({ "user_id": 1, "trip_id": 999, "kind": "purchase", "reference": "WP2" });
    let (status, body) = app
        .call(
            Method::POST,
            "/internal/signals",
            Who::Anonymous,
            Some(unknown),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "not_found");
    let (status, body) = app
        .call(
            Method::POST,
            "/internal/signals",
            Who::Outsider,
            Some(signal),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "internal_token_required");
}

#[tokio::test]
async fn favourites_are_added_once_and_removed() {
    let app = spawn_app().await;
    let trip = app.trip("Jade Dragon", "Lijiang", 100_000).await;
    let path = format!("/v1/trips/{trip}/favourite");
    for _ in 0..2 {
        let (status, _) = app.call(Method::POST, &path, traveller(3), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    assert_eq!(app.rebuild().await["interactions"], 1);
    let (status, _) = app.call(Method::DELETE, &path, traveller(3), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.call(Method::DELETE, &path, traveller(3), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "not_found");
    let (status, _) = app
        .call(Method::POST, "/v1/trips/999/favourite", traveller(3), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.call(Method::POST, &path, Who::Anonymous, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
