//! Paying for a trip, the whole way: a traveller orders through the gateway (the price comes
//! from recommend-service), pays at the (fake) Alipay cashier, Alipay's signed notification
//! arrives through the gateway's public route, the order is paid and recommend-service hears
//! of the purchase; an order_admin refunds; another traveller sees nothing.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Stack, StackOptions, error_code};
use crate::trip_catalog::create_trip;

/// A stack with payments, and a trip on sale (put there by a product_admin).
pub async fn shop(title: &str, price_cents: i64) -> (Stack, Value) {
    shop_with(StackOptions::default(), title, price_cents).await
}

/// [`shop`] on a stack started with `options` (payments on).
pub async fn shop_with(options: StackOptions, title: &str, price_cents: i64) -> (Stack, Value) {
    let stack = Stack::start_with(StackOptions {
        payments: true,
        ..options
    })
    .await;
    let curator = stack.sign_up_and_in("curator").await;
    stack.set_roles(curator.user_id, &["product_admin"]).await;
    let trip = create_trip(&stack, &curator.access_token, title, price_cents).await;
    (stack, trip)
}

#[tokio::test]
async fn a_traveller_pays_through_the_gateway_and_an_order_admin_refunds() {
    let (stack, trip) = shop("Lijiang Old Town", 88_800).await;
    let lily = stack.sign_up_and_in("lily").await;
    let mallory = stack.sign_up_and_in("mallory").await;
    let lily_token = Some(lily.access_token.as_str());

    let (status, order) = stack
        .call(
            0,
            Method::POST,
            "/v1/orders",
            lily_token,
            Some(json!({ "trip_id": trip["id"], "quantity": 2 })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    assert_eq!(
        order["amount_cents"], 177_600,
        "the service prices the order: {order}"
    );
    let id = order["id"].as_i64().unwrap();
    let no = order["out_trade_no"].as_str().unwrap().to_owned();
    let (status, pay) = stack
        .call(
            1,
            Method::POST,
            &format!("/v1/orders/{id}/pay"),
            lily_token,
            Some(json!({ "channel": "page" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{pay}");

    // The buyer's browser at the cashier presses Pay.
    let alipay = stack.alipay.as_ref().unwrap();
    let cashier = stack
        .http
        .get(pay["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(cashier.text().await.unwrap().contains("1776.00"));
    let paid = stack
        .http
        .post(format!("{}/cashier/pay", alipay.base_url()))
        .form(&[("out_trade_no", no.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), StatusCode::SEE_OTHER);
    let return_url = paid.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        return_url.starts_with(&format!("{}/v1/payments/alipay/return?", stack.gw(0))),
        "{return_url}"
    );

    stack
        .eventually(
            Duration::from_secs(10),
            "the notification is accepted",
            || async { alipay.attempts(&no).iter().any(|a| a.answer == "success") },
        )
        .await;
    let (status, seen) = stack
        .call(
            1,
            Method::GET,
            &format!("/v1/orders/{id}"),
            lily_token,
            None,
        )
        .await;
    assert_eq!(
        (status, seen["status"].as_str()),
        (StatusCode::OK, Some("paid")),
        "{seen}"
    );

    // The browser's return shows the state; a forged one is refused.
    let (status, back) = {
        let response = stack.http.get(&return_url).send().await.unwrap();
        (
            response.status(),
            response.json::<serde_json::Value>().await.unwrap(),
        )
    };
    assert_eq!(
        (status, back["status"].as_str()),
        (StatusCode::OK, Some("paid")),
        "{back}"
    );
    let forged = return_url.replace("total_amount=1776.00", "total_amount=0.01");
    let response = stack.http.get(&forged).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // Another traveller: as if it did not exist. A traveller cannot refund.
    for (method, path) in [
        (Method::GET, format!("/v1/orders/{id}")),
        (Method::POST, format!("/v1/orders/{id}/cancel")),
    ] {
        let (status, body) = stack
            .call(0, method, &path, Some(&mallory.access_token), None)
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
    }
    let refund =
        json!({ "amount_cents": 177_600, "out_request_no": "R1", "reason": "plans changed" });
    let (status, body) = stack
        .call(
            0,
            Method::POST,
            &format!("/v1/orders/{id}/refund"),
            lily_token,
            Some(refund.clone()),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "forbidden")
    );

    // The purchase reached recommend-service: the trip is no longer recommended to lily.
    let recommendations = stack
        .call(
            0,
            Method::GET,
            "/v1/recommendations?limit=10",
            lily_token,
            None,
        )
        .await
        .1;
    let ids: Vec<i64> = recommendations["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["trip"]["id"].as_i64())
        .collect();
    assert!(
        !ids.contains(&trip["id"].as_i64().unwrap()),
        "booked trips are not recommended: {recommendations}"
    );

    let clerk = stack.sign_up_and_in("clerk").await;
    stack.set_roles(clerk.user_id, &["order_admin"]).await;
    let (status, all) = stack
        .call(
            1,
            Method::GET,
            "/v1/orders",
            Some(&clerk.access_token),
            None,
        )
        .await;
    assert_eq!(
        (status, all["count"].as_i64()),
        (StatusCode::OK, Some(1)),
        "an order_admin sees every order"
    );
    let (status, refunded) = stack
        .call(
            1,
            Method::POST,
            &format!("/v1/orders/{id}/refund"),
            Some(&clerk.access_token),
            Some(refund),
        )
        .await;
    assert!(status.is_success(), "{status}: {refunded}");
    let (_, seen) = stack
        .call(
            0,
            Method::GET,
            &format!("/v1/orders/{id}"),
            lily_token,
            None,
        )
        .await;
    assert_eq!(seen["status"], "refunded", "{seen}");
}

/// An order of one `trip_id` that the holder of `token` has paid at the (fake) Alipay
/// cashier, once the notification is accepted; its id.
pub async fn paid_order(stack: &Stack, token: &str, trip_id: i64) -> i64 {
    let order_body = json!({ "trip_id": trip_id, "quantity": 1 });
    let (status, order) = stack
        .call(0, Method::POST, "/v1/orders", Some(token), Some(order_body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let id = order["id"].as_i64().unwrap();
    let pay_path = format!("/v1/orders/{id}/pay");
    let (status, pay) = stack
        .call(
            0,
            Method::POST,
            &pay_path,
            Some(token),
            Some(json!({ "channel": "page" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{pay}");
    // The buyer's browser opens the cashier page (so Alipay knows the trade), then pays.
    let cashier = stack.http.get(pay["url"].as_str().unwrap()).send().await;
    assert!(cashier.unwrap().status().is_success());
    let alipay = stack.alipay.as_ref().unwrap();
    let no = order["out_trade_no"].as_str().unwrap();
    let paid = stack
        .http
        .post(format!("{}/cashier/pay", alipay.base_url()))
        .form(&[("out_trade_no", no)])
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), StatusCode::SEE_OTHER);
    stack
        .eventually(
            Duration::from_secs(10),
            "the payment is notified",
            || async { alipay.attempts(no).iter().any(|a| a.answer == "success") },
        )
        .await;
    id
}
