//! The gateway's connections to a service: kept alive and reused request after request,
//! one the service closes is never used again, for a read or a write; the bodies both
//! ways framed as HTTP/1.1 says, whichever framing the client or the service chose; and a
//! service that does not answer in time is a 504.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Stack, StackOptions, error_code, stack_with_trips_at, start_raw_service};

/// How a test service ends its connections.
#[derive(Clone, Copy, PartialEq)]
enum Closes {
    /// Never: it keeps them alive.
    Never,
    /// After each answer, which says `Connection: close`.
    Saying,
    /// After each answer, without a word (as a service's idle timeout does).
    Silently,
}

/// A service answering `{}` to every request, and how many connections it accepted.
fn start_counting(close: Closes) -> (String, Arc<AtomicUsize>) {
    start_raw_service(move |stream| answer_each_request(stream, close))
}

async fn answer_each_request(mut stream: tokio::net::TcpStream, close: Closes) {
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
        let connection = if close == Closes::Saying {
            "connection: close\r\n"
        } else {
            ""
        };
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n{connection}\r\n{{}}"
        );
        if stream.write_all(answer.as_bytes()).await.is_err() || close != Closes::Never {
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
    let (url, accepted) = start_counting(Closes::Never);
    read_and_write(&stack_with_trips_at(url).await, 20).await;
    // One gateway worker, one request at a time: one connection for all 40.
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_connection_the_service_closes_is_not_used_again() {
    for close in [Closes::Saying, Closes::Silently] {
        let (url, accepted) = start_counting(close);
        // The write must not meet a closed connection in the first place.
        read_and_write(&stack_with_trips_at(url).await, 10).await;
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            20,
            "one connection per answer"
        );
    }
}

/// A service that answers as the request's `?answer=` says, and otherwise reports how the
/// request's body reached it: `{"framing": "length" | "chunked" | "none", "bytes": n,
/// "sum": byte sum}`; it counts the connections it accepts.
fn start_framing() -> (String, Arc<AtomicUsize>) {
    start_raw_service(answer_as_asked)
}

/// The body of `?answer=chunked` and `?answer=close`: 30,000 bytes of JSON.
fn big_json() -> String {
    format!("{{\"filler\":\"{}\"}}", "x".repeat(30_000 - 13))
}

async fn answer_as_asked(mut stream: tokio::net::TcpStream) {
    let mut buf = Vec::new();
    loop {
        let Some(head_end) = read_head(&mut stream, &mut buf).await else {
            return;
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        buf.drain(..head_end);
        let header = |name: &str| {
            head.lines()
                .find_map(|line| line.strip_prefix(&format!("{name}:")))
                .map(|v| v.trim().to_owned())
        };
        if head
            .lines()
            .next()
            .is_some_and(|l| l.contains("answer=early"))
        {
            // Refuses at once, reads none of the body, and holds the connection open.
            let refusal = "{\"error\":{\"code\":\"payload_too_large\"}}";
            let wire = format!(
                "HTTP/1.1 413 Payload Too Large\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{refusal}",
                refusal.len()
            );
            let _ = stream.write_all(wire.as_bytes()).await;
            tokio::time::sleep(std::time::Duration::from_secs(20)).await;
            return;
        }
        let (framing, body) = if header("transfer-encoding").as_deref() == Some("chunked") {
            let Some(body) = read_chunked(&mut stream, &mut buf).await else {
                return;
            };
            ("chunked", body)
        } else if let Some(length) = header("content-length") {
            let length: usize = length.parse().unwrap();
            while buf.len() < length {
                if stream.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                    return;
                }
            }
            ("length", buf.drain(..length).collect())
        } else {
            ("none", Vec::new())
        };
        let asked = head.lines().next().unwrap_or("");
        let answer = |what: &str| asked.contains(&format!("answer={what}"));
        let json = "content-type: application/json\r\n";
        let wire: Vec<u8> = if answer("chunked") {
            let body = big_json();
            let (a, b) = body.split_at(10_000);
            format!(
                "HTTP/1.1 200 OK\r\n{json}transfer-encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x};ext=1\r\n{b}\r\n0\r\nx-trailer: 1\r\n\r\n",
                a.len(),
                b.len()
            )
            .into()
        } else if answer("close") {
            let wire = format!("HTTP/1.1 200 OK\r\n{json}\r\n{}", big_json());
            let _ = stream.write_all(wire.as_bytes()).await;
            return;
        } else if answer("cut") {
            let wire = format!("HTTP/1.1 200 OK\r\n{json}content-length: 100\r\n\r\n{{\"cut\":");
            let _ = stream.write_all(wire.as_bytes()).await;
            return;
        } else if answer("broken") {
            format!("HTTP/1.1 200 OK\r\n{json}content-length: ten\r\n\r\n").into()
        } else if answer("empty") {
            "HTTP/1.1 204 No Content\r\n\r\n".into()
        } else {
            let sum: u64 = body.iter().map(|&b| u64::from(b)).sum();
            let report = format!(
                "{{\"framing\":\"{framing}\",\"bytes\":{},\"sum\":{sum}}}",
                body.len()
            );
            // A `HEAD` answer has the length a `GET`'s body would have, and no body.
            let shown = if asked.starts_with("head ") {
                ""
            } else {
                &report
            };
            format!(
                "HTTP/1.1 200 OK\r\n{json}content-length: {}\r\n\r\n{shown}",
                report.len()
            )
            .into()
        };
        if stream.write_all(&wire).await.is_err() {
            return;
        }
    }
}

