//! The background jobs, run at chosen times: reconciliation of lost notifications,
//! auto-close, and purchase signals retried until recommend-service takes them.

use chrono::Duration;
use fake_alipay::Delivery;
use reqwest::Method;

use crate::fake_recommend::TRIP;
use crate::helpers::{OWN_ORDERS, TRAVELLER, TestApp};

#[tokio::test]
async fn a_lost_notification_is_made_good_by_a_trade_query_once_the_order_is_a_few_minutes_old() {
    let app = TestApp::spawn().await;
    let order = app.opened_order(TRAVELLER).await;
    let id = order["id"].as_i64().unwrap();
    let no = order["out_trade_no"].as_str().unwrap();
    app.alipay.pay(no, Delivery::Lost).unwrap();

    let report = app.jobs.run_once(shared::time::now()).await;
    assert_eq!(report.reconciled, 0, "too young to ask about");
    assert_eq!(app.get_order(id).await["status"], "pending");

    let later = shared::time::now() + Duration::minutes(4);
    let report = app.jobs.run_once(later).await;
    assert_eq!(report.reconciled, 1);
    let order = app.get_order(id).await;
    assert_eq!(order["status"], "paid");
    assert_eq!(
        order["trade_no"],
        app.alipay.trade(no).unwrap().trade_no.as_str()
    );
    assert_eq!(app.events(id, "paid").await, 1);
    assert_eq!(app.recommend.signals().len(), 1, "the purchase is reported");
    // Counted as a transition like a notified payment, and no flag.
    let metrics = app.scrape().await;
    let paid = [("transition", "paid")];
    assert_eq!(metrics.value("payment_orders_total", &paid), 1.0);
    assert_eq!(
        metrics.value("payment_reconciliation_flags_total", &[]),
        0.0
    );
    let queries = app
        .alipay
        .calls()
        .into_iter()
        .filter(|c| c.method == "alipay.trade.query")
        .count();
    assert_eq!(queries, 1);
    // Asked again only after another interval; a paid order never again.
    app.jobs.run_once(later).await;
    let queries = app
        .alipay
        .calls()
        .into_iter()
        .filter(|c| c.method == "alipay.trade.query")
        .count();
    assert_eq!(queries, 1);
}

#[tokio::test]
async fn unpaid_orders_close_themselves_after_the_payment_timeout_at_alipay_and_here() {
    let app = TestApp::spawn().await;
    let opened = app.opened_order(TRAVELLER).await;
    let never_opened = app.order(TRAVELLER, TRIP, 1).await;
    let report = app
        .jobs
        .run_once(shared::time::now() + Duration::minutes(29))
        .await;
    assert_eq!(report.closed, 0);

    let report = app
        .jobs
        .run_once(shared::time::now() + Duration::minutes(31))
        .await;
    assert_eq!(report.closed, 2);
    for order in [&opened, &never_opened] {
        let now = app.get_order(order["id"].as_i64().unwrap()).await;
        assert_eq!(now["status"], "closed");
        assert_eq!(now["close_reason"], "timeout");
        assert!(now["closed_at"].is_string());
    }
    let no = opened["out_trade_no"].as_str().unwrap();
    assert_eq!(app.alipay.trade(no).unwrap().status, "TRADE_CLOSED");
    assert!(
        app.alipay.pay(no, Delivery::Normal).is_err(),
        "Alipay no longer takes the payment"
    );
    let (_, pay) = app
        .call(
            Method::POST,
            &format!("/v1/orders/{}/pay", opened["id"]),
            TRAVELLER,
            OWN_ORDERS,
            Some(serde_json::json!({})),
        )
        .await;
    assert_eq!(pay["error"]["code"], "order_not_pending");
}

#[tokio::test]
async fn a_payment_that_beats_the_auto_close_wins() {
    let app = TestApp::spawn().await;
    let order = app.opened_order(TRAVELLER).await;
    let id = order["id"].as_i64().unwrap();
    app.alipay
        .pay(order["out_trade_no"].as_str().unwrap(), Delivery::Lost)
        .unwrap();
    let report = app
        .jobs
        .run_once(shared::time::now() + Duration::minutes(31))
        .await;
    assert_eq!(report.closed, 0);
    let order = app.get_order(id).await;
    assert_eq!(order["status"], "paid");
    assert_eq!(order["needs_reconciliation"], false);
}

#[tokio::test]
async fn a_purchase_signal_is_retried_until_recommend_service_accepts_it() {
    let app = TestApp::spawn().await;
    app.recommend.fail_next_signals(1_000);
    let order = app.opened_order(TRAVELLER).await;
    let no = order["out_trade_no"].as_str().unwrap();
    app.alipay.pay(no, Delivery::Lost).unwrap();
    assert_eq!(app.alipay.notify_now(no).await.unwrap(), "success");

    let start = shared::time::now();
    app.jobs.deliver_signals(start + Duration::hours(1)).await;
    assert!(app.recommend.signals().is_empty());
    assert!(app.recommend.deliveries() >= 1);
    // The job reports the signal waiting, and for how long.
    app.jobs.measure_outbox(start + Duration::hours(1)).await;
    let metrics = app.scrape().await;
    assert_eq!(metrics.value("payment_outbox_depth", &[]), 1.0);
    let age = metrics.value("payment_outbox_oldest_age_seconds", &[]);
    assert!((3600.0..3700.0).contains(&age), "{age}");

    app.recommend.fail_next_signals(0);
    let delivered = app.jobs.deliver_signals(start + Duration::hours(2)).await;
    assert_eq!(delivered, 1);
    app.jobs.run_once(start + Duration::hours(2)).await;
    let metrics = app.scrape().await;
    assert_eq!(metrics.value("payment_outbox_depth", &[]), 0.0);
    assert_eq!(metrics.value("payment_outbox_oldest_age_seconds", &[]), 0.0);
    let signals = app.recommend.signals();
    assert_eq!(signals.len(), 1);
    assert_eq!(signals[0]["reference"], no);
    // Delivered signals are not sent again.
    let before = app.recommend.deliveries();
    app.jobs.deliver_signals(start + Duration::hours(3)).await;
    assert_eq!(app.recommend.deliveries(), before);
}
