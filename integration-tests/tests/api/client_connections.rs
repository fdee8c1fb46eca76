//! The gateway's connections from clients: one with no request in flight, kept alive or
//! sending its head too slowly, is closed after `CLIENT_IDLE_TIMEOUT`; one waiting on a
//! slow answer is not.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Stack, StackOptions, start_raw_service};

const IDLE: Duration = Duration::from_secs(1);

async fn connect(stack: &Stack) -> TcpStream {
    let address = stack.gateways[0].trim_start_matches("http://");
    TcpStream::connect(address).await.unwrap()
}

/// Reads until the gateway closes the connection (or 10 s pass): when that was, and what
/// arrived before.
async fn until_closed(stream: &mut TcpStream) -> (Instant, String) {
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return Instant::now(),
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let closed = read.unwrap_or_else(|_| panic!("still open after 10 s"));
    (closed, String::from_utf8_lossy(&got).into_owned())
}

#[tokio::test]
async fn an_idle_connection_and_a_dribbled_head_are_closed_after_the_idle_timeout() {
    let stack = Stack::start_with(StackOptions {
        client_idle_timeout: IDLE,
        ..Default::default()
    })
    .await;

    // A kept-alive connection after its answer.
    let mut kept = connect(&stack).await;
    kept.write_all(b"GET /healthz HTTP/1.1\r\nhost: gw\r\n\r\n")
        .await
        .unwrap();
    let answered = Instant::now();
    // A head that never ends: a byte every 100 ms.
    let mut dribbling = connect(&stack).await;
    let opened = Instant::now();
    let dribble = async {
        dribbling
            .write_all(b"GET /healthz HTTP/1.1\r\n")
            .await
            .unwrap();
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if dribbling.write_all(b"x").await.is_err() {
                break;
            }
        }
    };
    let ((closed, got), ()) = tokio::join!(until_closed(&mut kept), dribble);
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    let after = closed - answered;
    assert!(
        after >= IDLE * 3 / 4 && after < IDLE * 4,
        "idle one closed after {after:?}"
    );

    let (closed, got) = until_closed(&mut dribbling).await;
    assert_eq!(got, "", "the dribbled head was answered");
    let after = closed - opened;
    assert!(
        after >= IDLE * 3 / 4 && after < IDLE * 4,
        "dribbling one closed after {after:?}"
    );
}

#[tokio::test]
async fn a_request_waiting_longer_than_the_idle_timeout_keeps_its_connection() {
    // The first answer's head comes late, the second's body.
    let slow = IDLE * 5 / 2;
    let (url, _) = start_raw_service(move |mut stream| async move {
        let mut buf = vec![0; 4096];
        for round in 0.. {
            if !matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {
                return;
            }
            if round == 0 {
                tokio::time::sleep(slow).await;
            }
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n1\r\n[\r\n";
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            if round == 1 {
                tokio::time::sleep(slow).await;
            }
            if stream.write_all(b"1\r\n]\r\n0\r\n\r\n").await.is_err() {
                return;
            }
        }
    });
    let own = vec![("/v1/trips/*".to_owned(), url)];
    let stack = Stack::start_with(StackOptions {
        client_idle_timeout: IDLE,
        gateway_routes: vec![own.clone(), own],
        ..Default::default()
    })
    .await;

    let mut client = connect(&stack).await;
    for round in 0..2 {
        client
            .write_all(b"GET /v1/trips HTTP/1.1\r\nhost: gw\r\naccept: application/json\r\n\r\n")
            .await
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0; 4096];
        while !got.ends_with(b"0\r\n\r\n") {
            let n = client.read(&mut buf).await.unwrap();
            assert!(n > 0, "round {round}: closed while the answer was awaited");
            got.extend_from_slice(&buf[..n]);
        }
        let got = String::from_utf8_lossy(&got);
        assert!(got.starts_with("HTTP/1.1 200"), "round {round}: {got}");
        assert!(
            got.contains("\r\n[\r\n") && got.contains("\r\n]\r\n"),
            "round {round}: {got}"
        );
    }
}
