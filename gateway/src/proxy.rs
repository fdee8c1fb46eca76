//! Forwarding a request to its upstream and streaming the answer back.
//!
//! Method, canonical path, query, headers (minus hop-by-hop headers, the client's
//! credentials and anything only the gateway may set) and the body go upstream on one of
//! the worker's own connections ([`Connections`]). The gateway adds `X-Request-Id`,
//! `X-Forwarded-For`, `X-Forwarded-Proto`, `X-Forwarded-Host`, `X-Real-IP`, `traceparent`,
//! the internal token and, for signed-in callers, `X-User-Id`, `X-Session-Id`,
//! `X-User-Roles` and `X-User-Scopes`. An unreachable upstream is a 503, a slow one a 504,
//! a broken answer a 502, all in the JSON error shape.

use std::net::IpAddr;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};
use hyper::header::{self as rh, HeaderMap, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Request, Response};
use shared::identity::{GATEWAY_ONLY_HEADERS, names};
use shared::{ApiError, Code};

use crate::auth::Caller;
use crate::body::{Answer, ToClient, ToService, Whole};
use crate::connections::{Connections, Lease};
use crate::metrics::GatewayMetrics;
use crate::server::RequestInfo;
use crate::upstreams::Upstream;

/// Bodies up to this size are read whole and sent with a length (and can be sent again
/// to another replica); larger or unsized bodies are streamed through, once.
const BUFFERED_BODY_LIMIT: u64 = 64 * 1024;

/// What the gateway adds to the forwarded request.
#[derive(Clone, Copy)]
pub struct Forwarding<'a> {
    pub upstream: &'a Upstream,
    pub canonical_path: &'a str,
    /// Who connected to the gateway (a proxy in front of it, or the client).
    pub peer: IpAddr,
    /// The client, as far as trusted proxies say.
    pub client_ip: IpAddr,
    pub request: &'a RequestInfo<'a>,
    pub caller: Option<&'a Caller>,
    pub granted: Option<&'a Granted>,
    pub internal_token: &'a HeaderValue,
}

/// What a signed-in caller's roles hold, as comma-separated names.
pub struct Granted {
    /// For `X-User-Roles`.
    pub roles: String,
    /// For `X-User-Scopes`.
    pub scopes: String,
}

/// Forwards the request (`head`, with `body`, one attempt's body from
/// [`RequestBody::attempt`]) to `forwarding.upstream`, whichever replica the caller chose.
pub async fn forward(
    connections: &Connections,
    head: &Parts,
    body: ToService,
    forwarding: Forwarding<'_>,
    metrics: &GatewayMetrics,
) -> Result<Answer, ApiError> {
    let base_url = &forwarding.upstream.base_url;
    let mut request = Request::new(body);
    *request.method_mut() = head.method.clone();
    *request.uri_mut() = origin_form(forwarding.canonical_path, head.uri.query())?;
    *request.headers_mut() = upstream_headers(head, &forwarding);
    request
        .headers_mut()
        .insert(rh::HOST, host_header(base_url)?);

    let started = std::time::Instant::now();
    let sent = connections.send(base_url, request).await;
    metrics.upstream(base_url, started, sent.as_ref().err().map(ApiError::code));
    let (response, lease) = sent?;
    Ok(client_response(&head.method, response, lease))
}

/// `path?query`, the request line's target.
fn origin_form(path: &str, query: Option<&str>) -> Result<hyper::Uri, ApiError> {
    let mut target = String::with_capacity(path.len() + query.map_or(0, |q| q.len() + 1));
    target.push_str(path);
    if let Some(query) = query {
        target.push('?');
        target.push_str(query);
    }
    hyper::Uri::from_maybe_shared(Bytes::from(target))
        .map_err(|_| ApiError::new(Code::InvalidPath, "The request target is not valid."))
}

