//! HTTP/1.1 from clients, byte by byte: the gateway reads plain requests itself and hands
//! a connection to hyper at its first request that is not plain (chunked, `Expect`,
//! HTTP/1.0, malformed). Each test writes raw requests to a gateway whose `/v1/auth/register` and
//! `/v1/trips/*` lead to a service that answers with what it received.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Stack, StackOptions, start_raw_service};

/// What the service received: each request's line and body, in order.
type Received = Arc<Mutex<Vec<(String, String)>>>;

/// A service that answers each request with `{"line": …, "body": …}` of what it got.
fn start_recording_service() -> (String, Received) {
    let received: Received = Arc::default();
    let seen = received.clone();
    let (url, _) = start_raw_service(move |mut stream| {
        let seen = seen.clone();
        async move {
            let mut buf = Vec::new();
            let mut chunk = [0; 4096];
            loop {
                let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                    match stream.read(&mut chunk).await {
                        Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                        _ => return,
                    }
                    continue;
                };
                let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                let field = |name: &str| {
                    head.lines().find_map(|l| {
                        let (n, value) = l.split_once(':')?;
                        n.eq_ignore_ascii_case(name)
                            .then(|| value.trim().to_owned())
                    })
                };
                let chunked = field("transfer-encoding").is_some_and(|v| v == "chunked");
                let length: usize = field("content-length").map_or(0, |v| v.parse().unwrap());
                let (body, used) = loop {
                    let rest = &buf[end + 4..];
                    let whole = if chunked {
                        dechunked(rest)
                    } else {
                        (rest.len() >= length).then(|| (rest[..length].to_vec(), length))
                    };
                    if let Some(whole) = whole {
                        break whole;
                    }
                    match stream.read(&mut chunk).await {
                        Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                        _ => return,
                    }
                };
                let body = String::from_utf8_lossy(&body).into_owned();
                buf.drain(..end + 4 + used);
                let line = head.lines().next().unwrap_or_default().to_owned();
                let answer = serde_json::json!({"line": line, "body": body}).to_string();
                seen.lock().unwrap().push((line, body));
                let written = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                     x-request-id: the-service-s\r\nkeep-alive: timeout=5\r\nx-trip: kept\r\n\r\n{answer}",
                    answer.len()
                );
                if stream.write_all(written.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    });
    (url, received)
}

/// A chunked body whole at the start of `bytes`: its data and the bytes it took.
fn dechunked(bytes: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut data = Vec::new();
    let mut at = 0;
    loop {
        let line = bytes[at..].windows(2).position(|w| w == b"\r\n")?;
        let size =
            usize::from_str_radix(std::str::from_utf8(&bytes[at..at + line]).ok()?, 16).ok()?;
        at += line + 2;
        if bytes.len() < at + size + 2 {
            return None;
        }
        data.extend_from_slice(&bytes[at..at + size]);
        at += size + 2;
        if size == 0 {
            return Some((data, at));
        }
    }
}

async fn start() -> (Stack, Received, TcpStream) {
    let (url, received) = start_recording_service();
    let own = vec![
        ("/v1/auth/register".to_owned(), url.clone()),
        ("/v1/trips/*".to_owned(), url),
    ];
    let stack = Stack::start_with(StackOptions {
        gateway_routes: vec![own.clone(), own],
        ..Default::default()
    })
    .await;
    let client = connect(&stack).await;
    (stack, received, client)
}

async fn connect(stack: &Stack) -> TcpStream {
    let address = stack.gateways[0].trim_start_matches("http://");
    TcpStream::connect(address).await.unwrap()
}

/// An answer as read from the connection.
#[derive(Debug)]
struct Read {
    status: u16,
    head: String,
    body: String,
}

impl Read {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {self:?}"))
    }
}

