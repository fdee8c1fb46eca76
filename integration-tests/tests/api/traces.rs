//! W3C trace context at the gateway: a client's sane `traceparent` is continued (same trace
//! id, the gateway's own span as the service's parent); an absent or insane one starts a
//! trace. Gateway B forwards to an echo server that shows what it received. And one order
//! creation leaves the same trace id on the log lines of every part it crossed, and with
//! OTLP export on, one tree of spans at a collector.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::telemetry::capture::LogCapture;

use crate::helpers::{Stack, StackOptions};
use crate::payments::{shop, shop_with};

const CLIENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

async fn received(stack: &Stack, traceparent: Option<&str>) -> String {
    let mut request = stack.request(1, Method::GET, "/v1/trips");
    if let Some(value) = traceparent {
        request = request.header("traceparent", value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let echoed: Value = response.json().await.unwrap();
    echoed["traceparent"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_gateway_continues_a_sane_traceparent_and_starts_one_otherwise() {
    let stack = Stack::start_with(StackOptions {
        echo_on_b: true,
        ..Default::default()
    })
    .await;
    let continued = received(&stack, Some(CLIENT)).await;
    assert_eq!(
        shared::trace::parse(&continued),
        shared::trace::parse(CLIENT)
    );
    assert_ne!(continued, CLIENT, "the gateway's span is the parent");

    for sent in [None, Some("00-zz-00f067aa0ba902b7-01"), Some("junk")] {
        let started = received(&stack, sent).await;
        let trace_id = shared::trace::parse(&started).expect("a sane traceparent");
        assert_ne!(Some(trace_id), shared::trace::parse(CLIENT), "{sent:?}");
    }
}

/// Creates an order through gateway A; the `X-Request-Id` the gateway answered with.
async fn order(stack: &Stack, token: &str, trip: &Value) -> String {
    let response = stack
        .request(0, Method::POST, "/v1/orders")
        .bearer_auth(token)
        .json(&json!({ "trip_id": trip["id"], "quantity": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// The trace ids on the "request served" lines of `part` (production JSON lines).
fn served<'a>(lines: &'a [Value], part: &str) -> Vec<&'a str> {
    lines
        .iter()
        .filter(|l| l["message"] == "request served" && l["span"]["part"] == part)
        .filter_map(|l| l["span"]["trace_id"].as_str())
        .collect()
}

#[tokio::test]
async fn one_order_creation_logs_one_trace_id_at_the_gateway_payment_and_recommend() {
    let logs = LogCapture::start();
    let (stack, trip) = shop("Shaxi Old Town", 30_000).await;
    let buyer = stack.sign_up_and_in("buyer").await;
    let first = order(&stack, &buyer.access_token, &trip).await;
    let second = order(&stack, &buyer.access_token, &trip).await;

    let lines = logs.lines();
    let trace_of = |request_id: &str| {
        let line = lines.iter().find(|l| {
            l["message"] == "request served"
                && l["span"]["part"] == "gateway"
                && l["span"]["request_id"] == request_id
        });
        let line = line.unwrap_or_else(|| panic!("no gateway line for {request_id}"));
        line["span"]["trace_id"].as_str().unwrap().to_owned()
    };
    let (first, second) = (trace_of(&first), trace_of(&second));
    assert_ne!(first, second, "each order is a trace of its own");
    for trace in [&first, &second] {
        // payment-service served the order, recommend-service the trip lookup it made.
        let payment = served(&lines, "payment-service");
        assert_eq!(payment.iter().filter(|t| *t == trace).count(), 1, "{trace}");
        let recommend = served(&lines, "recommend-service");
        assert!(
            recommend.contains(&trace.as_str()),
            "{trace}: {recommend:?}"
        );
        // What payment-service logged inside the request carries it too.
        let created = lines.iter().find(|l| {
            l["message"] == "order created"
                && l["spans"]
                    .as_array()
                    .is_some_and(|spans| spans.iter().any(|s| s["trace_id"] == **trace))
        });
        assert!(created.is_some(), "no 'order created' line in {trace}");
    }
}

/// With OTLP export on in every part, one order creation through the gateway reaches the
/// collector as one tree: the gateway's span (a root: the client sent no traceparent),
/// payment-service's under it, recommend-service's trip lookup under payment's.
#[tokio::test]
async fn one_order_creation_exports_one_span_tree_from_the_gateway_through_payment_to_recommend() {
    use shared::testing::{OtlpReceiver, ReceivedSpan};
    let receiver = OtlpReceiver::start();
    let options = StackOptions {
        otlp: shared::otel::OtlpSettings {
            endpoint: Some(receiver.endpoint()),
            service_name: None,
        },
        ..Default::default()
    };
    let (stack, trip) = shop_with(options, "Xizhou Village", 20_000).await;
    let buyer = stack.sign_up_and_in("buyer").await;
    order(&stack, &buyer.access_token, &trip).await;

    // Each part sends its batch on its own schedule (every 5 s): wait for all three.
    let child = |spans: &[ReceivedSpan], service: &str, parent: &ReceivedSpan| {
        spans
            .iter()
            .find(|s| s.service == service && s.parent == parent.span_id)
            .cloned()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let (gateway, payment, recommend) = loop {
        let spans = receiver.spans();
        let gateway = spans.iter().find(|s| {
            s.service == "gateway"
                && s.attribute("http.request.method") == Some("POST")
                && s.attribute("url.path") == Some("/v1/orders")
        });
        let payment = gateway.and_then(|g| child(&spans, "payment-service", g));
        let recommend = payment
            .as_ref()
            .and_then(|p| child(&spans, "recommend-service", p));
        if let (Some(g), Some(p), Some(r)) = (gateway, &payment, recommend) {
            break (g.clone(), p.clone(), r);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no gateway → payment → recommend tree in {spans:#?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(gateway.parent, "", "the gateway started the trace");
    for span in [&gateway, &payment, &recommend] {
        assert_eq!(span.trace_id, gateway.trace_id, "one trace: {span:?}");
        assert!(span.server, "{span:?}");
        assert!(
            span.attribute("http.response.status_code").is_some(),
            "{span:?}"
        );
    }
    assert_eq!(payment.name, "POST /v1/orders");
    assert_eq!(payment.attribute("http.response.status_code"), Some("201"));
    assert_eq!(recommend.name, "GET /internal/trips/{id}", "{recommend:?}");
}
