//! `POST /v1/payments/alipay/notify`: only Alipay's signed word, about our trade, for the
//! right amount, changes an order, exactly once; anything else answers `failure`.

use fake_alipay::Delivery;
use reqwest::Method;
use serde_json::json;

use crate::fake_recommend::{CHEAP_TRIP, TRIP};
use crate::helpers::{ADMIN, ALL_ORDERS, OWN_ORDERS, TRAVELLER, TestApp, fixture, set};

/// A pending order whose trade Alipay knows, paid at Alipay with the notification lost,
/// and that notification's signed form.
async fn paid_at_alipay(app: &TestApp) -> (i64, String, Vec<(String, String)>) {
    let order = app.opened_order(TRAVELLER).await;
    let no = order["out_trade_no"].as_str().unwrap().to_owned();
    app.alipay.pay(&no, Delivery::Lost).unwrap();
    let form = app.alipay.notification(&no).unwrap();
    (order["id"].as_i64().unwrap(), no, form)
}

/// `form` with `key` set to `value`, signed again by "Alipay".
fn resign_with(
    app: &TestApp,
    form: &[(String, String)],
    key: &str,
    value: &str,
) -> Vec<(String, String)> {
    let mut form = form.to_vec();
    set(&mut form, key, value);
    app.alipay.sign(&mut form).unwrap();
    form
}

#[tokio::test]
async fn a_signed_notification_marks_the_order_paid_and_answers_success() {
    let app = TestApp::spawn().await;
    let (id, no, form) = paid_at_alipay(&app).await;
    assert_eq!(app.notify(&form).await, "success");
    let order = app.get_order(id).await;
    assert_eq!(order["status"], "paid");
    assert_eq!(
        order["trade_no"],
        app.alipay.trade(&no).unwrap().trade_no.as_str()
    );
    assert!(order["paid_at"].is_string());
    assert_eq!(app.events(id, "paid").await, 1);
    // The same notification again: a duplicate, still `success`, nothing changes.
    assert_eq!(app.notify(&form).await, "success");
    assert_eq!(app.events(id, "paid").await, 1);
    assert_eq!(app.events(id, "duplicate").await, 1);
}

#[tokio::test]
async fn the_independent_openssl_notification_pays_the_order_it_names() {
    let app = TestApp::spawn().await;
    let now = shared::time::now();
    app.sql(format!(
        "INSERT INTO orders (out_trade_no, user_id, trip_id, quantity, amount_cents, refunded_cents, \
         subject, status, needs_reconciliation, created_at) VALUES ('WP20261126000001', {TRAVELLER}, {TRIP}, 2, \
         177600, 0, 'x', 'pending', FALSE, '{now}')"
    ))
    .await;
    let vectors: serde_json::Value = serde_json::from_str(&fixture("vectors.json")).unwrap();
    let good = vectors["notify_trade_success"]["form_body"]
        .as_str()
        .unwrap();
    let tampered = vectors["notify_tampered_amount"]["form_body"]
        .as_str()
        .unwrap();
    assert_eq!(app.notify_raw(tampered.to_owned()).await, "failure");
    assert_eq!(app.notify_raw(good.to_owned()).await, "success");
    let (_, list) = app
        .call(
            Method::GET,
            "/v1/orders?status=paid",
            ADMIN,
            ALL_ORDERS,
            None,
        )
        .await;
    assert_eq!(list["count"], 1);
    assert_eq!(
        list["results"][0]["trade_no"],
        "2026112622001446880500000001"
    );
}

