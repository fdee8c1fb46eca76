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

use bytes::BytesMut;
use hyper::header::{self as rh, HeaderMap, HeaderValue};
use hyper::http::request::Parts;
use hyper::upgrade::OnUpgrade;
use hyper::{Method, Response, StatusCode};
use hyper_util::rt::TokioIo;
use shared::replicas::Replicas;
use shared::server::Drain;
use shared::{ApiError, Code};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::body::{Answer, ToClient};
use crate::proxy::{Forwarding, has_token, relayed, write_upstream_headers};
use crate::upstreams::Upstream;
use crate::wire::{self, RequestHead, ResponseHead};

/// Connecting and the upstream's handshake answer must each come within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest body of a refusal relayed.
const MAX_REFUSAL_BODY: usize = 64 * 1024;

/// A WebSocket handshake: `GET` with `Upgrade: websocket` and `Connection: upgrade`.
pub fn is_upgrade(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::GET
        && has_token(headers, &rh::UPGRADE, "websocket")
        && has_token(headers, &rh::CONNECTION, "upgrade")
}

/// Forwards the handshake (`forwarding`'s upstream aside) to the first replica that takes
/// the connection (the others are passed over for a while), then relays the socket until
/// either side closes or the gateway's drain `grace` is over. `client`: hyper's hold on
/// the client's connection once it is switched (`hyper::upgrade::on`).
pub async fn forward(
    head: &Parts,
    client: OnUpgrade,
    replicas: &Replicas,
    forwarding: Forwarding<'_>,
    drain: &Drain,
) -> Result<Answer, ApiError> {
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
    let request = request_head(head, &forwarding, authority);
    upstream.write_all(&request).await.map_err(bad_gateway_io)?;

    let mut rest = BytesMut::with_capacity(4096);
    let head = tokio::time::timeout(HANDSHAKE_TIMEOUT, read_head(&mut upstream, &mut rest))
        .await
        .map_err(|_| timeout())??;
    if head.status != StatusCode::SWITCHING_PROTOCOLS {
        return refusal(upstream, head, rest).await;
    }

    let mut response = Response::new(ToClient::empty());
    *response.status_mut() = head.status;
    head.fields.move_into(response.headers_mut());
    response
        .headers_mut()
        .insert(rh::UPGRADE, HeaderValue::from_static("websocket"));
    response
        .headers_mut()
        .insert(rh::CONNECTION, HeaderValue::from_static("upgrade"));
    // A stopping gateway ends its tunnels when its grace is over: the client resumes
    // through another replica (chat-service's sockets resume by sequence number).
    let drain = drain.clone();
    tokio::spawn(async move {
        let Ok(client) = client.await else { return };
        let mut client = TokioIo::new(client);
        let relay = async {
            // What came with the handshake answer goes first.
            if !rest.is_empty() {
                client.write_all(&rest).await?;
            }
            tokio::io::copy_bidirectional(&mut client, &mut upstream).await
        };
        tokio::select! {
            _ = relay => {}
            () = drain.grace_over() => {}
        }
    });
    Ok(response)
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
fn request_head(req: &Parts, forwarding: &Forwarding<'_>, authority: &str) -> Vec<u8> {
    let mut head = RequestHead::new(
        &Method::GET,
        forwarding.canonical_path,
        req.uri.query(),
        authority,
    );
    write_upstream_headers(&mut head, req, forwarding);
    head.header("upgrade", b"websocket");
    head.header("connection", b"upgrade");
    head.finish()
}

/// Reads the upstream's response head (its relayed headers); whatever followed it stays
/// in `buf`.
async fn read_head(upstream: &mut TcpStream, buf: &mut BytesMut) -> Result<ResponseHead, ApiError> {
    loop {
        if upstream.read_buf(buf).await.map_err(bad_gateway_io)? == 0 {
            return Err(bad_gateway(
                "the service closed the connection during the handshake",
            ));
        }
        match wire::parse_response(buf, &Method::GET, relayed) {
            Ok(Some(head)) => return Ok(head),
            Ok(None) => continue,
            Err(wire::Malformed(why)) => return Err(bad_gateway(why)),
        }
    }
}

/// The upstream refused the upgrade (401, 403, 429…): relay its answer (a body of a
/// known length, up to [`MAX_REFUSAL_BODY`]).
async fn refusal(
    mut upstream: TcpStream,
    head: ResponseHead,
    mut body: BytesMut,
) -> Result<Answer, ApiError> {
    let length = match head.framing {
        wire::Framing::Length(length) => usize::try_from(length).unwrap_or(usize::MAX),
        _ => 0,
    }
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
    let mut response = Response::new(ToClient::whole(body.freeze()));
    *response.status_mut() = head.status;
    head.fields.move_into(response.headers_mut());
    Ok(response)
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

    #[test]
    fn only_a_get_with_both_upgrade_headers_is_a_websocket_handshake() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for &(name, value) in pairs {
                map.append(name, HeaderValue::from_static(value));
            }
            map
        };
        let handshake = headers(&[
            ("upgrade", "WebSocket"),
            ("connection", "keep-alive, Upgrade"),
        ]);
        assert!(is_upgrade(&Method::GET, &handshake));
        assert!(!is_upgrade(&Method::POST, &handshake));
        assert!(!is_upgrade(
            &Method::GET,
            &headers(&[("upgrade", "websocket")])
        ));
        assert!(!is_upgrade(
            &Method::GET,
            &headers(&[("upgrade", "h2c"), ("connection", "upgrade")])
        ));
    }
}