/// Reads a chunked body off `buf` (reading more as needed), trailers and all.
async fn read_chunked(stream: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(at) = buf.windows(2).position(|w| w == b"\r\n") {
                break at;
            }
            if stream.read_buf(buf).await.ok()? == 0 {
                return None;
            }
        };
        let size = usize::from_str_radix(std::str::from_utf8(&buf[..line_end]).ok()?, 16).ok()?;
        buf.drain(..line_end + 2);
        while buf.len() < size + 2 {
            if stream.read_buf(buf).await.ok()? == 0 {
                return None;
            }
        }
        body.extend(buf.drain(..size));
        buf.drain(..2);
        if size == 0 {
            return Some(body);
        }
    }
}

#[tokio::test]
async fn answers_of_every_framing_reach_the_client_whole() {
    let (url, accepted) = start_framing();
    let stack = stack_with_trips_at(url).await;
    for answer in ["chunked", "close", "chunked"] {
        let response = stack
            .request(0, Method::GET, &format!("/v1/trips?answer={answer}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{answer}");
        assert_eq!(response.text().await.unwrap(), big_json(), "{answer}");
    }

    let response = stack
        .request(0, Method::HEAD, "/v1/trips")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let length = response.headers()["content-length"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(response.bytes().await.unwrap().is_empty());
    let (status, report) = stack.call(0, Method::GET, "/v1/trips", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        length,
        report.to_string().len().to_string(),
        "HEAD tells GET's length"
    );

    let (status, _) = stack
        .call(0, Method::GET, "/v1/trips?answer=empty", None, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, report) = stack.call(0, Method::GET, "/v1/trips", None, None).await;
    assert_eq!(
        (status, &report["framing"]),
        (StatusCode::OK, &"none".into())
    );
    // The answer framed by the close ended its connection; every other left it reusable.
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_broken_or_cut_answer_is_never_passed_off_as_whole() {
    let stack = stack_with_trips_at(start_framing().0).await;
    let (status, body) = stack
        .call(0, Method::GET, "/v1/trips?answer=broken", None, None)
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["error"]["code"], "bad_gateway");

    // The head promised 100 bytes and the service hung up after a few: the client's
    // connection is ended too (before or within the answer), so it cannot take the part
    // for the whole.
    let sent = stack
        .request(0, Method::GET, "/v1/trips?answer=cut")
        .send()
        .await;
    if let Ok(response) = sent {
        assert!(response.bytes().await.is_err());
    }

    let (status, _) = stack.call(0, Method::GET, "/v1/trips", None, None).await;
    assert_eq!(status, StatusCode::OK, "the gateway goes on serving");
}

#[tokio::test]
async fn request_bodies_reach_the_service_framed_and_whole() {
    let stack = stack_with_trips_at(start_framing().0).await;
    let alice = stack.sign_up_and_in("alice").await;
    // Small (read whole), and large (streamed through with its length).
    for size in [10, 200_000] {
        let body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let sum: u64 = body.iter().map(|&b| u64::from(b)).sum();
        let response = stack
            .request(0, Method::POST, "/v1/trips/1/favourite")
            .bearer_auth(&alice.access_token)
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let report: serde_json::Value = response.json().await.unwrap();
        assert_eq!(report["framing"], "length", "{size}");
        assert_eq!(report["bytes"], size, "{size}");
        assert_eq!(report["sum"], sum, "{size}");
    }

    // Chunked by the client, with no length: streamed through chunked.
    let address = stack.gw(0).trim_start_matches("http://").to_owned();
    let mut client = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "POST /v1/trips/1/favourite HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer {}\r\naccept: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        alice.access_token
    );
    client.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    client.read_to_string(&mut answer).await.unwrap();
    let sum: u64 = b"hello world".iter().map(|&b| u64::from(b)).sum();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let expected = format!("{{\"framing\":\"chunked\",\"bytes\":11,\"sum\":{sum}}}");
    assert!(answer.ends_with(&expected), "{answer}");
}

/// A body over a service's limit (256 KiB), streamed through by the gateway: the service's
/// own 413 reaches the client, whether the service read the body or refused it at once.
#[tokio::test]
async fn a_service_refusing_a_large_body_is_heard() {
    let stack = crate::helpers::Stack::start().await;
    for size in [300_000, 1_500_000] {
        let body = format!("{{\"account\":\"{}\"}}", "a".repeat(size));
        let response = stack
            .request(0, Method::POST, "/v1/auth/register")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE, "{size}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "payload_too_large", "{size}");
    }
}

/// A service that refuses a large body at once and reads none of it: its answer reaches
/// the client, not a timeout (the gateway stops sending when the answer comes).
#[tokio::test]
async fn an_answer_before_the_body_is_sent_is_relayed() {
    let stack = stack_with_trips_at(start_framing().0).await;
    let alice = stack.sign_up_and_in("alice").await;
    let address = stack.gw(0).trim_start_matches("http://").to_owned();
    let client = tokio::net::TcpStream::connect(address).await.unwrap();
    let (mut reading, mut writing) = client.into_split();
    let size = 32 * 1024 * 1024;
    let head = format!(
        "POST /v1/trips/1/favourite?answer=early HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer {}\r\naccept: application/json\r\ncontent-length: {size}\r\n\r\n",
        alice.access_token
    );
    // The body goes on being sent (as far as the gateway takes it) while the answer is read.
    tokio::spawn(async move {
        writing.write_all(head.as_bytes()).await?;
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..size / chunk.len() {
            writing.write_all(&chunk).await?;
        }
        std::io::Result::Ok(())
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            if reading.read_buf(&mut answer).await.unwrap() == 0 {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer within 10 s");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

#[tokio::test]
async fn a_service_that_does_not_answer_in_time_is_a_504_once_the_timeout_is_up() {
    let timeout = Duration::from_secs(1);
    // Reads requests and never answers.
    let (url, _) = start_raw_service(|mut stream| async move {
        let mut buf = vec![0; 4096];
        while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
    });
    let own = vec![
        ("/v1/trips/*".to_owned(), url.clone()),
        ("/v1/ratings/*".to_owned(), url),
    ];
    let stack = Stack::start_with(StackOptions {
        upstream_timeout: timeout,
        gateway_routes: vec![own.clone(), own],
        ..Default::default()
    })
    .await;
    let alice = stack.sign_up_and_in("alice").await;

    for (method, path) in [(Method::GET, "/v1/trips"), (Method::POST, "/v1/ratings")] {
        let started = Instant::now();
        let token = Some(alice.access_token.as_str());
        let body = (method == Method::POST).then(|| serde_json::json!({}));
        let (status, answer) = stack.call(0, method.clone(), path, token, body).await;
        let took = started.elapsed();
        assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{method}: {answer}");
        assert_eq!(
            error_code(&answer),
            "upstream_timeout",
            "{method}: {answer}"
        );
        // Within an eighth more than the timeout, with room for a busy machine (a GET may
        // be tried twice on its one replica, a POST is not).
        assert!(took >= timeout, "{method}: after {took:?}");
        assert!(took < timeout * 4, "{method}: after {took:?}");
    }
}
