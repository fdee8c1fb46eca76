//! Orders: priced by the service, visible to their owner (and holders of the all-orders scope) only.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::fake_recommend::{OFF_SALE_TRIP, TRIP, TRIP_PRICE};
use crate::helpers::{
    ADMIN, ALL_ORDERS, OTHER_TRAVELLER, OWN_ORDERS, TRAVELLER, TestApp, error_code,
};

#[tokio::test]
async fn an_order_is_priced_from_the_trip_and_starts_pending() {
    let app = TestApp::spawn().await;
    let response = app
        .request(Method::POST, "/v1/orders", TRAVELLER, OWN_ORDERS)
        .json(&json!({"trip_id": TRIP, "quantity": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let order: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/v1/orders/{}", order["id"]));
    assert_eq!(order["status"], "pending");
    assert_eq!(order["amount_cents"], 2 * TRIP_PRICE);
    assert_eq!(order["unit_price_cents"], TRIP_PRICE);
    assert_eq!(order["quantity"], 2);
    assert_eq!(order["user_id"], TRAVELLER);
    assert_eq!(order["subject"], "丽江古城三日游 ×2");
    assert_eq!(order["currency"], "CNY");
    let no = order["out_trade_no"].as_str().unwrap();
    assert!(no.starts_with("WP") && no.len() == 34, "{no}");
}

#[tokio::test]
async fn the_trip_lookup_carries_the_trace_the_order_came_with() {
    let app = TestApp::spawn().await;
    // What the gateway sends: its span, in the client's trace.
    let sent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let response = app
        .request(Method::POST, "/v1/orders", TRAVELLER, OWN_ORDERS)
        .header("traceparent", sent)
        .json(&json!({"trip_id": TRIP, "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let received = app.recommend.traceparents();
    let received = received.last().unwrap().as_deref().unwrap();
    assert_eq!(shared::trace::parse(received), shared::trace::parse(sent));
    assert_ne!(
        received, sent,
        "payment-service's span is recommend's parent"
    );
}

#[tokio::test]
async fn bad_order_requests_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            json!({"trip_id": TRIP, "amount_cents": 1}),
            422,
            "validation_failed",
            Some("amount_cents"),
        ),
        (
            json!({"trip_id": 0}),
            422,
            "validation_failed",
            Some("trip_id"),
        ),
        (
            json!({"trip_id": 4040}),
            422,
            "validation_failed",
            Some("trip_id"),
        ),
        (
            json!({"trip_id": TRIP, "quantity": 0}),
            422,
            "validation_failed",
            Some("quantity"),
        ),
        (
            json!({"trip_id": TRIP, "quantity": 21}),
            422,
            "validation_failed",
            Some("quantity"),
        ),
        (
            json!({"trip_id": "7"}),
            422,
            "validation_failed",
            Some("trip_id"),
        ),
        (
            json!({"quantity": 1}),
            422,
            "validation_failed",
            Some("trip_id"),
        ),
        (
            json!({"trip_id": OFF_SALE_TRIP}),
            409,
            "trip_not_on_sale",
            None,
        ),
    ];
    for (body, status, code, field) in cases {
        let (got, answer) = app
            .call(
                Method::POST,
                "/v1/orders",
                TRAVELLER,
                OWN_ORDERS,
                Some(body.clone()),
            )
            .await;
        assert_eq!(got.as_u16(), status, "{body}: {answer}");
        assert_eq!(error_code(&answer), code, "{body}");
        if let Some(field) = field {
            assert!(
                answer["error"]["details"]["fields"][field].is_string(),
                "{body}: {answer}"
            );
        }
    }
    // Without the gateway's vouching there is no identity.
    let response = app
        .http
        .post(format!("{}/v1/orders", app.base))
        .header("x-user-id", TRAVELLER.to_string())
        .header("x-session-id", "s")
        .json(&json!({"trip_id": TRIP}))
        .send()
        .await
        .unwrap();
    let (status, body) = crate::helpers::read(response).await;
    assert_eq!(status, 401);
    assert_eq!(error_code(&body), "internal_token_required");
}

#[tokio::test]
async fn another_travellers_order_is_a_404_for_reading_paying_cancelling_and_refunding() {
    let app = TestApp::spawn().await;
    let order = app.order(TRAVELLER, TRIP, 1).await;
    let id = order["id"].as_i64().unwrap();
    let attempts = [
        (Method::GET, format!("/v1/orders/{id}"), None),
        (
            Method::POST,
            format!("/v1/orders/{id}/pay"),
            Some(json!({"channel": "page"})),
        ),
        (Method::POST, format!("/v1/orders/{id}/cancel"), None),
        // Whoever the gateway lets refund, another's order is out of reach without the
        // all-orders scope.
        (
            Method::POST,
            format!("/v1/orders/{id}/refund"),
            Some(json!({})),
        ),
        (Method::GET, "/v1/orders/999999".to_owned(), None),
    ];
    for (method, path, body) in attempts {
        let (status, answer) = app
            .call(method.clone(), &path, OTHER_TRAVELLER, OWN_ORDERS, body)
            .await;
        assert_eq!(status, 404, "{method} {path}: {answer}");
        assert_eq!(error_code(&answer), "not_found");
    }
    // A holder of the all-orders scope sees it but cannot pay for it.
    let (status, _) = app
        .call(
            Method::GET,
            &format!("/v1/orders/{id}"),
            ADMIN,
            ALL_ORDERS,
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, answer) = app
        .call(
            Method::POST,
            &format!("/v1/orders/{id}/pay"),
            ADMIN,
            ALL_ORDERS,
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(error_code(&answer), "not_order_owner");
    assert_eq!(app.get_order(id).await["status"], "pending");
}

#[tokio::test]
async fn travellers_list_their_own_orders_and_all_orders_scope_lists_all_with_filters() {
    let app = TestApp::spawn().await;
    for _ in 0..3 {
        app.order(TRAVELLER, TRIP, 1).await;
    }
    let other = app.order(OTHER_TRAVELLER, TRIP, 1).await;
    let (status, mine) = app
        .call(
            Method::GET,
            "/v1/orders?limit=2",
            TRAVELLER,
            OWN_ORDERS,
            None,
        )
        .await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["count"], 3);
    assert_eq!(mine["results"].as_array().unwrap().len(), 2);
    assert_eq!(mine["next"], "/v1/orders?limit=2&offset=2");
    assert!(
        mine["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["user_id"] == TRAVELLER)
    );
    let (_, spying) = app
        .call(
            Method::GET,
            &format!("/v1/orders?user_id={OTHER_TRAVELLER}"),
            TRAVELLER,
            OWN_ORDERS,
            None,
        )
        .await;
    assert_eq!(spying["count"], 0);

    let (_, all) = app
        .call(Method::GET, "/v1/orders", ADMIN, ALL_ORDERS, None)
        .await;
    assert_eq!(all["count"], 4);
    assert_eq!(all["results"][0]["id"], other["id"], "newest first");
    let (_, theirs) = app
        .call(
            Method::GET,
            &format!("/v1/orders?user_id={OTHER_TRAVELLER}"),
            ADMIN,
            ALL_ORDERS,
            None,
        )
        .await;
    assert_eq!(theirs["count"], 1);
    let today = shared::time::now().date();
    let tomorrow = today.succ_opt().unwrap();
    let filters = [
        ("status=pending", 4),
        ("status=paid", 0),
        (&*format!("created_from={today}"), 4),
        (&*format!("created_from={tomorrow}"), 0),
        (
            &*format!("created_before={tomorrow}&sortby=amount_cents&order=asc"),
            4,
        ),
    ];
    for (query, count) in filters {
        let (status, page) = app
            .call(
                Method::GET,
                &format!("/v1/orders?{query}"),
                ADMIN,
                ALL_ORDERS,
                None,
            )
            .await;
        assert_eq!(status, 200, "{query}: {page}");
        assert_eq!(page["count"], count, "{query}");
    }
    let bad = [
        ("status=lost", 400, "invalid_parameter"),
        ("created_from=yesterday", 400, "invalid_parameter"),
        ("amount_cents=1", 400, "unknown_parameter"),
        ("sortby=subject", 422, "validation_failed"),
    ];
    for (query, status, code) in bad {
        let (got, body) = app
            .call(
                Method::GET,
                &format!("/v1/orders?{query}"),
                ADMIN,
                ALL_ORDERS,
                None,
            )
            .await;
        assert_eq!((got.as_u16(), error_code(&body)), (status, code), "{query}");
    }
}

#[tokio::test]
async fn a_pay_url_is_signed_for_alipay_and_only_pending_unexpired_orders_get_one() {
    let app = TestApp::spawn().await;
    let order = app.order(TRAVELLER, TRIP, 1).await;
    let id = order["id"].as_i64().unwrap();
    for channel in ["page", "wap"] {
        let (status, body) = app
            .call(
                Method::POST,
                &format!("/v1/orders/{id}/pay"),
                TRAVELLER,
                OWN_ORDERS,
                Some(json!({"channel": channel})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let url = body["url"].as_str().unwrap();
        assert!(url.starts_with(&app.alipay.gateway_url()), "{url}");
        let page = app
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("Pay ¥888.00"),
            "the fake Alipay verified our signature: {page}"
        );
    }
    assert!(app.alipay.calls().iter().all(|c| c.verified));
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/v1/orders/{id}/pay"),
            TRAVELLER,
            OWN_ORDERS,
            Some(json!({"channel": "card"})),
        )
        .await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (422, "validation_failed")
    );

    let (status, body) = app.cancel(id).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "closed");
    assert_eq!(body["close_reason"], "cancelled");
    let no = order["out_trade_no"].as_str().unwrap();
    assert_eq!(
        app.alipay.trade(no).unwrap().status,
        "TRADE_CLOSED",
        "closed at Alipay too"
    );
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/v1/orders/{id}/pay"),
            TRAVELLER,
            OWN_ORDERS,
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(error_code(&body), "order_not_pending");
    assert_eq!(body["error"]["details"]["status"], "closed");
    let (status, body) = app.cancel(id).await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (409, "order_not_pending")
    );
}

#[tokio::test]
async fn cancelling_a_trade_paid_meanwhile_makes_the_order_paid_instead() {
    let app = TestApp::spawn().await;
    let order = app.opened_order(TRAVELLER).await;
    let id = order["id"].as_i64().unwrap();
    app.alipay
        .pay(
            order["out_trade_no"].as_str().unwrap(),
            fake_alipay::Delivery::Lost,
        )
        .unwrap();
    let (status, body) = app.cancel(id).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["details"]["status"], "paid");
    assert_eq!(app.get_order(id).await["status"], "paid");
}

