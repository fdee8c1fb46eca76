//! Forwarding a request to its upstream and streaming the answer back.
//!
//! Method, canonical path, query, headers (minus hop-by-hop headers, the client's
//! credentials and anything only the gateway may set) and the body go upstream through
//! one pooled client per worker. The gateway adds `X-Request-Id`, `X-Forwarded-For`,
//! `X-Real-IP`, the internal token and, for signed-in callers, `X-User-Id`,
//! `X-Session-Id`, `X-User-Roles` and `X-User-Scopes`. An unreachable upstream is a 503,
//! a slow one a 504, a broken answer a 502, all in the JSON error shape.

use std::borrow::Cow;
use std::net::IpAddr;
use std::time::Duration;

use actix_web::body::{BodyStream, SizedStream};
use actix_web::http::{StatusCode, header as ah};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Body, Frame, Incoming};
use hyper::header as rh;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use shared::http::RequestId;
use shared::identity::{GATEWAY_ONLY_HEADERS, names};
use shared::{ApiError, Code};

use crate::auth::Caller;
use crate::metrics::GatewayMetrics;
use crate::upstreams::Upstream;

/// Bodies up to this size are read whole and sent with a length (and can be sent again
/// to another replica); larger or unsized bodies are streamed through, once.
const BUFFERED_BODY_LIMIT: u64 = 64 * 1024;

/// What the gateway adds to the forwarded request.
#[derive(Clone, Copy)]
pub struct Forwarding<'a> {
    pub upstream: &'a Upstream,
    pub canonical_path: &'a str,
    pub client_ip: IpAddr,
    pub caller: Option<&'a Caller>,
    pub granted: Option<&'a Granted>,
    pub internal_token: &'a rh::HeaderValue,
}

/// What a signed-in caller's roles hold, as comma-separated names.
pub struct Granted {
    /// For `X-User-Roles`.
    pub roles: String,
    /// For `X-User-Scopes`.
    pub scopes: String,
}

/// The pooled HTTP/1 client forwarded requests go through, one per worker (hyper-util's:
/// reqwest's extra layer cost about a fifth of the gateway's throughput).
#[derive(Clone)]
pub struct UpstreamClient {
    client: Client<HttpConnector, ProxyBody>,
    timeout: Duration,
}

pub type ProxyBody = UnsyncBoxBody<Bytes, std::io::Error>;

impl UpstreamClient {
    /// `timeout` bounds the wait for the answer's head (connecting: 2 s).
    pub fn new(timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(2)));
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(256)
            .build(connector);
        Self { client, timeout }
    }
}

/// Forwards the request to `forwarding.upstream` (whichever replica the caller chose),
/// with `body`, one attempt's body from [`RequestBody::attempt`].
pub async fn forward(
    client: &UpstreamClient,
    req: &HttpRequest,
    body: ProxyBody,
    forwarding: Forwarding<'_>,
    metrics: &GatewayMetrics,
) -> Result<HttpResponse, ApiError> {
    let base_url = &forwarding.upstream.base_url;
    let mut url = String::with_capacity(base_url.len() + req.uri().path().len() + 64);
    url.push_str(base_url);
    url.push_str(forwarding.canonical_path);
    if let Some(query) = req.uri().query() {
        url.push('?');
        url.push_str(query);
    }
    let uri: hyper::Uri = url
        .parse()
        .map_err(|_| ApiError::new(Code::BadGateway, "The service's address is not a URL."))?;
    let method = hyper::Method::from_bytes(req.method().as_str().as_bytes())
        .map_err(|_| ApiError::new(Code::InvalidMethod, "Unsupported HTTP method."))?;
    let mut headers = upstream_headers(req, &forwarding);
    if let Some(host) = host_header(&uri) {
        headers.insert(rh::HOST, host);
    }
    let mut request = hyper::Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;

    let started = std::time::Instant::now();
    let response = match tokio::time::timeout(client.timeout, client.client.request(request)).await
    {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(err)) => Err(upstream_error(err)),
        Err(_) => Err(ApiError::new(
            Code::UpstreamTimeout,
            "The service did not answer in time.",
        )),
    };
    metrics.upstream(
        base_url,
        started,
        response.as_ref().err().map(ApiError::code),
    );
    Ok(client_response(req, response?))
}