#[tokio::test]
async fn forged_foreign_or_mismatched_notifications_answer_failure_and_change_nothing() {
    let app = TestApp::spawn().await;
    let (id, _, form) = paid_at_alipay(&app).await;
    let amount = form
        .iter()
        .find(|(k, _)| k == "total_amount")
        .unwrap()
        .1
        .clone();
    let cents = payment_service::alipay::Amount::parse(&amount)
        .unwrap()
        .cents();
    let off_by_a_cent = payment_service::alipay::Amount::from_cents(cents - 1)
        .unwrap()
        .to_string();

    let resigned = |key: &str, value: &str| resign_with(&app, &form, key, value);
    let mut forged = form.clone();
    set(&mut forged, "total_amount", "0.01");
    let mut rsa1 = form.clone();
    set(&mut rsa1, "sign_type", "RSA");
    let mut unsigned = form.clone();
    unsigned.retain(|(k, _)| k != "sign");
    let mut doubled = form.clone();
    doubled.push(("total_amount".into(), "0.01".into()));
    let mut doubled_first = vec![("total_amount".to_owned(), "0.01".to_owned())];
    doubled_first.extend(form.clone());

    let cases = [
        ("forged signature (amount changed after signing)", forged),
        ("sign_type=RSA", rsa1),
        ("no signature", unsigned),
        ("foreign app_id", resigned("app_id", "2021000000009999")),
        (
            "foreign seller_id",
            resigned("seller_id", "2088000000009999"),
        ),
        (
            "unknown out_trade_no",
            resigned("out_trade_no", "WP20260101deadbeefdeadbeefdeadbeef"),
        ),
        (
            "amount off by 0.01",
            resigned("total_amount", &off_by_a_cent),
        ),
        ("amount not a decimal", resigned("total_amount", "1e3")),
        (
            "unknown trade_status",
            resigned("trade_status", "TRADE_PENDING"),
        ),
        ("total_amount given twice (after)", doubled),
        ("total_amount given twice (before)", doubled_first),
    ];
    for (case, form) in cases {
        assert_eq!(app.notify(&form).await, "failure", "{case}");
    }
    let not_a_form = app
        .http
        .post(format!("{}/v1/payments/alipay/notify", app.base))
        .header("x-waypoint-internal", &app.token)
        .header("content-type", "application/json")
        .body(serde_urlencoded::to_string(&form).unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(not_a_form, "failure");

    let order = app.get_order(id).await;
    assert_eq!(order["status"], "pending", "nothing changed");
    assert_eq!(order["trade_no"], json!(null));
    assert_eq!(app.events(id, "paid").await, 0);
    // The genuine one still works afterwards.
    assert_eq!(app.notify(&form).await, "success");
    assert_eq!(app.get_order(id).await["status"], "paid");
}

#[tokio::test]
async fn an_amount_written_0_1_equals_the_order_amount_of_10_cents() {
    let app = TestApp::spawn().await;
    let order = app.order(TRAVELLER, CHEAP_TRIP, 1).await;
    assert_eq!(order["amount_cents"], 10);
    let id = order["id"].as_i64().unwrap();
    let url = app.pay_url(TRAVELLER, id).await;
    app.http.get(&url).send().await.unwrap();
    let no = order["out_trade_no"].as_str().unwrap();
    app.alipay.pay(no, Delivery::Lost).unwrap();
    let mut form = app.alipay.notification(no).unwrap();
    assert_eq!(
        form.iter().find(|(k, _)| k == "total_amount").unwrap().1,
        "0.10"
    );
    set(&mut form, "total_amount", "0.1");
    app.alipay.sign(&mut form).unwrap();
    assert_eq!(app.notify(&form).await, "success");
    assert_eq!(app.get_order(id).await["status"], "paid");
}

#[tokio::test]
async fn fifty_concurrent_copies_of_a_notification_make_exactly_one_transition() {
    let app = TestApp::spawn().await;
    let (id, no, form) = paid_at_alipay(&app).await;
    let answers = futures_util::future::join_all((0..50).map(|_| app.notify(&form))).await;
    assert!(answers.iter().all(|a| a == "success"), "{answers:?}");
    assert_eq!(app.events(id, "paid").await, 1);
    assert_eq!(app.events(id, "duplicate").await, 49);
    assert_eq!(app.get_order(id).await["status"], "paid");
    app.jobs.deliver_signals(shared::time::now()).await;
    let signals = app.recommend.signals();
    assert_eq!(signals.len(), 1);
    assert_eq!(
        signals[0],
        json!({"user_id": TRAVELLER, "trip_id": TRIP, "kind": "purchase", "reference": no})
    );
}

#[tokio::test]
async fn trade_closed_closes_a_pending_order_and_never_a_paid_one() {
    let app = TestApp::spawn().await;
    let order = app.opened_order(TRAVELLER).await;
    let id = order["id"].as_i64().unwrap();
    let mut closed = app
        .alipay
        .notification(order["out_trade_no"].as_str().unwrap())
        .unwrap();
    set(&mut closed, "trade_status", "TRADE_CLOSED");
    app.alipay.sign(&mut closed).unwrap();
    assert_eq!(app.notify(&closed).await, "success");
    let order = app.get_order(id).await;
    assert_eq!(
        (order["status"].as_str(), order["close_reason"].as_str()),
        (Some("closed"), Some("alipay"))
    );

    let (paid_id, _, form) = paid_at_alipay(&app).await;
    assert_eq!(app.notify(&form).await, "success");
    let mut closed = form.clone();
    set(&mut closed, "trade_status", "TRADE_CLOSED");
    app.alipay.sign(&mut closed).unwrap();
    assert_eq!(app.notify(&closed).await, "success");
    assert_eq!(
        app.get_order(paid_id).await["status"],
        "paid",
        "never backwards"
    );
}

#[tokio::test]
async fn a_payment_after_a_local_close_is_recorded_and_flagged_not_dropped() {
    let app = TestApp::spawn().await;
    let order = app.opened_order(TRAVELLER).await;
    let id = order["id"].as_i64().unwrap();
    let no = order["out_trade_no"].as_str().unwrap().to_owned();
    // Closed here only (as if Alipay's close had been lost), then paid at Alipay.
    app.sql(format!(
        "UPDATE orders SET status = 'closed', close_reason = 'timeout' WHERE id = {id}"
    ))
    .await;
    app.alipay.pay(&no, Delivery::Lost).unwrap();
    let form = app.alipay.notification(&no).unwrap();
    let flags = "payment_reconciliation_flags_total";
    let by_notification = [("source", "notification")];
    assert_eq!(app.scrape().await.value(flags, &by_notification), 0.0);
    assert_eq!(
        app.notify(&form).await,
        "success",
        "recorded, so Alipay may stop"
    );
    let metrics = app.scrape().await;
    assert_eq!(metrics.value(flags, &by_notification), 1.0);
    let paid = [("transition", "paid")];
    assert_eq!(metrics.value("payment_orders_total", &paid), 0.0);
    let order = app.get_order(id).await;
    assert_eq!(order["status"], "closed", "never backwards");
    assert_eq!(order["needs_reconciliation"], true);
    assert_eq!(
        order["trade_no"],
        app.alipay.trade(&no).unwrap().trade_no.as_str()
    );
    assert_eq!(app.events(id, "flagged").await, 1);
    let (_, flagged) = app
        .call(
            Method::GET,
            "/v1/orders?needs_reconciliation=true",
            ADMIN,
            ALL_ORDERS,
            None,
        )
        .await;
    assert_eq!(flagged["count"], 1);
    assert!(app.recommend.signals().is_empty(), "not a purchase");
}

#[tokio::test]
async fn a_replayed_payment_notification_after_a_refund_changes_nothing() {
    let app = TestApp::spawn().await;
    let (id, _, form) = paid_at_alipay(&app).await;
    assert_eq!(app.notify(&form).await, "success");
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/v1/orders/{id}/refund"),
            ADMIN,
            ALL_ORDERS,
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "refunded");
    assert_eq!(app.notify(&form).await, "success");
    let order = app.get_order(id).await;
    assert_eq!(order["status"], "refunded");
    assert_eq!(order["refunded_cents"], order["amount_cents"]);
    assert_eq!(app.events(id, "paid").await, 1);
}

