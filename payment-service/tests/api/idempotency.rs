//! `POST /v1/orders` with an `Idempotency-Key`: a repeated submit (same user, key and
//! body) makes one order, however many copies arrive and however concurrently.

use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::fake_recommend::{CHEAP_TRIP, TRIP};
use crate::helpers::{OTHER_TRAVELLER, OWN_ORDERS, TRAVELLER, TestApp, error_code, read};

/// `POST /v1/orders` by `user` with `key` (raw header values, each sent as given).
async fn submit(app: &TestApp, user: i64, keys: &[HeaderValue], body: Value) -> Submitted {
    let mut request = app.request(Method::POST, "/v1/orders", user, OWN_ORDERS);
    for key in keys {
        request = request.header("Idempotency-Key", key.clone());
    }
    let response = request.json(&body).send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (location, replayed) = (header("location"), header("idempotent-replayed"));
    let (status, body) = read(response).await;
    Submitted {
        status,
        body,
        location,
        replayed,
    }
}

#[derive(Debug)]
struct Submitted {
    status: StatusCode,
    body: Value,
    location: Option<String>,
    replayed: Option<String>,
}

fn key(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap()
}

async fn order_count(app: &TestApp, user: i64) -> i64 {
    let (status, list) = app
        .call(Method::GET, "/v1/orders", user, OWN_ORDERS, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["count"].as_i64().unwrap()
}

#[tokio::test]
async fn a_repeated_submit_with_the_same_key_answers_the_first_order_again() {
    let app = TestApp::spawn().await;
    let body = json!({"trip_id": TRIP, "quantity": 2});
    let first = submit(&app, TRAVELLER, &[key("checkout-7f3a")], body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    assert_eq!(first.replayed, None);
    let again = submit(&app, TRAVELLER, &[key("checkout-7f3a")], body.clone()).await;
    assert_eq!(again.status, StatusCode::CREATED, "{:?}", again.body);
    assert_eq!(again.body, first.body, "the same order, unchanged");
    assert_eq!(again.location, first.location);
    assert_eq!(again.replayed.as_deref(), Some("true"));
    assert_eq!(order_count(&app, TRAVELLER).await, 1);

    // The key belongs to this user: another user's same key is another order.
    let other = submit(&app, OTHER_TRAVELLER, &[key("checkout-7f3a")], body.clone()).await;
    assert_eq!(other.status, StatusCode::CREATED, "{:?}", other.body);
    assert_ne!(other.body["id"], first.body["id"]);
    assert_eq!(other.body["user_id"], OTHER_TRAVELLER);
    assert_eq!(other.replayed, None);
    assert_eq!(order_count(&app, OTHER_TRAVELLER).await, 1);

    // Without a key every submit is an order, as before; a new key is a new order.
    submit(&app, TRAVELLER, &[], body.clone()).await;
    let fresh = submit(&app, TRAVELLER, &[key("checkout-8b11")], body).await;
    assert_eq!(fresh.status, StatusCode::CREATED);
    assert_ne!(fresh.body["id"], first.body["id"]);
    assert_eq!(order_count(&app, TRAVELLER).await, 3);
}

#[tokio::test]
async fn a_key_reused_for_another_order_request_is_a_422_and_orders_nothing() {
    let app = TestApp::spawn().await;
    let first = submit(
        &app,
        TRAVELLER,
        &[key("k1")],
        json!({"trip_id": TRIP, "quantity": 2}),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED);
    for other in [
        json!({"trip_id": TRIP, "quantity": 3}),
        json!({"trip_id": TRIP}),
        json!({"trip_id": CHEAP_TRIP, "quantity": 2}),
    ] {
        let answer = submit(&app, TRAVELLER, &[key("k1")], other.clone()).await;
        assert_eq!(
            (answer.status, error_code(&answer.body)),
            (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused"),
            "{other}: {:?}",
            answer.body
        );
        assert_eq!(answer.body["error"]["details"]["header"], "Idempotency-Key");
        assert_eq!(
            answer.body["error"]["details"]["order_id"],
            first.body["id"]
        );
    }
    assert_eq!(order_count(&app, TRAVELLER).await, 1);
}

#[tokio::test]
async fn a_malformed_key_is_a_400_naming_the_header() {
    let app = TestApp::spawn().await;
    let body = json!({"trip_id": TRIP});
    let too_long = "k".repeat(256);
    let cases: [(&str, Vec<HeaderValue>); 5] = [
        ("empty", vec![key("")]),
        ("256 characters", vec![key(&too_long)]),
        ("a tab", vec![key("a\tb")]),
        (
            "not ASCII",
            vec![HeaderValue::from_bytes("订单".as_bytes()).unwrap()],
        ),
        ("given twice", vec![key("a"), key("b")]),
    ];
    for (case, keys) in cases {
        let answer = submit(&app, TRAVELLER, &keys, body.clone()).await;
        assert_eq!(
            (answer.status, error_code(&answer.body)),
            (StatusCode::BAD_REQUEST, "invalid_idempotency_key"),
            "{case}: {:?}",
            answer.body
        );
        assert_eq!(
            answer.body["error"]["details"]["header"], "Idempotency-Key",
            "{case}"
        );
    }
    assert_eq!(order_count(&app, TRAVELLER).await, 0, "nothing ordered");
    let longest = submit(&app, TRAVELLER, &[key(&"k".repeat(255))], body.clone()).await;
    assert_eq!(longest.status, StatusCode::CREATED, "{:?}", longest.body);
    let spaced = submit(&app, TRAVELLER, &[key("order 12 ~!")], body).await;
    assert_eq!(spaced.status, StatusCode::CREATED, "{:?}", spaced.body);
}

#[tokio::test]
async fn concurrent_submits_with_one_key_make_exactly_one_order() {
    let app = TestApp::spawn().await;
    let body = json!({"trip_id": TRIP, "quantity": 1});
    let keys = [key("double-click")];
    let answers = futures_util::future::join_all(
        (0..8).map(|_| submit(&app, TRAVELLER, &keys, body.clone())),
    )
    .await;
    for answer in &answers {
        assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
        assert_eq!(answer.body["id"], answers[0].body["id"], "{answers:?}");
    }
    assert_eq!(
        answers.iter().filter(|a| a.replayed.is_none()).count(),
        1,
        "one of them made it"
    );
    assert_eq!(order_count(&app, TRAVELLER).await, 1);
}
