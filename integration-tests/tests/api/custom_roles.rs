//! A role an admin creates works end to end: the gateway decides by the live policy and
//! the services take its decision, checking only ownership and data scope. So a custom
//! role granted refunds, the all-orders scope and trip management can do all of that
//! against the real services, and a traveller without those grants cannot.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::identity::names;
use shared::policy::scopes::ALL_ORDERS;

use crate::helpers::{Stack, StackOptions, error_code};
use crate::payments::paid_order;
use crate::trip_catalog::create_trip;

/// The id of the permission (`resource`, `method`), as the admin API lists it.
async fn permission_id(stack: &Stack, resource: &str, method: &str) -> i64 {
    let path = format!("/v1/permissions?resource={resource}&method={method}");
    let found = stack.admin(Method::GET, &path, None, StatusCode::OK).await;
    found["results"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no permission {method} {resource}: {found}"))
}

/// A new role holding the given (resource, method) permissions; its id.
async fn custom_role(stack: &Stack, name: &str, grants: &[(&str, &str)]) -> i64 {
    let role = stack
        .admin_create(
            "/v1/roles",
            json!({ "name": name, "description": "made in the admin UI" }),
        )
        .await;
    let role_id = role["id"].as_i64().unwrap();
    for (resource, method) in grants {
        let permission_id = permission_id(stack, resource, method).await;
        stack
            .admin_create(
                &format!("/v1/roles/{role_id}/permissions"),
                json!({ "permission_id": permission_id }),
            )
            .await;
    }
    role_id
}

/// Calls until the gateway stops refusing the request itself (its 403 names the
/// resource; a service's does not): the policy change has reached it. The last answer.
async fn once_the_gateway_lets_through(
    stack: &Stack,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = stack
            .call(1, method.clone(), path, Some(token), body.clone())
            .await;
        let gateway_refused = answer.0 == StatusCode::FORBIDDEN
            && answer.1["error"]["details"]["resource"].is_string();
        if !gateway_refused || Instant::now() > deadline {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_custom_role_refunds_sees_every_order_and_manages_trips() {
    let stack = Stack::start_with(StackOptions {
        payments: true,
        ..Default::default()
    })
    .await;
    custom_role(
        &stack,
        "concierge",
        &[
            ("orders-refund", "POST"),
            (ALL_ORDERS.name, "GET"),
            ("trips", "POST"),
            ("trips-detail", "PATCH"),
            ("trips-detail", "DELETE"),
        ],
    )
    .await;
    let ada = stack.sign_up_and_in("ada").await;
    stack
        .set_roles(ada.user_id, &["traveller", "concierge"])
        .await;
    let lily = stack.sign_up_and_in("lily").await;
    let mallory = stack.sign_up_and_in("mallory").await;

    // Trip management.
    let body = json!({ "title": "Erhai by bike", "destination": "Dali", "price_cents": 30_000, "duration_days": 2 });
    let (status, trip) = once_the_gateway_lets_through(
        &stack,
        Method::POST,
        "/v1/trips",
        &ada.access_token,
        Some(body),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the custom role creates a trip: {trip}"
    );
    let trip_id = trip["id"].as_i64().unwrap();
    let trip_path = format!("/v1/trips/{trip_id}");
    let (status, edited) = stack
        .call(
            0,
            Method::PATCH,
            &trip_path,
            Some(&ada.access_token),
            Some(json!({ "price_cents": 28_000 })),
        )
        .await;
    assert_eq!(
        (status, edited["price_cents"].as_i64()),
        (StatusCode::OK, Some(28_000)),
        "the custom role edits a trip: {edited}"
    );
    let dropped = create_trip(&stack, &ada.access_token, "Cancelled tour", 1_000).await;
    let dropped_path = format!("/v1/trips/{}", dropped["id"]);
    let (status, body) = stack
        .call(
            0,
            Method::DELETE,
            &dropped_path,
            Some(&ada.access_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    // Another traveller's paid order: ada sees it in every order, reads and refunds it.
    let order_id = paid_order(&stack, &lily.access_token, trip_id).await;
    let order_path = format!("/v1/orders/{order_id}");
    let (status, all) = stack
        .call(0, Method::GET, "/v1/orders", Some(&ada.access_token), None)
        .await;
    assert_eq!(
        (status, all["count"].as_i64()),
        (StatusCode::OK, Some(1)),
        "the all-orders scope lists other people's orders: {all}"
    );
    let (status, order) = stack
        .call(0, Method::GET, &order_path, Some(&ada.access_token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{order}");
    let (status, refunded) = stack
        .call(
            1,
            Method::POST,
            &format!("{order_path}/refund"),
            Some(&ada.access_token),
            Some(json!({ "reason": "weather" })),
        )
        .await;
    assert_eq!(
        (status, refunded["status"].as_str()),
        (StatusCode::OK, Some("refunded")),
        "the custom role refunds: {refunded}"
    );

    // A traveller without those grants: refused at the gateway, and someone else's
    // order does not exist for them.
    let mallory_token = Some(mallory.access_token.as_str());
    for (method, path, body) in [
        (Method::POST, "/v1/trips".to_owned(), Some(json!({}))),
        (
            Method::PATCH,
            trip_path.clone(),
            Some(json!({ "price_cents": 1 })),
        ),
        (
            Method::POST,
            format!("{order_path}/refund"),
            Some(json!({})),
        ),
    ] {
        let (status, answer) = stack
            .call(0, method.clone(), &path, mallory_token, body)
            .await;
        assert_eq!(
            (status, error_code(&answer)),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{method} {path}: {answer}"
        );
    }
    let (status, answer) = stack
        .call(0, Method::GET, &order_path, mallory_token, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    // Claiming the scope in a header changes nothing: the gateway sets that header.
    let mine: Value = stack
        .request(0, Method::GET, "/v1/orders")
        .bearer_auth(&mallory.access_token)
        .header(names::USER_SCOPES, ALL_ORDERS.name)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        mine["count"].as_i64(),
        Some(0),
        "without the scope only one's own orders: {mine}"
    );
}

/// What `GET /v1/me/permissions` lists for a caller: (method, pattern) pairs and scopes.
async fn my_permissions(stack: &Stack, token: &str) -> (Vec<(String, String)>, Value) {
    let (status, mine) = stack
        .call(
            0,
            Method::GET,
            shared::policy::MY_PERMISSIONS_PATH,
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    let pairs = mine["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["method"].as_str().unwrap().to_owned(),
                p["pattern"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (pairs, mine["scopes"].clone())
}

/// A client (the web UI) learns what a caller may do from the gateway that decides it, so
/// a custom role's holder is shown what the role allows, whatever it is called.
#[tokio::test]
async fn a_caller_learns_what_their_roles_allow_from_the_gateway() {
    let stack = Stack::start().await;
    custom_role(
        &stack,
        "refunder",
        &[("orders-refund", "POST"), (ALL_ORDERS.name, "GET")],
    )
    .await;
    let ada = stack.sign_up_and_in("ada").await;
    let refund = ("POST".to_owned(), "/v1/orders/{id}/refund".to_owned());
    let users = ("GET".to_owned(), "/v1/users".to_owned());

    let (traveller, scopes) = my_permissions(&stack, &ada.access_token).await;
    assert!(
        traveller.contains(&("POST".to_owned(), "/v1/orders".to_owned())),
        "{traveller:?}"
    );
    assert!(
        !traveller.contains(&refund) && !traveller.contains(&users),
        "{traveller:?}"
    );
    assert_eq!(scopes, json!([]));

    stack
        .set_roles(ada.user_id, &["traveller", "refunder"])
        .await;
    let (refunder, scopes) = my_permissions(&stack, &ada.access_token).await;
    assert!(refunder.contains(&refund), "{refunder:?}");
    assert!(!refunder.contains(&users), "{refunder:?}");
    assert_eq!(scopes, json!([ALL_ORDERS.name]));

    let (status, body) = stack
        .call(
            0,
            Method::GET,
            shared::policy::MY_PERMISSIONS_PATH,
            None,
            None,
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "missing_token")
    );
}
