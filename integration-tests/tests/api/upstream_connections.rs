//! The gateway's connections to a service: kept alive and reused request after request,
//! and one the service closes is never used again, for a read or a write.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Stack, stack_with_trips_at};

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

/// `rounds` times a read and a write (without an `Idempotency-Key`, so never sent twice)
/// through gateway 0, each answered 200.
async fn read_and_write(stack: &Stack, rounds: usize) {
    let alice = stack.sign_up_and_in("alice").await;
    for i in 0..rounds {
        let (status, body) = stack.call(0, Method::GET, "/v1/trips", None, None).await;
        assert_eq!(status, StatusCode::OK, "GET #{i}: {body}");
        let token = Some(alice.access_token.as_str());
        let (status, body) = stack
            .call(0, Method::POST, "/v1/trips/1/favourite", token, None)
            .await;
        assert_eq!(status, StatusCode::OK, "POST #{i}: {body}");
    }
}

#[tokio::test]
async fn requests_to_a_service_reuse_one_kept_alive_connection() {
    let (url, accepted) = start_counting(false);
    read_and_write(&stack_with_trips_at(url).await, 20).await;
    // One gateway worker, one request at a time: one connection for all 40.
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_connection_the_service_closes_is_not_used_again() {
    let (url, accepted) = start_counting(true);
    // The write must not meet a closed connection in the first place.
    read_and_write(&stack_with_trips_at(url).await, 10).await;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        20,
        "one connection per answer"
    );
}