// The names the gateway sets, made once (`from_static` outside a constant checks every
// byte on each call).
const X_FORWARDED_FOR: rh::HeaderName = rh::HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: rh::HeaderName = rh::HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: rh::HeaderName = rh::HeaderName::from_static("x-forwarded-host");
const X_REQUEST_ID: rh::HeaderName = rh::HeaderName::from_static("x-request-id");
const TRACEPARENT: rh::HeaderName = rh::HeaderName::from_static(shared::trace::TRACEPARENT);
const X_REAL_IP: rh::HeaderName = rh::HeaderName::from_static(names::REAL_IP);
const X_USER_ID: rh::HeaderName = rh::HeaderName::from_static(names::USER_ID);
const X_SESSION_ID: rh::HeaderName = rh::HeaderName::from_static(names::SESSION_ID);
const X_USER_ROLES: rh::HeaderName = rh::HeaderName::from_static(names::USER_ROLES);
const X_USER_SCOPES: rh::HeaderName = rh::HeaderName::from_static(names::USER_SCOPES);
const X_INTERNAL_TOKEN: rh::HeaderName = rh::HeaderName::from_static(names::INTERNAL_TOKEN);

pub(crate) fn upstream_headers(req: &HttpRequest, forwarding: &Forwarding<'_>) -> rh::HeaderMap {
    let connection_listed: Vec<String> = req
        .headers()
        .get_all(ah::CONNECTION)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_ascii_lowercase())
        .collect();
    let mut headers = rh::HeaderMap::with_capacity(req.headers().len() + 12);
    for (name, value) in req.headers() {
        let drop = is_hop_by_hop(name.as_str())
            || name == ah::HOST
            || name == ah::AUTHORIZATION
            || name == ah::X_FORWARDED_FOR
            || name.as_str() == "x-request-id"
            || GATEWAY_ONLY_HEADERS
                .iter()
                .any(|h| h.as_str() == name.as_str())
            || connection_listed.iter().any(|c| c == name.as_str());
        if drop {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            rh::HeaderName::from_bytes(name.as_str().as_bytes()),
            rh::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }

    let mut forwarded_for = String::with_capacity(64);
    if let Some(previous) = req
        .headers()
        .get(ah::X_FORWARDED_FOR)
        .and_then(|v| v.to_str().ok())
    {
        forwarded_for.push_str(previous);
        forwarded_for.push_str(", ");
    }
    if let Some(peer) = req.peer_addr() {
        push_ip(&mut forwarded_for, peer.ip());
    }
    let mut set = |name: rh::HeaderName, value: &str| {
        if let Ok(value) = rh::HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set(X_FORWARDED_FOR, &forwarded_for);
    let (scheme, host) = scheme_and_host(req);
    set(X_FORWARDED_PROTO, &scheme);
    set(X_FORWARDED_HOST, &host);
    let mut real_ip = String::with_capacity(16);
    push_ip(&mut real_ip, forwarding.client_ip);
    set(X_REAL_IP, &real_ip);
    if let Some(id) = req.extensions().get::<RequestId>() {
        set(X_REQUEST_ID, &id.0);
    }
    // The client's traceparent (if sane) was continued here; the service's parent is us.
    if let Some(trace) = req.extensions().get::<shared::trace::TraceContext>() {
        set(TRACEPARENT, &trace.traceparent());
    }
    if let Some(caller) = forwarding.caller {
        set(X_SESSION_ID, &caller.session_id);
    }
    if let Some(granted) = forwarding.granted {
        set(X_USER_ROLES, &granted.roles);
        set(X_USER_SCOPES, &granted.scopes);
    }
    if let Some(caller) = forwarding.caller {
        headers.insert(X_USER_ID, rh::HeaderValue::from(caller.user_id));
    }
    headers.insert(X_INTERNAL_TOKEN, forwarding.internal_token.clone());
    headers
}

/// `Host` for the upstream, as hyper-util would set it (`host[:port]`, the port left out
/// when it is the scheme's default) but without its `format!`.
fn host_header(uri: &hyper::Uri) -> Option<rh::HeaderValue> {
    let host = uri.host()?;
    let default_port = match uri.scheme_str() {
        Some("https" | "wss") => 443,
        _ => 80,
    };
    let mut value = String::with_capacity(host.len() + 6);
    value.push_str(host);
    if let Some(port) = uri.port().filter(|p| p.as_u16() != default_port) {
        value.push(':');
        value.push_str(port.as_str());
    }
    rh::HeaderValue::from_str(&value).ok()
}

/// The scheme and host the client asked for, as actix's `connection_info` tells them;
/// worked out here without it when no `Forwarded` header is sent, since building it
/// formats the peer's address and copies four strings on every request.
fn scheme_and_host(req: &HttpRequest) -> (Cow<'_, str>, Cow<'_, str>) {
    let headers = req.headers();
    if headers.contains_key(ah::FORWARDED) {
        let info = req.connection_info();
        return (
            info.scheme().to_owned().into(),
            info.host().to_owned().into(),
        );
    }
    // actix's rule: the first value of a comma-separated header.
    let first = |name: &ah::HeaderName| -> Option<&str> {
        let value = headers.get(name)?.to_str().ok()?;
        Some(value.split(',').next()?.trim())
    };
    let scheme = first(&ah::X_FORWARDED_PROTO)
        .or_else(|| req.uri().scheme_str())
        .unwrap_or_else(|| {
            if req.app_config().secure() {
                "https"
            } else {
                "http"
            }
        });
    let host = first(&ah::X_FORWARDED_HOST)
        .or_else(|| headers.get(ah::HOST)?.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or_else(|| req.app_config().host());
    (scheme.into(), host.into())
}

/// An IP address as text, without `fmt` for IPv4 (`Ipv4Addr`'s `Display` pads each part,
/// some 2,000 instructions per address).
fn push_ip(out: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                if octet >= 100 {
                    out.push(char::from(b'0' + octet / 100));
                }
                if octet >= 10 {
                    out.push(char::from(b'0' + octet / 10 % 10));
                }
                out.push(char::from(b'0' + octet % 10));
            }
        }
        IpAddr::V6(_) => {
            use std::fmt::Write;
            let _ = write!(out, "{ip}");
        }
    }
}