#[tokio::test]
async fn a_database_error_answers_failure_and_alipays_next_delivery_applies_once() {
    let app = TestApp::spawn().await;
    let (id, _, form) = paid_at_alipay(&app).await;
    // Make every write to orders fail, as a broken database would.
    if app.is_postgres() {
        app.sql("CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected'; END $$ LANGUAGE plpgsql".into()).await;
        app.sql(
            "CREATE TRIGGER broken BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION refuse()"
                .into(),
        )
        .await;
    } else {
        app.sql("CREATE TRIGGER broken BEFORE UPDATE ON orders BEGIN SELECT RAISE(ABORT, 'injected'); END".into()).await;
    }
    assert_eq!(app.notify(&form).await, "failure");
    assert_eq!(app.get_order(id).await["status"], "pending");
    assert_eq!(app.events(id, "paid").await, 0);

    app.sql(
        if app.is_postgres() {
            "DROP TRIGGER broken ON orders"
        } else {
            "DROP TRIGGER broken"
        }
        .into(),
    )
    .await;
    assert_eq!(app.notify(&form).await, "success");
    assert_eq!(app.notify(&form).await, "success");
    assert_eq!(app.get_order(id).await["status"], "paid");
    assert_eq!(app.events(id, "paid").await, 1);
}