/// Reads `count` answers framed by their `content-length`, then what follows until the
/// connection closes or goes quiet for half a second: (answers, closed).
async fn read_answers(client: &mut TcpStream, count: usize) -> (Vec<Read>, bool) {
    let mut buf = Vec::new();
    let mut answers = Vec::new();
    let mut chunk = [0; 8192];
    let mut closed = false;
    while answers.len() < count || !closed {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let status: u16 = head[9..12].parse().unwrap();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .map_or(0, |v| v.parse().unwrap());
            if status == 100 || buf.len() >= end + 4 + length {
                let length = if status == 100 { 0 } else { length };
                let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).into_owned();
                buf.drain(..end + 4 + length);
                answers.push(Read { status, head, body });
                continue;
            }
        }
        let wait = if answers.len() < count { 10_000 } else { 500 };
        match tokio::time::timeout(Duration::from_millis(wait), client.read(&mut chunk)).await {
            Ok(Ok(0) | Err(_)) => closed = true,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Err(_) if answers.len() < count => panic!("only {answers:?} after 10 s"),
            Err(_) => break,
        }
        if closed && answers.len() < count {
            panic!(
                "closed after {answers:?}, {:?}",
                String::from_utf8_lossy(&buf)
            );
        }
    }
    assert!(buf.is_empty(), "bytes past the answers: {buf:?}");
    (answers, closed)
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_and_close_is_honoured() {
    let (_stack, received, mut client) = start().await;
    client
        .write_all(
            b"GET /v1/trips/1 HTTP/1.1\r\nhost: gw\r\n\r\n\
              POST /v1/auth/register HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\ncontent-length: 7\r\n\r\n{\"a\":1}\
              GET /v1/trips/3?x=y HTTP/1.1\r\nhost: gw\r\nconnection: close\r\n\r\n",
        )
        .await
        .unwrap();
    let (answers, closed) = read_answers(&mut client, 3).await;
    assert!(closed, "connection: close was not honoured");
    assert_eq!(answers.len(), 3, "{answers:?}");
    assert!(answers.iter().all(|a| a.status == 200), "{answers:?}");
    assert_eq!(answers[0].json()["line"], "GET /v1/trips/1 HTTP/1.1");
    assert_eq!(answers[1].json()["line"], "POST /v1/auth/register HTTP/1.1");
    assert_eq!(answers[1].json()["body"], "{\"a\":1}");
    assert_eq!(answers[2].json()["line"], "GET /v1/trips/3?x=y HTTP/1.1");
    assert!(
        answers[2].head.contains("\r\nconnection: close"),
        "{:?}",
        answers[2]
    );
    for answer in &answers {
        for line in [
            "\r\ndate: ",
            "\r\ncontent-type: application/json",
            "\r\nx-trip: kept",
        ] {
            assert!(answer.head.contains(line), "{line:?} missing: {answer:?}");
        }
        // The gateway's request id alone, and nothing hop-by-hop from the service.
        assert_eq!(
            answer.head.matches("x-request-id: ").count(),
            1,
            "{answer:?}"
        );
        assert!(!answer.head.contains("the-service-s"), "{answer:?}");
        assert!(!answer.head.contains("keep-alive"), "{answer:?}");
    }
    assert_eq!(received.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn a_head_in_single_bytes_and_a_body_in_pieces_are_read_whole() {
    let (_stack, _received, mut client) = start().await;
    let head = b"POST /v1/auth/register HTTP/1.1\r\nhost: gw\r\ncontent-length: 11\r\n\r\n";
    for byte in head {
        client.write_all(&[*byte]).await.unwrap();
        client.flush().await.unwrap();
    }
    client.write_all(b"hello").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    client.write_all(b" world").await.unwrap();
    let (answers, closed) = read_answers(&mut client, 1).await;
    assert!(!closed);
    assert_eq!(answers[0].json()["body"], "hello world");
}

/// The requests hyper serves: once one arrives, the connection is hyper's, and it serves
/// plain ones after it as before.
#[tokio::test]
async fn after_a_chunked_request_the_connection_goes_on_with_hyper() {
    let (_stack, received, mut client) = start().await;
    client
        .write_all(
            b"POST /v1/auth/register HTTP/1.1\r\nhost: gw\r\ncontent-length: 5\r\n\r\nfirst\
              POST /v1/auth/register HTTP/1.1\r\nhost: gw\r\ntransfer-encoding: chunked\r\n\r\n\
              3\r\nsec\r\n3\r\nond\r\n0\r\n\r\n\
              POST /v1/auth/register HTTP/1.1\r\nhost: gw\r\ncontent-length: 5\r\n\r\nthird",
        )
        .await
        .unwrap();
    let (answers, closed) = read_answers(&mut client, 3).await;
    assert!(!closed);
    let bodies: Vec<_> = answers.iter().map(|a| a.json()["body"].clone()).collect();
    assert_eq!(bodies, ["first", "second", "third"]);
    assert_eq!(received.lock().unwrap().len(), 3);
    // Answered by hyper as by the gateway's own server.
    for answer in &answers {
        assert_eq!(
            answer.head.matches("x-request-id: ").count(),
            1,
            "{answer:?}"
        );
        assert!(answer.head.contains("\r\nx-trip: kept"), "{answer:?}");
        assert!(!answer.head.contains("keep-alive"), "{answer:?}");
    }
}

#[tokio::test]
async fn expect_100_continue_is_answered_before_the_body_is_sent() {
    let (_stack, _received, mut client) = start().await;
    client
        .write_all(b"POST /v1/auth/register HTTP/1.1\r\nhost: gw\r\nexpect: 100-continue\r\ncontent-length: 4\r\n\r\n")
        .await
        .unwrap();
    let (interim, _) = read_answers(&mut client, 1).await;
    assert_eq!(interim[0].status, 100, "{interim:?}");
    client.write_all(b"body").await.unwrap();
    let (answers, _) = read_answers(&mut client, 1).await;
    assert_eq!(answers[0].json()["body"], "body");
}

#[tokio::test]
async fn an_http_1_0_request_is_answered_and_its_connection_closed() {
    let (_stack, _received, mut client) = start().await;
    client
        .write_all(b"GET /v1/trips/1 HTTP/1.0\r\nhost: gw\r\n\r\n")
        .await
        .unwrap();
    let (answers, closed) = read_answers(&mut client, 1).await;
    assert!(answers[0].head.starts_with("HTTP/1.0 200"), "{answers:?}");
    assert_eq!(answers[0].json()["line"], "GET /v1/trips/1 HTTP/1.1");
    assert!(closed);
}

/// Framing read two ways would let a request hide in another's body: refused, and the
/// service never receives a whole request.
#[tokio::test]
async fn ambiguous_or_malformed_framing_is_refused_and_nothing_reaches_the_service() {
    let (stack, received, _) = start().await;
    for raw in [
        "POST /v1/auth/register HTTP/1.1\r\nhost: gw\r\ncontent-length: 3\r\ncontent-length: 40\r\n\r\nabc",
        "POST /v1/auth/register HTTP/1.1\r\nhost: gw\r\ncontent-length: +3\r\n\r\nabc",
        "POST /v1/auth/register HTTP/1.1\r\nhost: gw\r\ncontent-length : 3\r\n\r\nabc",
        "POST /v1/auth/register HTTP/1.1\r\nhost: gw\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        "GET /v1/trips/1 HTTP/1.1\r\nhost: gw\r\nx-folded: a\r\n b\r\n\r\n",
    ] {
        let mut client = connect(&stack).await;
        client.write_all(raw.as_bytes()).await.unwrap();
        let (answers, closed) = read_answers(&mut client, 1).await;
        assert_eq!(answers[0].status, 400, "{raw:?}: {answers:?}");
        assert!(closed, "{raw:?}: left open");
        assert!(
            received.lock().unwrap().is_empty(),
            "{raw:?} reached the service"
        );
    }
}
