//! An upstream of several replicas: requests are spread over them, a replica that refuses
//! connections is passed over, and a request that failed on one replica is sent to another
//! when sending it twice does no harm.

use reqwest::{Method, StatusCode};
use tokio::io::AsyncReadExt;

use crate::helpers::{stack_with_trips_at, start_echo, start_raw_service};

/// A replica that takes the connection, reads the request and hangs up without answering
/// (a replica dying mid-request): how many connections it took.
fn start_hanging_up() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    start_raw_service(|mut stream| async move {
        let mut buf = [0u8; 4096];
        let _ = stream.read(&mut buf).await;
    })
}

#[tokio::test]
async fn a_replica_that_refuses_connections_costs_no_request() {
    let echo = start_echo();
    let dead = shared::testing::REFUSING_URL;
    let stack = stack_with_trips_at(format!("{dead}|{echo}")).await;
    let alice = stack.sign_up_and_in("alice").await;
    for i in 0..6 {
        let (status, body) = stack
            .call(i % 2, Method::GET, "/v1/trips", None, None)
            .await;
        assert_eq!(status, StatusCode::OK, "GET #{i}: {body}");
        // A write too: a refused connection sent nothing, so any request may go elsewhere.
        let (status, body) = stack
            .call(
                i % 2,
                Method::POST,
                "/v1/trips/1/favourite",
                Some(&alice.access_token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "POST #{i}: {body}");
        assert_eq!(body["path"], "/v1/trips/1/favourite");
    }
}

#[tokio::test]
async fn every_replica_refusing_is_a_503() {
    let dead = shared::testing::REFUSING_URL;
    let stack = stack_with_trips_at(format!("{dead}|http://127.0.0.1:2")).await;
    let (status, body) = stack.call(0, Method::GET, "/v1/trips", None, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "upstream_unavailable");
}

#[tokio::test]
async fn only_requests_safe_to_repeat_are_sent_again_after_a_replica_hung_up() {
    let echo = start_echo();
    let (hanging, taken) = start_hanging_up();
    let stack = stack_with_trips_at(format!("{hanging}|{echo}")).await;
    let alice = stack.sign_up_and_in("alice").await;
    let favourite = |key: Option<String>| {
        let mut request = stack
            .request(0, Method::POST, "/v1/trips/1/favourite")
            .bearer_auth(&alice.access_token);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        request.send()
    };
    let (mut plain_failed, mut keyed_failed, mut reads_failed) = (0, 0, 0);
    for i in 0..6 {
        let read = stack
            .request(0, Method::GET, "/v1/trips")
            .send()
            .await
            .unwrap();
        reads_failed += usize::from(read.status() != StatusCode::OK);
        let keyed = favourite(Some(format!("key-{i}"))).await.unwrap();
        keyed_failed += usize::from(keyed.status() != StatusCode::OK);
        let plain = favourite(None).await.unwrap();
        if plain.status() != StatusCode::OK {
            assert_eq!(plain.status(), StatusCode::BAD_GATEWAY);
            plain_failed += 1;
        }
    }
    assert_eq!(reads_failed, 0, "reads are retried");
    assert_eq!(
        keyed_failed, 0,
        "writes with an Idempotency-Key are retried"
    );
    // Taken in turn, the replica that hangs up got some of the plain writes first: those
    // may have been done, so they are not sent again.
    assert!(plain_failed > 0, "a plain write is never sent twice");
    assert!(taken.load(std::sync::atomic::Ordering::SeqCst) >= plain_failed);
}
