//! The gateway's connections to a service: kept alive and reused request after request,
//! and one the service closes is never used again, for a read or a write.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Stack, StackOptions};

/// A service answering `{}` to every request and counting the connections it accepts;
/// with `close`, it says `Connection: close` and closes after each answer.
fn start_counting(close: bool) -> (String, Arc<AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counted = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(answer_each_request(stream, close));
        }
    });
    (url, accepted)
}

async fn answer_each_request(mut stream: tokio::net::TcpStream, close: bool) {
    let mut buf = Vec::new();
    loop {
        let Some(head_end) = read_head(&mut stream, &mut buf).await else {
            return;
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            if stream.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                return;
            }
        }
        buf.drain(..head_end + length);
        let connection = if close { "connection: close\r\n" } else { "" };
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n{connection}\r\n{{}}"
        );
        if stream.write_all(answer.as_bytes()).await.is_err() || close {
            return;
        }
    }
}

/// Reads until `buf` holds a whole request head; its length, or `None` at the end.
async fn read_head(stream: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) -> Option<usize> {
    loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(at + 4);
        }
        if stream.read_buf(buf).await.ok()? == 0 {
            return None;
        }
    }
}

async fn stack_with_trips_at(url: String) -> Stack {
    let own = vec![("/v1/trips/*".to_owned(), url)];
    Stack::start_with(StackOptions {
        gateway_routes: vec![own.clone(), own],
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn requests_to_a_service_reuse_one_kept_alive_connection() {
    let (url, accepted) = start_counting(false);
    let stack = stack_with_trips_at(url).await;
    let alice = stack.sign_up_and_in("alice").await;
    for i in 0..20 {
        let (status, body) = stack.call(0, Method::GET, "/v1/trips", None, None).await;
        assert_eq!(status, StatusCode::OK, "GET #{i}: {body}");
        let (status, body) = stack
            .call(
                0,
                Method::POST,
                "/v1/trips/1/favourite",
                Some(&alice.access_token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "POST #{i}: {body}");
    }
    // One gateway worker, one request at a time: one connection for all 40.
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_connection_the_service_closes_is_not_used_again() {
    let (url, accepted) = start_counting(true);
    let stack = stack_with_trips_at(url).await;
    let alice = stack.sign_up_and_in("alice").await;
    for i in 0..10 {
        let (status, body) = stack.call(0, Method::GET, "/v1/trips", None, None).await;
        assert_eq!(status, StatusCode::OK, "GET #{i}: {body}");
        // A write without an Idempotency-Key is never sent twice: it must not meet a
        // closed connection in the first place.
        let (status, body) = stack
            .call(
                0,
                Method::POST,
                "/v1/trips/1/favourite",
                Some(&alice.access_token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "POST #{i}: {body}");
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        20,
        "one connection per answer"
    );
}
