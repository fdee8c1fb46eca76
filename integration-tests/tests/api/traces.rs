//! W3C trace context at the gateway: a client's sane `traceparent` is continued (same trace
//! id, the gateway's own span as the service's parent); an absent or insane one starts a
//! trace. Gateway B forwards to an echo server that shows what it received.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{Stack, StackOptions};

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