/// The events naming `out_trade_no`, as stored (known trade or not).
async fn trade_events(app: &TestApp, out_trade_no: &str) -> Vec<serde_json::Value> {
    let no = out_trade_no.to_owned();
    let events = app
        .db
        .run(move |conn| Ok(payment_service::models::event::for_trade(conn, &no)?))
        .await
        .unwrap();
    events
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect()
}

#[tokio::test]
async fn a_signed_notification_refused_for_its_amount_or_trade_is_recorded_as_an_event() {
    let app = TestApp::spawn().await;
    let (id, no, form) = paid_at_alipay(&app).await;
    let notify_id = form
        .iter()
        .find(|(k, _)| k == "notify_id")
        .map(|(_, v)| v.clone());
    let trade_no = app.alipay.trade(&no).unwrap().trade_no;
    let resigned = |key: &str, value: &str| resign_with(&app, &form, key, value);

    // Badly signed or unsigned: refused before anything is looked at, and not recorded.
    let mut forged = form.clone();
    set(&mut forged, "total_amount", "0.01");
    let mut unsigned = resigned("total_amount", "0.01");
    unsigned.retain(|(k, _)| k != "sign");
    let mut unsigned_unknown = resigned("out_trade_no", "WP20260101aaaaaaaaaaaaaaaaaaaaaaaa");
    unsigned_unknown.retain(|(k, _)| k != "sign");
    for form in [&forged, &unsigned, &unsigned_unknown] {
        assert_eq!(app.notify(form).await, "failure");
    }
    assert!(trade_events(&app, &no).await.is_empty());
    assert!(
        trade_events(&app, "WP20260101aaaaaaaaaaaaaaaaaaaaaaaa")
            .await
            .is_empty()
    );

    // Signed by Alipay, but for 0.01 yuan: refused as before, and recorded on the order.
    assert_eq!(
        app.notify(&resigned("total_amount", "0.01")).await,
        "failure"
    );
    let order = app.get_order(id).await;
    assert_eq!(order["status"], "pending", "nothing changed");
    let events = order["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{order}");
    let event = &events[0];
    assert_eq!(event["outcome"], "refused");
    assert_eq!(event["reason"], "amount_mismatch");
    assert_eq!(event["amount_cents"], 1);
    assert_eq!(event["out_trade_no"], no.as_str());
    assert_eq!(event["trade_no"], trade_no.as_str());
    assert_eq!(event["trade_status"], "TRADE_SUCCESS");
    assert_eq!(event["source"], "notify");
    assert_eq!(event["notify_id"], json!(notify_id));
    assert!(event["created_at"].is_string());
    // Events are for holders of the all-orders scope: the traveller's view of their order has none.
    let (_, own) = app
        .call(
            Method::GET,
            &format!("/v1/orders/{id}"),
            TRAVELLER,
            OWN_ORDERS,
            None,
        )
        .await;
    assert_eq!(own["status"], "pending");
    assert!(own.get("events").is_none(), "{own}");

    // Signed by Alipay, about a trade we never made: refused, and recorded without an order.
    let unknown = "WP20260101deadbeefdeadbeefdeadbeef";
    assert_eq!(
        app.notify(&resigned("out_trade_no", unknown)).await,
        "failure"
    );
    let events = trade_events(&app, unknown).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["outcome"], "refused");
    assert_eq!(events[0]["reason"], "unknown_trade");
    assert_eq!(events[0]["trade_no"], trade_no.as_str());
    assert!(events[0]["amount_cents"].as_i64().unwrap() > 1);

    // The genuine notification still pays, and is the order's next event.
    assert_eq!(app.notify(&form).await, "success");
    let order = app.get_order(id).await;
    assert_eq!(order["status"], "paid");
    let outcomes: Vec<_> = order["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["outcome"].clone(), e["reason"].clone()))
        .collect();
    assert_eq!(
        outcomes,
        [
            (json!("refused"), json!("amount_mismatch")),
            (json!("paid"), json!(null))
        ]
    );
}
