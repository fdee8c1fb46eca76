//! WebSocket pass-through.
//!
//! The HTTP proxy forwards request/response pairs and drops hop-by-hop headers such as
//! `Upgrade` and `Connection`, so a WebSocket handshake needs a path of its own. After the
//! usual canonicalisation, routing and authentication, an upgrade request is sent to the
//! upstream over a fresh TCP connection: the canonical request line, the same filtered
//! headers plus the gateway's identity and internal headers, and `Upgrade`/`Connection`.
//! The upstream's answer is relayed; when it is `101 Switching Protocols`, bytes are copied
//! both ways until either side closes. (actix hands the raw bytes after a WebSocket
//! handshake to the handler as the request payload and sends a streaming 101 body as is.)

use std::time::Duration;

use actix_web::http::{StatusCode, header as ah};
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use shared::{ApiError, Code};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;

use shared::replicas::Replicas;
use shared::server::Drain;

use crate::proxy::{Forwarding, upstream_headers};
use crate::upstreams::Upstream;

/// Connecting and the upstream's handshake answer must each come within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest upstream response head, and largest body of a refusal, relayed.
const MAX_HEAD: usize = 16 * 1024;
const MAX_REFUSAL_BODY: usize = 64 * 1024;

/// A WebSocket handshake: `GET` with `Upgrade: websocket` and `Connection: upgrade`.
pub fn is_upgrade(req: &HttpRequest) -> bool {
    let has_token = |name: ah::HeaderName, token: &str| {
        req.headers()
            .get_all(name)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|v| v.trim().eq_ignore_ascii_case(token))
    };
    req.method() == actix_web::http::Method::GET
        && has_token(ah::UPGRADE, "websocket")
        && has_token(ah::CONNECTION, "upgrade")
}

/// Forwards the handshake (`forwarding`'s upstream aside) to the first replica that takes the connection (the others are
/// passed over for a while), then relays the socket.
pub async fn forward(
    req: &HttpRequest,
    payload: web::Payload,
    replicas: &Replicas,
    forwarding: Forwarding<'_>,
) -> Result<HttpResponse, ApiError> {
    let mut refused = None;
    let mut connected = None;
    for replica in crate::upstreams::attempts(replicas) {
        let chosen = Upstream {
            base_url: replicas.url(replica).clone(),
        };
        match connect(&chosen).await {
            Ok(stream) => {
                replicas.answered(replica);
                connected = Some((chosen, stream));
                break;
            }
            Err(err) => {
                if err.code() != Code::BadGateway {
                    replicas.failed(replica);
                }
                refused = Some(err);
            }
        }
    }
    let Some((chosen, mut upstream)) = connected else {
        return Err(refused.unwrap_or_else(|| bad_gateway("no replica to connect to")));
    };
    let forwarding = Forwarding {
        upstream: &chosen,
        ..forwarding
    };
    let authority = authority(&chosen)?;
    let _ = upstream.set_nodelay(true);
    let head = request_head(req, &forwarding, authority);
    upstream.write_all(&head).await.map_err(bad_gateway_io)?;

    let (status, headers, rest) = tokio::time::timeout(HANDSHAKE_TIMEOUT, read_head(&mut upstream))
        .await
        .map_err(|_| timeout())??;
    if status != StatusCode::SWITCHING_PROTOCOLS {
        return refusal(upstream, status, headers, rest).await;
    }

    let mut response = HttpResponse::build(status);
    response.upgrade("websocket");
    for (name, value) in &headers {
        if !is_hop_by_hop(name) {
            response.append_header((name.clone(), value.clone()));
        }
    }
    let (reader, mut writer) = upstream.into_split();
    // A stopping gateway ends its tunnels when its grace is over: the client resumes
    // through another replica (chat-service's sockets resume by sequence number).
    let drain = req
        .app_data::<Drain>()
        .cloned()
        .unwrap_or_else(|| Drain::new(Duration::ZERO, Duration::ZERO));
    let grace_over = || {
        let drain = drain.clone();
        Box::pin(async move { drain.grace_over().await })
    };
    // Client → upstream, on this worker (the payload is tied to it).
    let mut payload = payload.take_until(grace_over());
    actix_web::rt::spawn(async move {
        while let Some(Ok(chunk)) = payload.next().await {
            if writer.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = writer.shutdown().await;
    });
    Ok(response.streaming(upstream_bytes(rest, reader).take_until(grace_over())))
}

fn authority(upstream: &Upstream) -> Result<&str, ApiError> {
    upstream.base_url.strip_prefix("http://").ok_or_else(|| {
        bad_gateway("WebSocket upstreams must be plain http:// on the internal network")
    })
}

async fn connect(upstream: &Upstream) -> Result<TcpStream, ApiError> {
    tokio::time::timeout(HANDSHAKE_TIMEOUT, TcpStream::connect(authority(upstream)?))
        .await
        .map_err(|_| timeout())?
        .map_err(|err| {
            ApiError::new(
                Code::UpstreamUnavailable,
                "The service is unavailable; retry shortly.",
            )
            .with_source(err)
        })
}

/// The canonical request line, the forwarded headers, and the handshake headers.
fn request_head(req: &HttpRequest, forwarding: &Forwarding<'_>, authority: &str) -> Vec<u8> {
    let mut head = format!("GET {}", forwarding.canonical_path);
    if let Some(query) = req.uri().query() {
        head.push('?');
        head.push_str(query);
    }
    head.push_str(" HTTP/1.1\r\nhost: ");
    head.push_str(authority);
    head.push_str("\r\n");
    let mut head = head.into_bytes();
    for (name, value) in upstream_headers(req, forwarding).iter() {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"upgrade: websocket\r\nconnection: upgrade\r\n\r\n");
    head
}

type Head = (StatusCode, Vec<(ah::HeaderName, ah::HeaderValue)>, BytesMut);

/// Reads the upstream's response head; returns it and whatever followed it.
async fn read_head(upstream: &mut TcpStream) -> Result<Head, ApiError> {
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        if upstream.read_buf(&mut buf).await.map_err(bad_gateway_io)? == 0 {
            return Err(bad_gateway(
                "the service closed the connection during the handshake",
            ));
        }
        let mut parsed = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut parsed);
        match response.parse(&buf) {
            Ok(httparse::Status::Complete(length)) => {
                let status = response
                    .code
                    .and_then(|code| StatusCode::from_u16(code).ok())
                    .ok_or_else(|| bad_gateway("the service sent no status"))?;
                let headers = response
                    .headers
                    .iter()
                    .filter_map(|h| {
                        Some((
                            ah::HeaderName::from_bytes(h.name.as_bytes()).ok()?,
                            ah::HeaderValue::from_bytes(h.value).ok()?,
                        ))
                    })
                    .collect();
                let rest = buf.split_off(length);
                return Ok((status, headers, rest));
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => continue,
            _ => return Err(bad_gateway("the service sent a malformed handshake answer")),
        }
    }
}

