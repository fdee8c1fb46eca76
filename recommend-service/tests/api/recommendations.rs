use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ADMIN, TestApp, Who, error_code, spawn_app, traveller};

/// Twelve trips; travellers 100–104 love trips 1–4 and 9, travellers 200–204 love 5–8;
/// everyone likes trip 10 a little. Trip 9 is then taken off sale.
async fn catalog(app: &TestApp) -> Vec<i64> {
    let mut ids = Vec::new();
    for n in 1..=12 {
        ids.push(app.trip(&format!("Trip {n}"), "Yunnan", 10_000 * n).await);
    }
    for user in 100..105 {
        for t in [0, 1, 2, 3, 8] {
            app.rate(user, ids[t], 5).await;
        }
        app.rate(user, ids[9], 3).await;
    }
    for user in 200..205 {
        for &trip in &ids[4..8] {
            app.rate(user, trip, 5).await;
        }
        app.rate(user, ids[9], 3).await;
    }
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/v1/trips/{}", ids[8]),
            ADMIN,
            Some(json!({ "status": "off_sale" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    ids
}

pub fn trip_ids(body: &Value) -> Vec<i64> {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["trip"]["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn item_based_recommendations_follow_taste_with_a_reason_and_skip_rated_and_off_sale_trips() {
    let app = spawn_app().await;
    let ids = catalog(&app).await;
    for &trip in &ids[0..3] {
        app.rate(1, trip, 5).await;
    }
    app.rebuild().await;

    let (status, body) = app.get("/v1/recommendations?limit=8", traveller(1)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["strategy"], "item");
    let got = trip_ids(&body);
    assert_eq!(got.len(), 8, "a full list: {body}");
    assert_eq!(
        got[0], ids[3],
        "the trip loved by the same travellers: {body}"
    );
    assert_eq!(body["results"][0]["source"], "item");
    let reason = body["results"][0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("because you rated Trip ") && reason.ends_with(" 5"),
        "{reason}"
    );
    for t in [0, 1, 2, 8] {
        assert!(
            !got.contains(&ids[t]),
            "trip {} must not appear: {got:?}",
            t + 1
        );
    }

    // Rated a moment ago, before any rebuild: gone at once.
    app.rate(1, ids[3], 4).await;
    let (_, body) = app.get("/v1/recommendations?limit=8", traveller(1)).await;
    assert!(!trip_ids(&body).contains(&ids[3]), "{body}");
    assert_eq!(trip_ids(&body).len(), 7, "every on-sale trip not rated yet");
}

#[tokio::test]
async fn a_new_traveller_gets_a_full_list_of_popular_trips() {
    let app = spawn_app().await;
    let ids = catalog(&app).await;
    app.rebuild().await;
    let (status, body) = app.get("/v1/recommendations?limit=5", traveller(77)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["strategy"], "popular");
    assert_eq!(body["count"], 5);
    assert_eq!(trip_ids(&body)[0], ids[9], "rated by everyone");
    assert!(!trip_ids(&body).contains(&ids[8]), "off sale");
    let reason = body["results"][0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("popular with travellers: 10 ratings"),
        "{reason}"
    );

    // Before the first model build, too.
    let fresh = spawn_app().await;
    fresh.trip("Only trip", "Dali", 1).await;
    let (status, body) = fresh.get("/v1/recommendations", traveller(1)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["results"][0]["reason"], "new on Waypoint");
}

#[tokio::test]
async fn user_based_and_popular_strategies_can_be_asked_for() {
    let app = spawn_app().await;
    let ids = catalog(&app).await;
    for &trip in &ids[4..7] {
        app.rate(2, trip, 5).await;
    }
    app.rebuild().await;
    let (status, body) = app
        .get("/v1/recommendations?strategy=user&limit=3", traveller(2))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["strategy"], "user");
    assert_eq!(trip_ids(&body)[0], ids[7], "{body}");
    assert_eq!(
        body["results"][0]["reason"],
        "travellers with tastes like yours rated it highly"
    );
    let (_, body) = app
        .get("/v1/recommendations?strategy=popular&limit=3", traveller(2))
        .await;
    assert_eq!(body["strategy"], "popular");
    assert_eq!(trip_ids(&body)[0], ids[9]);

    let bad = [
        (
            "/v1/recommendations?strategy=magic",
            422,
            "validation_failed",
        ),
        ("/v1/recommendations?limit=0", 422, "validation_failed"),
        ("/v1/recommendations?limit=51", 422, "validation_failed"),
        ("/v1/recommendations?colour=red", 400, "invalid_query"),
    ];
    for (path, status, code) in bad {
        let (got, body) = app.get(path, traveller(2)).await;
        assert_eq!(got.as_u16(), status, "{path}: {body}");
        assert_eq!(error_code(&body), code);
    }
    let (status, body) = app.get("/v1/recommendations", Who::Anonymous).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "unauthenticated");
}

#[tokio::test]
async fn similar_trips_are_those_liked_by_the_same_travellers() {
    let app = spawn_app().await;
    let ids = catalog(&app).await;
    app.rebuild().await;
    let (status, body) = app
        .get(
            &format!("/v1/trips/{}/similar?limit=4", ids[0]),
            Who::Anonymous,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let got = trip_ids(&body);
    assert_eq!(got.len(), 4);
    let mut first_three = got[..3].to_vec();
    first_three.sort_unstable();
    assert_eq!(first_three, vec![ids[1], ids[2], ids[3]], "{body}");
    assert!(!got.contains(&ids[0]) && !got.contains(&ids[8]));
    assert_eq!(
        body["results"][0]["reason"],
        "travellers who liked Trip 1 also liked this"
    );
}

#[tokio::test]
async fn implicit_signals_count_for_a_traveller_without_ratings() {
    let app = spawn_app().await;
    let ids = catalog(&app).await;
    for &trip in &ids[4..7] {
        let (status, _) = app
            .call(
                Method::POST,
                &format!("/v1/trips/{trip}/favourite"),
                traveller(3),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    app.rebuild().await;
    let (_, body) = app.get("/v1/recommendations?limit=3", traveller(3)).await;
    assert_eq!(body["strategy"], "item");
    assert_eq!(trip_ids(&body)[0], ids[7], "{body}");
    let reason = body["results"][0]["reason"].as_str().unwrap();
    assert!(reason.ends_with("as a favourite"), "{reason}");
}