/// The request's body, read once for every attempt at forwarding it.
pub enum RequestBody {
    /// Read whole: every attempt sends it.
    Whole(Bytes),
    /// Streamed through: only the first attempt can send it.
    Streamed(Option<web::Payload>),
}

impl RequestBody {
    pub async fn read(req: &HttpRequest, mut payload: web::Payload) -> Result<Self, ApiError> {
        let length: Option<u64> = req
            .headers()
            .get(ah::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let chunked = req.headers().contains_key(ah::TRANSFER_ENCODING);
        match length {
            None if !chunked => Ok(Self::Whole(Bytes::new())),
            Some(len) if len <= BUFFERED_BODY_LIMIT => {
                let mut body = web::BytesMut::with_capacity(len as usize);
                while let Some(chunk) = payload.next().await {
                    body.extend_from_slice(&chunk.map_err(|_| {
                        ApiError::new(Code::BodyReadFailed, "The request body could not be read.")
                    })?);
                }
                Ok(Self::Whole(body.freeze()))
            }
            _ => Ok(Self::Streamed(Some(payload))),
        }
    }

    /// The body for one more attempt, or `None` once a streamed body has been sent.
    pub fn attempt(&mut self) -> Option<ProxyBody> {
        match self {
            Self::Whole(bytes) => Some(
                Full::new(bytes.clone())
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            ),
            Self::Streamed(payload) => payload.take().map(streamed),
        }
    }
}

/// actix's payload lives on this worker thread; a channel carries it to the (thread-safe)
/// body the HTTP client sends.
fn streamed(mut payload: web::Payload) -> ProxyBody {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    actix_web::rt::spawn(async move {
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|err| std::io::Error::other(err.to_string()));
            let failed = chunk.is_err();
            if tx.send(chunk).await.is_err() || failed {
                break;
            }
        }
    });
    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item.map(Frame::data), rx))
    });
    StreamBody::new(frames).boxed_unsync()
}

