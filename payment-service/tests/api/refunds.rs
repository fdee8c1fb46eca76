//! Refunds by a holder of the all-orders scope: partial or full, idempotent on
//! out_request_no, never more than was paid.

use fake_alipay::Delivery;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{ADMIN, ALL_ORDERS, TRAVELLER, TestApp, error_code};

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
            ALL_ORDERS,
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

fn refund_calls(app: &TestApp) -> usize {
    app.alipay
        .calls()
        .iter()
        .filter(|call| call.method == "alipay.trade.refund")
        .count()
}

#[tokio::test]
async fn concurrent_refunds_of_one_order_refund_it_once() {
    let app = TestApp::spawn().await;
    let (id, amount) = paid_order(&app).await;
    let answers = futures_util::future::join_all((0..4).map(|_| refund(&app, id, json!({})))).await;
    let succeeded = answers.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(succeeded, 1, "{answers:?}");
    for (status, body) in answers.iter().filter(|(status, _)| *status != 200) {
        assert_eq!(*status, 409, "{body}");
        assert!(
            ["nothing_to_refund", "order_not_refundable"].contains(&error_code(body)),
            "{body}"
        );
    }
    assert_eq!(refund_calls(&app), 1, "Alipay was asked once");
    let order = app.get_order(id).await;
    assert_eq!(order["status"], "refunded");
    assert_eq!(order["refunded_cents"], amount);
    assert_eq!(order["refunds"].as_array().unwrap().len(), 1);
}

/// Counts the database's sessions waiting for a row lock (PostgreSQL).
async fn lock_waiters(app: &TestApp) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Waiters {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    app.db
        .run(|conn| {
            use diesel::RunQueryDsl;
            Ok(diesel::sql_query(
                "SELECT count(*) AS n FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .get_result::<Waiters>(conn)?
            .n)
        })
        .await
        .unwrap()
}

/// A refund that arrives while a payment holds the order's row decides on the row as the
/// payment left it: the order it finds is paid, so it refunds (checked before the lock,
/// it would have seen `pending` and answered 409).
#[tokio::test]
async fn a_refund_waiting_on_a_payment_checks_the_order_as_the_payment_left_it() {
    let app = TestApp::spawn().await;
    let order = app.opened_order(TRAVELLER).await;
    let id = order["id"].as_i64().unwrap();
    let no = order["out_trade_no"].as_str().unwrap().to_owned();
    app.alipay.pay(&no, Delivery::Lost).unwrap();
    let trade_no = app.alipay.trade(&no).unwrap().trade_no;

    // The payment: holds the order's row (PostgreSQL) or the write lock (SQLite) until
    // told to commit.
    let (locked_tx, locked) = tokio::sync::oneshot::channel();
    let (commit_tx, commit) = std::sync::mpsc::channel::<()>();
    let db = app.db.clone();
    let payment = tokio::spawn(async move {
        db.run(move |conn| {
            shared::db::write_transaction(conn, |conn| {
                use diesel::RunQueryDsl;
                diesel::sql_query(format!(
                    "UPDATE orders SET refunded_cents = refunded_cents WHERE id = {id}"
                ))
                .execute(conn)?;
                let _ = locked_tx.send(());
                let _ = commit.recv_timeout(std::time::Duration::from_secs(10));
                let paid = payment_service::models::Order::mark_paid(
                    conn,
                    id,
                    &trade_no,
                    shared::time::now(),
                )?;
                assert!(paid);
                Ok::<_, shared::ApiError>(())
            })
        })
        .await
    });
    locked.await.unwrap();
    let refunding = {
        let app = &app;
        async move { refund(app, id, json!({"out_request_no": "RACE1"})).await }
    };
    let release = async {
        if app.is_postgres() {
            // Until the refund waits for the row.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while lock_waiters(&app).await == 0 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the refund never waited"
                );
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        } else {
            // SQLite takes the write lock before any read; give the refund a moment to
            // queue on it (any order of events must end the same way).
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        commit_tx.send(()).unwrap();
    };
    let ((status, body), ()) = tokio::join!(refunding, release);
    payment.await.unwrap().unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "refunded");
    assert_eq!(refund_calls(&app), 1);
}