#[tokio::test]
async fn alipay_being_down_leaves_a_cancel_undone_with_a_503() {
    let app = TestApp::spawn().await;
    let order = app.opened_order(TRAVELLER).await;
    let id = order["id"].as_i64().unwrap();
    app.alipay.outage("alipay.trade.close", 1);
    let (status, body) = app.cancel(id).await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (503, "alipay_unavailable")
    );
    assert_eq!(app.get_order(id).await["status"], "pending");
}

/// A status this release does not know (written by a newer one during a rolling deploy,
/// say) is an error, never read as some status it is not (it used to pass for `closed`).
#[tokio::test]
async fn an_order_in_a_status_this_release_does_not_know_is_an_error_not_a_guess() {
    let app = TestApp::spawn().await;
    let order = app.order(TRAVELLER, TRIP, 1).await;
    let id = order["id"].as_i64().unwrap();
    let update = format!("UPDATE orders SET status = 'disputed' WHERE id = {id};");
    app.sql(if app.is_postgres() {
        format!("ALTER TABLE orders DROP CONSTRAINT orders_status_check; {update}")
    } else {
        format!(
            "PRAGMA ignore_check_constraints = ON; {update} PRAGMA ignore_check_constraints = OFF;"
        )
    })
    .await;

    for path in [format!("/v1/orders/{id}"), "/v1/orders".to_owned()] {
        let response = app
            .request(Method::GET, &path, TRAVELLER, "traveller")
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{path}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(error_code(&body), "internal_error", "{path}");
    }
}