fn client_response(req: &HttpRequest, response: hyper::Response<Incoming>) -> HttpResponse {
    let (parts, body) = response.into_parts();
    let status = StatusCode::from_u16(parts.status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut builder = HttpResponse::build(status);
    for (name, value) in &parts.headers {
        if is_hop_by_hop(name.as_str()) || name == rh::CONTENT_LENGTH {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            ah::HeaderName::from_bytes(name.as_str().as_bytes()),
            ah::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            builder.append_header((name, value));
        }
    }
    if req.method() == actix_web::http::Method::HEAD {
        return builder.finish();
    }
    let length = body.size_hint().exact();
    let body = body
        .into_data_stream()
        .map(|chunk| chunk.map_err(|err| actix_web::error::ErrorBadGateway(err.to_string())));
    match length {
        Some(length) => builder.body(SizedStream::new(length, body)),
        None => builder.body(BodyStream::new(body)),
    }
}

fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

fn upstream_error(err: hyper_util::client::legacy::Error) -> ApiError {
    if err.is_connect() {
        ApiError::new(
            Code::UpstreamUnavailable,
            "The service is unavailable; retry shortly.",
        )
        .with_source(err)
    } else {
        ApiError::new(Code::BadGateway, "The service answered badly.").with_source(err)
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, SocketAddr};

    use actix_web::test::TestRequest;

    use super::{host_header, push_ip, scheme_and_host};

    #[test]
    fn addresses_read_as_their_display() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.3.255",
            "192.168.100.9",
            "::1",
            "2001:db8::7",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            let mut text = String::new();
            push_ip(&mut text, ip);
            assert_eq!(text, ip.to_string());
        }
    }

    #[test]
    fn scheme_and_host_are_what_actix_reports() {
        let cases: &[&[(&str, &str)]] = &[
            &[],
            &[("host", "waypoint.example")],
            &[
                ("host", "waypoint.example:8443"),
                ("x-forwarded-proto", "https, http"),
            ],
            &[
                ("host", "inner"),
                ("x-forwarded-host", " outer.example , proxy"),
            ],
            &[
                ("host", "inner"),
                ("forwarded", "proto=https;host=fwd.example"),
            ],
            &[("forwarded", "for=1.2.3.4"), ("x-forwarded-proto", "https")],
        ];
        for headers in cases {
            let mut req = TestRequest::get()
                .uri("/v1/things")
                .peer_addr(SocketAddr::from(([10, 0, 0, 1], 4000)));
            for header in *headers {
                req = req.insert_header(*header);
            }
            let req = req.to_http_request();
            let (scheme, host) = scheme_and_host(&req);
            let info = req.connection_info();
            assert_eq!(
                (&*scheme, &*host),
                (info.scheme(), info.host()),
                "{headers:?}"
            );
        }
    }

    #[test]
    fn the_upstream_host_names_its_port_unless_default() {
        let host = |url: &str| host_header(&url.parse().unwrap()).unwrap();
        assert_eq!(host("http://10.0.0.5:8101/v1/x"), "10.0.0.5:8101");
        assert_eq!(host("http://auth:80/v1/x"), "auth");
        assert_eq!(host("http://auth/v1/x"), "auth");
        assert_eq!(host("https://auth:443/v1/x"), "auth");
        assert_eq!(host("https://auth:80/v1/x"), "auth:80");
    }
}