/// `Host` for a replica at `base_url` (`http://host[:port]`): `host[:port]`, the port left
/// out when it is 80.
fn host_header(base_url: &str) -> Result<HeaderValue, ApiError> {
    let authority = base_url.strip_prefix("http://").ok_or_else(|| {
        ApiError::new(
            Code::BadGateway,
            "Upstreams must be plain http:// on the internal network.",
        )
    })?;
    let authority = authority.strip_suffix(":80").unwrap_or(authority);
    HeaderValue::from_str(authority)
        .map_err(|_| ApiError::new(Code::BadGateway, "The service's address is not a URL."))
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

pub(crate) fn upstream_headers(head: &Parts, forwarding: &Forwarding<'_>) -> HeaderMap {
    let sent = &head.headers;
    let connection_listed: Vec<String> = sent
        .get_all(rh::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_ascii_lowercase())
        .collect();
    let mut headers = HeaderMap::with_capacity(sent.len() + 12);
    for (name, value) in sent {
        let drop = is_hop_by_hop(name.as_str())
            || name == rh::HOST
            || name == rh::AUTHORIZATION
            || name == X_FORWARDED_FOR
            || name == X_REQUEST_ID
            || GATEWAY_ONLY_HEADERS
                .iter()
                .any(|h| h.as_str() == name.as_str())
            || connection_listed.iter().any(|c| c == name.as_str());
        if !drop {
            headers.append(name.clone(), value.clone());
        }
    }

    let mut forwarded_for = String::with_capacity(64);
    if let Some(previous) = sent.get(X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        forwarded_for.push_str(previous);
        forwarded_for.push_str(", ");
    }
    push_ip(&mut forwarded_for, forwarding.peer);
    // Made here: taken as they are, not copied.
    let mut set_owned = |name: rh::HeaderName, value: String| {
        if let Ok(value) = HeaderValue::from_maybe_shared(Bytes::from(value)) {
            headers.insert(name, value);
        }
    };
    set_owned(X_FORWARDED_FOR, forwarded_for);
    let mut real_ip = String::with_capacity(16);
    push_ip(&mut real_ip, forwarding.client_ip);
    set_owned(X_REAL_IP, real_ip);
    // The client's traceparent (if sane) was continued here; the service's parent is us.
    set_owned(TRACEPARENT, forwarding.request.trace.traceparent());
    let mut set = |name: rh::HeaderName, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    let (scheme, host) = scheme_and_host(sent, &head.uri);
    set(X_FORWARDED_PROTO, scheme);
    if let Some(host) = host {
        set(X_FORWARDED_HOST, host);
    }
    set(X_REQUEST_ID, forwarding.request.request_id);
    if let Some(caller) = forwarding.caller {
        set(X_SESSION_ID, &caller.session_id);
    }
    if let Some(granted) = forwarding.granted {
        set(X_USER_ROLES, &granted.roles);
        set(X_USER_SCOPES, &granted.scopes);
    }
    if let Some(caller) = forwarding.caller {
        headers.insert(X_USER_ID, HeaderValue::from(caller.user_id));
    }
    headers.insert(X_INTERNAL_TOKEN, forwarding.internal_token.clone());
    headers
}

/// The scheme and host the client asked for: the first `proto` and `host` of `Forwarded`,
/// else the first value of `X-Forwarded-Proto` / `X-Forwarded-Host`, else the request's
/// own (`http`, its `Host`). actix-web's `ConnectionInfo` rule, which the services saw
/// before the gateway had a server of its own.
fn scheme_and_host<'a>(headers: &'a HeaderMap, uri: &'a hyper::Uri) -> (&'a str, Option<&'a str>) {
    let (mut scheme, mut host) = (None, None);
    let forwarded = headers
        .get_all(rh::FORWARDED)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split([';', ',']))
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            Some((name.trim(), value.trim().trim_matches('"')))
        });
    for (name, value) in forwarded {
        if name.eq_ignore_ascii_case("proto") {
            scheme.get_or_insert(value);
        } else if name.eq_ignore_ascii_case("host") {
            host.get_or_insert(value);
        }
    }
    let first = |name: &rh::HeaderName| -> Option<&'a str> {
        let value = headers.get(name)?.to_str().ok()?;
        Some(value.split(',').next()?.trim())
    };
    let scheme = scheme
        .or_else(|| first(&X_FORWARDED_PROTO))
        .or_else(|| uri.scheme_str())
        .unwrap_or("http");
    let host = host
        .or_else(|| first(&X_FORWARDED_HOST))
        .or_else(|| headers.get(rh::HOST)?.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()));
    (scheme, host)
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
    Streamed(Option<Incoming>),
}

