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
use hyper::body::Incoming;
use hyper::header::{self as rh, HeaderMap, HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Response};
use shared::identity::{GATEWAY_ONLY_HEADERS, names};
use shared::{ApiError, Code};

use crate::auth::Caller;
use crate::body::{Answer, ToClient};
use crate::client_headers::{
    ClientHeaders, TRACEPARENT, X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PROTO, X_REQUEST_ID,
};
use crate::connections::{Connections, ToService};
use crate::metrics::GatewayMetrics;
use crate::server::RequestInfo;
use crate::upstreams::Upstream;
use crate::wire::{Decimal, RequestHead};

/// Bodies up to this size are read whole and sent with a length (and can be sent again
/// to another replica); larger or unsized bodies are streamed through, once.
pub(crate) const BUFFERED_BODY_LIMIT: u64 = 64 * 1024;

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
    /// What the client's headers say, read in the one pass over them.
    pub client: &'a ClientHeaders<'a>,
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
    let mut request = RequestHead::new(
        &head.method,
        forwarding.canonical_path,
        head.uri.query(),
        host(base_url)?,
    );
    write_upstream_headers(&mut request, head, &forwarding);
    body.write_framing(&head.method, &mut request);
    let request = request.finish();
    // A `HEAD` answer keeps its length (it describes the body a `GET` would get).
    let keep = if head.method == Method::HEAD {
        |name: &HeaderName| relayed(name) || *name == rh::CONTENT_LENGTH
    } else {
        relayed
    };

    let started = metrics.clock();
    let sent = connections
        .send(base_url, &head.method, &request, body, keep)
        .await;
    metrics.upstream(base_url, started, sent.as_ref().err().map(ApiError::code));
    let (answer, body) = sent?;
    let mut response = Response::new(ToClient::service(answer.fields, body));
    *response.status_mut() = answer.status;
    Ok(response)
}

/// The `Host` of a replica at `base_url` (`http://host[:port]`): `host[:port]`, the port
/// left out when it is 80.
pub(crate) fn host(base_url: &str) -> Result<&str, ApiError> {
    let authority = base_url.strip_prefix("http://").ok_or_else(|| {
        ApiError::new(
            Code::BadGateway,
            "Upstreams must be plain http:// on the internal network.",
        )
    })?;
    Ok(authority.strip_suffix(":80").unwrap_or(authority))
}

// The names the gateway reads and sets, made once (`from_static` outside a constant, or a
// `&str` name, checks every byte on each call).
const X_REAL_IP: rh::HeaderName = rh::HeaderName::from_static(names::REAL_IP);
const X_USER_ID: rh::HeaderName = rh::HeaderName::from_static(names::USER_ID);
const X_SESSION_ID: rh::HeaderName = rh::HeaderName::from_static(names::SESSION_ID);
const X_USER_ROLES: rh::HeaderName = rh::HeaderName::from_static(names::USER_ROLES);
const X_USER_SCOPES: rh::HeaderName = rh::HeaderName::from_static(names::USER_SCOPES);
const X_INTERNAL_TOKEN: rh::HeaderName = rh::HeaderName::from_static(names::INTERNAL_TOKEN);

/// The client's headers the gateway writes its own value of (the length: it frames the
/// body anew) or, `Authorization`, keeps to itself.
const REPLACED: [HeaderName; 8] = [
    rh::HOST,
    rh::AUTHORIZATION,
    rh::CONTENT_LENGTH,
    X_FORWARDED_FOR,
    X_FORWARDED_PROTO,
    X_FORWARDED_HOST,
    X_REQUEST_ID,
    TRACEPARENT,
];

/// Writes the headers the service gets: the client's, less hop-by-hop ones (and those its
/// `Connection` names), its credentials, its framing (the gateway frames the body anew)
/// and anything only the gateway may set; then the gateway's own.
pub(crate) fn write_upstream_headers(
    out: &mut RequestHead,
    head: &Parts,
    forwarding: &Forwarding<'_>,
) {
    let sent = &head.headers;
    let client = forwarding.client;
    let names_more = client.connection;
    for (name, value) in sent {
        let drop = is_hop_by_hop(name.as_str())
            || REPLACED.contains(name)
            || GATEWAY_ONLY_HEADERS
                .iter()
                .any(|h| h.as_str() == name.as_str())
            || (names_more && has_token(sent, &rh::CONNECTION, name.as_str()));
        if !drop {
            out.copy(name, value);
        }
    }

    out.header_with(X_FORWARDED_FOR.as_str(), |value| {
        if let Some(previous) = client.forwarded_for.and_then(|v| v.to_str().ok()) {
            value.extend_from_slice(previous.as_bytes());
            value.extend_from_slice(b", ");
        }
        push_ip(value, forwarding.peer);
    });
    out.header_with(X_REAL_IP.as_str(), |value| {
        push_ip(value, forwarding.client_ip);
    });
    // The client's traceparent (if sane) was continued here; the service's parent is us.
    out.header_with(TRACEPARENT.as_str(), |value| {
        forwarding.request.trace.push_traceparent(value);
    });
    let (scheme, host) = scheme_and_host(client, sent, &head.uri);
    out.valid_header(X_FORWARDED_PROTO.as_str(), scheme.as_bytes());
    if let Some(host) = host {
        out.valid_header(X_FORWARDED_HOST.as_str(), host.as_bytes());
    }
    out.valid_header(
        X_REQUEST_ID.as_str(),
        forwarding.request.request_id.as_bytes(),
    );
    if let Some(caller) = forwarding.caller {
        out.header(X_SESSION_ID.as_str(), caller.session_id.as_bytes());
        out.header_with(X_USER_ID.as_str(), |value| {
            if caller.user_id < 0 {
                value.push(b'-');
            }
            value.extend_from_slice(Decimal::new(caller.user_id.unsigned_abs()).as_bytes());
        });
    }
    if let Some(granted) = forwarding.granted {
        out.header(X_USER_ROLES.as_str(), granted.roles.as_bytes());
        out.header(X_USER_SCOPES.as_str(), granted.scopes.as_bytes());
    }
    out.valid_header(
        X_INTERNAL_TOKEN.as_str(),
        forwarding.internal_token.as_bytes(),
    );
}

