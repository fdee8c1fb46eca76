//! The trips catalog behind the gateway: browsing is public, ratings and recommendations
//! need a signed-in user, and changing the catalog needs a catalog role.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Stack, StackOptions, error_code};

pub async fn create_trip(stack: &Stack, token: &str, title: &str, price_cents: i64) -> Value {
    let body = json!({ "title": title, "destination": "Lijiang", "price_cents": price_cents, "duration_days": 3, "tags": ["culture"] });
    let (status, trip) = stack
        .call(0, Method::POST, "/v1/trips", Some(token), Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{trip}");
    trip
}

#[tokio::test]
async fn browsing_is_public_and_changing_the_catalog_needs_a_product_admin() {
    let stack = Stack::start_with(StackOptions {
        recommend: true,
        ..Default::default()
    })
    .await;
    let curator = stack.sign_up_and_in("curator").await;
    stack.set_roles(curator.user_id, &["product_admin"]).await;
    let trip = create_trip(&stack, &curator.access_token, "Lijiang Old Town", 88_800).await;
    let id = trip["id"].as_i64().unwrap();

    for path in [
        "/v1/trips".to_owned(),
        format!("/v1/trips/{id}"),
        format!("/v1/trips/{id}/similar"),
    ] {
        let (status, body) = stack.call(1, Method::GET, &path, None, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }

    let body = json!({ "title": "x", "destination": "y", "price_cents": 1, "duration_days": 1 });
    let writes = [
        (Method::POST, "/v1/trips".to_owned()),
        (Method::PUT, format!("/v1/trips/{id}")),
        (Method::PATCH, format!("/v1/trips/{id}")),
        (Method::DELETE, format!("/v1/trips/{id}")),
    ];
    for (method, path) in &writes {
        let (status, response) = stack
            .call(0, method.clone(), path, None, Some(body.clone()))
            .await;
        assert_eq!(
            (status, error_code(&response)),
            (StatusCode::UNAUTHORIZED, "missing_token"),
            "{method} {path}"
        );
    }
    let traveller = stack.sign_up_and_in("lily").await;
    let token = Some(traveller.access_token.as_str());
    for (method, path) in &writes {
        let (status, response) = stack
            .call(1, method.clone(), path, token, Some(body.clone()))
            .await;
        assert_eq!(
            (status, error_code(&response)),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{method} {path}"
        );
    }
    let (status, patched) = stack
        .call(
            1,
            Method::PATCH,
            &format!("/v1/trips/{id}"),
            Some(&curator.access_token),
            Some(json!({ "price_cents": 99_900 })),
        )
        .await;
    assert_eq!(
        (status, patched["price_cents"].as_i64()),
        (StatusCode::OK, Some(99_900)),
        "{patched}"
    );
    let (_, seen) = stack
        .call(0, Method::GET, &format!("/v1/trips/{id}"), None, None)
        .await;
    assert_eq!(
        seen["price_cents"], 99_900,
        "the other replica reads the new price, not a stale cache entry"
    );

    let (status, rated) = stack
        .call(
            0,
            Method::POST,
            "/v1/ratings",
            token,
            Some(json!({ "trip_id": id, "score": 5 })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rated}");
    let (status, list) = stack
        .call(1, Method::GET, "/v1/recommendations", token, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let (status, mine) = stack.call(1, Method::GET, "/v1/ratings", token, None).await;
    assert_eq!((status, mine["count"].as_i64()), (StatusCode::OK, Some(1)));
}