impl RequestBody {
    pub async fn read(headers: &HeaderMap, mut body: Incoming) -> Result<Self, ApiError> {
        let length: Option<u64> = headers
            .get(rh::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let chunked = headers.contains_key(rh::TRANSFER_ENCODING);
        match length {
            None if !chunked => Ok(Self::Whole(Bytes::new())),
            Some(len) if len <= BUFFERED_BODY_LIMIT => {
                let mut whole = BytesMut::with_capacity(len as usize);
                while let Some(frame) = body.frame().await {
                    let frame = frame.map_err(|_| {
                        ApiError::new(Code::BodyReadFailed, "The request body could not be read.")
                    })?;
                    if let Some(data) = frame.data_ref() {
                        whole.extend_from_slice(data);
                    }
                }
                Ok(Self::Whole(whole.freeze()))
            }
            _ => Ok(Self::Streamed(Some(body))),
        }
    }

    /// The body for one more attempt, or `None` once a streamed body has been sent.
    pub fn attempt(&mut self) -> Option<ToService> {
        match self {
            Self::Whole(bytes) => Some(ToService::Whole(Whole::new(bytes.clone()))),
            Self::Streamed(body) => body.take().map(ToService::Streamed),
        }
    }
}

fn client_response(method: &Method, response: Response<Incoming>, lease: Lease) -> Answer {
    let (mut parts, body) = response.into_parts();
    let keep_length = *method == Method::HEAD;
    drop_hop_by_hop(&mut parts.headers, keep_length);
    // Nothing to read (`HEAD`, 204, 304, an empty body): the connection is free now.
    let lease = if body.is_end_stream() {
        lease.give_back();
        None
    } else {
        Some(lease)
    };
    let body = if *method == Method::HEAD {
        ToClient::empty()
    } else {
        ToClient::Service { body, lease }
    };
    Response::from_parts(parts, body)
}

/// Drops hop-by-hop headers, and the length (which the body says) unless `keep_length`.
fn drop_hop_by_hop(headers: &mut HeaderMap, keep_length: bool) {
    let hop: Vec<rh::HeaderName> = headers
        .keys()
        .filter(|name| {
            is_hop_by_hop(name.as_str()) || (!keep_length && *name == rh::CONTENT_LENGTH)
        })
        .cloned()
        .collect();
    for name in hop {
        headers.remove(name);
    }
}

pub(crate) fn is_hop_by_hop(name: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, SocketAddr};

    use actix_web::test::TestRequest;
    use hyper::header::{HeaderMap, HeaderName, HeaderValue};

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

    /// The services saw actix-web's reading of these headers when the gateway was an
    /// actix app; they still do.
    #[test]
    fn scheme_and_host_are_what_actix_reports() {
        let cases: &[&[(&str, &str)]] = &[
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
            &[
                ("host", "inner"),
                ("forwarded", "for=1.2.3.4, proto=\"https\""),
                ("x-forwarded-proto", "http"),
            ],
            &[
                ("host", "inner"),
                ("forwarded", "for=1.2.3.4"),
                ("x-forwarded-proto", "https"),
            ],
        ];
        for headers in cases {
            let mut req = TestRequest::get()
                .uri("/v1/things")
                .peer_addr(SocketAddr::from(([10, 0, 0, 1], 4000)));
            let mut map = HeaderMap::new();
            for &(name, value) in *headers {
                req = req.insert_header((name, value));
                map.append(
                    HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                );
            }
            let req = req.to_http_request();
            let info = req.connection_info();
            let uri = "/v1/things".parse().unwrap();
            let (scheme, host) = scheme_and_host(&map, &uri);
            assert_eq!(
                (scheme, host),
                (info.scheme(), Some(info.host())),
                "{headers:?}"
            );
        }
    }

    #[test]
    fn the_upstream_host_names_its_port_unless_default() {
        let host = |url: &str| host_header(url).unwrap();
        assert_eq!(host("http://10.0.0.5:8101"), "10.0.0.5:8101");
        assert_eq!(host("http://auth:80"), "auth");
        assert_eq!(host("http://auth"), "auth");
        assert!(host_header("https://auth").is_err());
    }
}
