//! Refunds by order admins: partial or full, idempotent on out_request_no, never more
//! than was paid.

use fake_alipay::Delivery;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{ADMIN, TRAVELLER, TestApp, error_code};

async fn paid_order(app: &TestApp) -> (i64, i64) {
    let order = app.opened_order(TRAVELLER).await;
    let no = order["out_trade_no"].as_str().unwrap();
    app.alipay.pay(no, Delivery::Lost).unwrap();
    assert_eq!(app.alipay.notify_now(no).await.unwrap(), "success");
    (
        order["id"].as_i64().unwrap(),
        order["amount_cents"].as_i64().unwrap(),
    )
}

async fn refund(app: &TestApp, id: i64, body: Value) -> (u16, Value) {
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/v1/orders/{id}/refund"),
            ADMIN,
            "order_admin",
            Some(body),
        )
        .await;
    (status.as_u16(), body)
}

#[tokio::test]
async fn a_partial_then_the_remaining_refund_make_the_order_refunded() {
    let app = TestApp::spawn().await;
    let (id, amount) = paid_order(&app).await;
    let (status, body) = refund(
        &app,
        id,
        json!({"amount_cents": 100, "out_request_no": "R1", "reason": "one traveller fewer"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "paid");
    assert_eq!(body["refunded_cents"], 100);
    assert_eq!(body["refunds"][0]["status"], "succeeded");
    assert_eq!(body["refunds"][0]["out_request_no"], "R1");

    // The same request again (a retry) refunds nothing more.
    let (status, body) = refund(
        &app,
        id,
        json!({"amount_cents": 100, "out_request_no": "R1"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["refunded_cents"], 100);
    assert_eq!(body["refunds"].as_array().unwrap().len(), 1);

    let (status, body) = refund(
        &app,
        id,
        json!({"amount_cents": amount, "out_request_no": "R2"}),
    )
    .await;
    assert_eq!((status, error_code(&body)), (422, "validation_failed"));
    assert!(body["error"]["details"]["fields"]["amount_cents"].is_string());

    let (status, body) = refund(&app, id, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "refunded");
    assert_eq!(body["refunded_cents"], amount);
    let (status, body) = refund(&app, id, json!({})).await;
    assert_eq!((status, error_code(&body)), (409, "order_not_refundable"));
}

#[tokio::test]
async fn bad_refund_requests_are_refused() {
    let app = TestApp::spawn().await;
    let (id, _) = paid_order(&app).await;
    let pending = app.order(TRAVELLER, crate::fake_recommend::TRIP, 1).await;
    let (status, body) = refund(&app, pending["id"].as_i64().unwrap(), json!({})).await;
    assert_eq!((status, error_code(&body)), (409, "order_not_refundable"));
    let cases = [
        (json!({"amount_cents": 0}), "amount_cents"),
        (json!({"amount_cents": -5}), "amount_cents"),
        (json!({"out_request_no": "has space"}), "out_request_no"),
        (json!({"reason": ""}), "reason"),
        (json!({"amount": 5}), "amount"),
    ];
    for (body, field) in cases {
        let (status, answer) = refund(&app, id, body.clone()).await;
        assert_eq!(
            (status, error_code(&answer)),
            (422, "validation_failed"),
            "{body}"
        );
        assert!(
            answer["error"]["details"]["fields"][field].is_string(),
            "{body}: {answer}"
        );
    }
    let (status, _) = refund(&app, id, json!({"amount_cents": 1, "out_request_no": "X1"})).await;
    assert_eq!(status, 200);
    let (status, body) = refund(&app, id, json!({"amount_cents": 2, "out_request_no": "X1"})).await;
    assert_eq!((status, error_code(&body)), (409, "out_request_no_reused"));
    let (status, body) = refund(&app, 999_999, json!({})).await;
    assert_eq!((status, error_code(&body)), (404, "not_found"));
}

#[tokio::test]
async fn a_refund_with_an_unknown_outcome_stays_pending_and_is_completed_by_the_jobs() {
    let app = TestApp::spawn().await;
    let (id, amount) = paid_order(&app).await;
    app.alipay.outage("alipay.trade.refund", 1);
    let (status, body) = refund(&app, id, json!({"out_request_no": "R9"})).await;
    assert_eq!((status, error_code(&body)), (503, "alipay_unavailable"));
    assert_eq!(body["error"]["details"]["out_request_no"], "R9");
    let order = app.get_order(id).await;
    assert_eq!(order["refunds"][0]["status"], "pending");
    // A second refund cannot take the pending one's money.
    let (status, body) = refund(&app, id, json!({"amount_cents": 1})).await;
    assert_eq!((status, error_code(&body)), (422, "validation_failed"));

    let later = shared::time::now() + chrono::Duration::minutes(2);
    let report = app.jobs.run_once(later).await;
    assert_eq!(report.refunds_resent, 1);
    let order = app.get_order(id).await;
    assert_eq!(order["status"], "refunded");
    assert_eq!(order["refunded_cents"], amount);
    assert_eq!(order["refunds"][0]["status"], "succeeded");
}