/// The scheme and host the client asked for: the first `proto` and `host` of `Forwarded`,
/// else the first value of `X-Forwarded-Proto` / `X-Forwarded-Host`, else the request's
/// own (`http`, its `Host`). actix-web's `ConnectionInfo` rule, which the services saw
/// before the gateway had a server of its own.
fn scheme_and_host<'a>(
    client: &ClientHeaders<'a>,
    headers: &'a HeaderMap,
    uri: &'a hyper::Uri,
) -> (&'a str, Option<&'a str>) {
    let (mut scheme, mut host) = (None, None);
    if client.forwarded {
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
    }
    let first = |value: Option<&'a HeaderValue>| -> Option<&'a str> {
        Some(value?.to_str().ok()?.split(',').next()?.trim())
    };
    let scheme = scheme
        .or_else(|| first(client.forwarded_proto))
        .or_else(|| uri.scheme_str())
        .unwrap_or("http");
    let host = host
        .or_else(|| first(client.forwarded_host))
        .or_else(|| client.host?.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()));
    (scheme, host)
}

/// An IP address as text, without `fmt` for IPv4 (`Ipv4Addr`'s `Display` pads each part,
/// some 2,000 instructions per address).
fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                if octet >= 100 {
                    out.push(b'0' + octet / 100);
                }
                if octet >= 10 {
                    out.push(b'0' + octet / 10 % 10);
                }
                out.push(b'0' + octet % 10);
            }
        }
        IpAddr::V6(_) => {
            use std::io::Write;
            let _ = write!(out, "{ip}");
        }
    }
}

/// A request's body as the server hands it on.
pub enum ClientBody {
    /// Read whole with the head (a plain request: [`crate::http1`]).
    Whole(Bytes),
    /// Still to be read, through hyper.
    Incoming(Incoming),
}

/// The request's body, read once for every attempt at forwarding it.
pub enum RequestBody {
    /// Read whole: every attempt sends it.
    Whole(Bytes),
    /// Streamed through: only the first attempt can send it.
    Streamed(Option<Incoming>),
}

impl RequestBody {
    /// `client`: what the request's headers say of its framing.
    pub async fn read(client: &ClientHeaders<'_>, body: ClientBody) -> Result<Self, ApiError> {
        let mut body = match body {
            ClientBody::Whole(bytes) => return Ok(Self::Whole(bytes)),
            ClientBody::Incoming(body) => body,
        };
        let length: Option<u64> = client
            .content_length
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let chunked = client.transfer_encoding;
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
            Self::Whole(bytes) => Some(ToService::Whole(bytes.clone())),
            Self::Streamed(body) => body.take().map(ToService::Streamed),
        }
    }
}

/// An answer's header the client gets: not hop-by-hop, not the length, which the body
/// relayed (streamed, or cut short) says for itself, and none the gateway writes its own
/// value of on every answer (the request id, the rate limits).
pub(crate) fn relayed(name: &HeaderName) -> bool {
    !is_hop_by_hop(name.as_str())
        && *name != rh::CONTENT_LENGTH
        && *name != X_REQUEST_ID
        && !crate::handler::RATE_LIMIT_HEADERS.contains(name)
}

