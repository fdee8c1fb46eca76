use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Who, error_code, fields, spawn_app, traveller};

#[tokio::test]
async fn rating_creates_rerating_replaces_and_the_trip_shows_the_mean() {
    let app = spawn_app().await;
    let trip = app.trip("Lugu Lake", "Lijiang", 200_000).await;
    let rate = |score: i64| json!({ "trip_id": trip, "score": score });

    let response = app
        .request(Method::POST, "/v1/ratings", traveller(5))
        .json(&rate(4))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let first: serde_json::Value = response.json().await.unwrap();
    assert_eq!(location, format!("/v1/ratings/{}", first["id"]));

    let (status, again) = app
        .call(Method::POST, "/v1/ratings", traveller(5), Some(rate(2)))
        .await;
    assert_eq!(status, StatusCode::OK, "re-rating replaces");
    assert_eq!(
        (again["id"].clone(), again["score"].as_i64()),
        (first["id"].clone(), Some(2))
    );
    app.rate(6, trip, 5).await;

    let (_, shown) = app.get(&format!("/v1/trips/{trip}"), Who::Anonymous).await;
    assert_eq!(shown["rating_count"], 2);
    assert_eq!(shown["rating_avg"], 3.5);

    let (status, mine) = app.get("/v1/ratings", traveller(5)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mine["count"], 1);
    assert_eq!(mine["results"][0]["score"], 2);
}

#[tokio::test]
async fn invalid_ratings_are_422_naming_the_field() {
    let app = spawn_app().await;
    let trip = app.trip("Cangshan", "Dali", 30_000).await;
    let cases = [
        (json!({ "trip_id": trip, "score": 0 }), "score"),
        (json!({ "trip_id": trip, "score": 6 }), "score"),
        (json!({ "trip_id": trip, "score": 4.5 }), "score"),
        (json!({ "trip_id": trip }), "score"),
        (json!({ "trip_id": 9999, "score": 3 }), "trip_id"),
        (json!({ "trip_id": "one", "score": 3 }), "trip_id"),
        (
            json!({ "trip_id": trip, "score": 3, "user_id": 1 }),
            "user_id",
        ),
    ];
    for (body, field) in cases {
        let (status, response) = app
            .call(
                Method::POST,
                "/v1/ratings",
                traveller(5),
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} → {response}"
        );
        assert_eq!(error_code(&response), "validation_failed");
        assert_eq!(fields(&response), [field], "{body}");
    }
    assert_eq!(app.get("/v1/ratings", traveller(5)).await.1["count"], 0);
}

#[tokio::test]
async fn ratings_need_a_signed_in_user_and_stay_private() {
    let app = spawn_app().await;
    let trip = app.trip("Nuodeng", "Dali", 30_000).await;
    app.rate(5, trip, 4).await;
    let (_, mine) = app.get("/v1/ratings", traveller(5)).await;
    let id = mine["results"][0]["id"].as_i64().unwrap();

    for (who, code) in [
        (Who::Anonymous, "unauthenticated"),
        (Who::Outsider, "internal_token_required"),
    ] {
        let (status, body) = app.get("/v1/ratings", who).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(error_code(&body), code);
    }
    assert_eq!(app.get("/v1/ratings", traveller(6)).await.1["count"], 0);
    let (status, body) = app
        .call(
            Method::DELETE,
            &format!("/v1/ratings/{id}"),
            traveller(6),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another user's rating is not found"
    );
    assert_eq!(error_code(&body), "not_found");

    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/ratings/{id}"),
            traveller(5),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/v1/ratings", traveller(5)).await.1["count"], 0);
    let (_, shown) = app.get(&format!("/v1/trips/{trip}"), Who::Anonymous).await;
    assert_eq!(shown["rating_count"], 0, "the cached trip was invalidated");
}
