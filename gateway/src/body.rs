//! The bodies the gateway sends to the client (its own answers, or a service's streamed
//! back), and its own answers' shapes.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use shared::ApiError;

use crate::connections::ServiceBody;
use crate::fields::Fields;

/// A body held whole: sent in one frame (none when empty).
#[derive(Default)]
struct Whole(Option<Bytes>);

impl Whole {
    fn new(bytes: Bytes) -> Self {
        Self((!bytes.is_empty()).then_some(bytes))
    }
}

impl Body for Whole {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(self.get_mut().0.take().map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.as_ref().map_or(0, |b| b.len() as u64))
    }
}

/// A response body on its way to the client, with the header lines written as bytes
/// that go before it ([`Fields`]: a service's relayed headers, the gateway's numbers).
pub struct ToClient {
    pub fields: Fields,
    source: Source,
}

enum Source {
    /// The gateway's own answer (or none).
    Whole(Whole),
    /// A service's answer, read from its connection as the client takes it.
    Service(ServiceBody),
}

impl Body for ToClient {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match &mut self.get_mut().source {
            Source::Whole(whole) => Pin::new(whole).poll_frame(cx),
            Source::Service(body) => Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.source {
            Source::Whole(whole) => whole.is_end_stream(),
            Source::Service(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.source {
            Source::Whole(whole) => whole.size_hint(),
            Source::Service(body) => body.size_hint(),
        }
    }
}

impl ToClient {
    pub fn empty() -> Self {
        Self::whole(Bytes::new())
    }

    pub fn whole(bytes: Bytes) -> Self {
        Self {
            fields: Fields::default(),
            source: Source::Whole(Whole::new(bytes)),
        }
    }

    /// A service's answer: its headers relayed, its body read as the client takes it.
    pub fn service(fields: Fields, body: ServiceBody) -> Self {
        Self {
            fields,
            source: Source::Service(body),
        }
    }
}

/// The answer as hyper takes it: a header map only, the [`Fields`] moved into it.
pub fn for_hyper(answer: Answer) -> Answer {
    let (mut head, mut body) = answer.into_parts();
    std::mem::take(&mut body.fields).move_into(&mut head.headers);
    Response::from_parts(head, body)
}

pub type Answer = Response<ToClient>;

/// A JSON answer of the gateway's own.
pub fn json(status: StatusCode, body: &serde_json::Value) -> Answer {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    with_content_type(status, "application/json", bytes)
}

/// An answer with a body of `content_type`.
pub fn with_content_type(
    status: StatusCode,
    content_type: &'static str,
    bytes: impl Into<Bytes>,
) -> Answer {
    let mut response = Response::new(ToClient::whole(bytes.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// An error in the JSON shape, with its headers (`WWW-Authenticate`, `Retry-After`,
/// `Cache-Control`: [`ApiError::response_headers`]) and its code among the response's
/// extensions, for the decisions metric.
pub fn error(err: &ApiError) -> Answer {
    let status = StatusCode::from_u16(err.kind().status().as_u16())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = with_content_type(status, "application/json", err.rendered_body());
    for (name, value) in err.response_headers().into_iter().flatten() {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response.extensions_mut().insert(err.code());
    response
}

/// `/readyz`'s answer from its checks (see [`shared::http::readiness`]).
pub fn readiness<S: AsRef<str>>(checks: &[(S, bool)]) -> Answer {
    let (ready, body) = shared::http::readiness_report(checks);
    if ready {
        return json(StatusCode::OK, &body);
    }
    let mut response = json(StatusCode::SERVICE_UNAVAILABLE, &body);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}