/// Whether a comma-separated header (`Connection`, `Upgrade`) names `token`, in any case,
/// in any of its values (those that are not ASCII are passed over).
pub(crate) fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case(token))
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

    use shared::identity::names;

    use super::{
        Forwarding, Granted, host, push_ip, relayed, scheme_and_host, write_upstream_headers,
    };
    use crate::auth::Caller;
    use crate::client_headers::ClientHeaders;
    use crate::server::RequestInfo;
    use crate::upstreams::Upstream;
    use crate::wire::RequestHead;

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
            let mut text = Vec::new();
            push_ip(&mut text, ip);
            assert_eq!(String::from_utf8(text).unwrap(), ip.to_string());
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
            let client = ClientHeaders::pick(&map);
            let (scheme, host) = scheme_and_host(&client, &map, &uri);
            assert_eq!(
                (scheme, host),
                (info.scheme(), Some(info.host())),
                "{headers:?}"
            );
        }
    }

    /// The service gets one value of each header the gateway sets (its own), none of what
    /// the client may not send, and the rest as the client sent it.
    #[test]
    fn the_gateway_sets_its_headers_and_drops_the_clients_copies() {
        let request = hyper::Request::post("/v1/orders")
            .header("host", "waypoint.example")
            .header("authorization", "Bearer secret")
            .header("content-length", "2")
            .header("connection", "x-hop")
            .header("x-hop", "1")
            .header("x-forwarded-proto", "gopher")
            .header("x-forwarded-for", "203.0.113.9")
            .header(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )
            .header("x-user-id", "1")
            .header("x-user-roles", "admin")
            .header(names::INTERNAL_TOKEN, "forged")
            .header("accept", "application/json")
            .header("accept", "text/plain")
            .body(())
            .unwrap();
        let (head, ()) = request.into_parts();
        let trace = shared::trace::TraceContext::start();
        let info = RequestInfo {
            peer: SocketAddr::from(([10, 0, 0, 1], 4000)),
            request_id: "req-1",
            trace: &trace,
        };
        let upstream = Upstream {
            base_url: "http://orders:8101".into(),
        };
        let caller = Caller {
            user_id: 42,
            session_id: "s-1".into(),
        };
        let granted = Granted {
            roles: "traveller".into(),
            scopes: "orders".into(),
        };
        let token = HeaderValue::from_static("internal");
        let client = ClientHeaders::pick(&head.headers);
        let forwarding = Forwarding {
            upstream: &upstream,
            canonical_path: "/v1/orders",
            peer: info.peer.ip(),
            client_ip: "203.0.113.9".parse().unwrap(),
            request: &info,
            client: &client,
            caller: Some(&caller),
            granted: Some(&granted),
            internal_token: &token,
        };
        let mut out = RequestHead::new(&head.method, "/v1/orders", None, "orders:8101");
        write_upstream_headers(&mut out, &head, &forwarding);
        let text = String::from_utf8(out.finish()).unwrap();
        let lines: Vec<&str> = text.lines().skip(1).filter(|l| !l.is_empty()).collect();
        let values = |name: &str| -> Vec<&str> {
            let prefix = format!("{name}: ");
            lines
                .iter()
                .filter_map(|l| l.strip_prefix(&prefix))
                .collect()
        };
        assert_eq!(values("host"), ["orders:8101"]);
        assert_eq!(values("accept"), ["application/json", "text/plain"]);
        assert_eq!(values("x-forwarded-for"), ["203.0.113.9, 10.0.0.1"]);
        assert_eq!(values("x-forwarded-proto"), ["gopher"]);
        assert_eq!(values("x-forwarded-host"), ["waypoint.example"]);
        assert_eq!(values("x-real-ip"), ["203.0.113.9"]);
        assert_eq!(values("x-request-id"), ["req-1"]);
        assert_eq!(values("traceparent"), [trace.traceparent().as_str()]);
        assert_eq!(values("x-user-id"), ["42"]);
        assert_eq!(values("x-session-id"), ["s-1"]);
        assert_eq!(values("x-user-roles"), ["traveller"]);
        assert_eq!(values("x-user-scopes"), ["orders"]);
        assert_eq!(values(names::INTERNAL_TOKEN), ["internal"]);
        for gone in ["authorization", "content-length", "connection", "x-hop"] {
            assert_eq!(values(gone), Vec::<&str>::new(), "{gone}");
        }
    }

    /// The client gets one request id and one set of rate-limit numbers, the gateway's,
    /// and the length its own server (or hyper) writes for the body relayed.
    #[test]
    fn a_service_answer_keeps_its_headers_but_those_the_gateway_writes() {
        for kept in [
            "content-type",
            "cache-control",
            "www-authenticate",
            "idempotent-replayed",
        ] {
            assert!(relayed(&HeaderName::from_static(kept)), "{kept}");
        }
        for gone in [
            "x-request-id",
            "ratelimit-limit",
            "ratelimit-remaining",
            "ratelimit-reset",
            "content-length",
            "transfer-encoding",
            "connection",
            "keep-alive",
            "upgrade",
        ] {
            assert!(!relayed(&HeaderName::from_static(gone)), "{gone}");
        }
    }

    #[test]
    fn the_upstream_host_names_its_port_unless_default() {
        assert_eq!(host("http://10.0.0.5:8101").unwrap(), "10.0.0.5:8101");
        assert_eq!(host("http://auth:80").unwrap(), "auth");
        assert_eq!(host("http://auth").unwrap(), "auth");
        assert!(host("https://auth").is_err());
    }
}