/// The upstream refused the upgrade (401, 403, 429…): relay its answer.
async fn refusal(
    mut upstream: TcpStream,
    status: StatusCode,
    headers: Vec<(ah::HeaderName, ah::HeaderValue)>,
    mut body: BytesMut,
) -> Result<HttpResponse, ApiError> {
    let length = headers
        .iter()
        .find(|(name, _)| name == ah::CONTENT_LENGTH)
        .and_then(|(_, value)| value.to_str().ok()?.parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_REFUSAL_BODY);
    while body.len() < length {
        let read = tokio::time::timeout(HANDSHAKE_TIMEOUT, upstream.read_buf(&mut body))
            .await
            .map_err(|_| timeout())?
            .map_err(bad_gateway_io)?;
        if read == 0 {
            break;
        }
    }
    body.truncate(length);
    let mut response = HttpResponse::build(status);
    for (name, value) in headers {
        if !is_hop_by_hop(&name) && name != ah::CONTENT_LENGTH {
            response.append_header((name, value));
        }
    }
    Ok(response.body(body.freeze()))
}

/// Upstream → client: what came with the handshake answer, then everything read.
fn upstream_bytes(
    first: BytesMut,
    reader: OwnedReadHalf,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    let first = (!first.is_empty()).then(|| first.freeze());
    futures_util::stream::unfold((first, reader), |(first, mut reader)| async move {
        if let Some(first) = first {
            return Some((Ok(first), (None, reader)));
        }
        let mut buf = BytesMut::with_capacity(8 * 1024);
        match reader.read_buf(&mut buf).await {
            Ok(0) => None,
            Ok(_) => Some((Ok(buf.freeze()), (None, reader))),
            Err(err) => Some((Err(err), (None, reader))),
        }
    })
}

fn is_hop_by_hop(name: &ah::HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "upgrade"
            | "content-length"
            | "te"
            | "trailer"
    )
}

fn timeout() -> ApiError {
    ApiError::new(Code::UpstreamTimeout, "The service did not answer in time.")
}

fn bad_gateway(why: &'static str) -> ApiError {
    ApiError::new(Code::BadGateway, "The service answered badly.").with_source(anyhow::anyhow!(why))
}

fn bad_gateway_io(err: std::io::Error) -> ApiError {
    ApiError::new(Code::BadGateway, "The service answered badly.").with_source(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn only_a_get_with_both_upgrade_headers_is_a_websocket_handshake() {
        let handshake = || {
            TestRequest::get()
                .insert_header(("upgrade", "WebSocket"))
                .insert_header(("connection", "keep-alive, Upgrade"))
        };
        assert!(is_upgrade(&handshake().to_http_request()));
        assert!(!is_upgrade(
            &handshake()
                .method(actix_web::http::Method::POST)
                .to_http_request()
        ));
        assert!(!is_upgrade(
            &TestRequest::get()
                .insert_header(("upgrade", "websocket"))
                .to_http_request()
        ));
        assert!(!is_upgrade(
            &TestRequest::get()
                .insert_header(("upgrade", "h2c"))
                .insert_header(("connection", "upgrade"))
                .to_http_request()
        ));
    }
}
