//! What every server does around each request, whatever serves it (actix-web's middleware
//! in the services, the gateway's own hyper server): the request id, the trace, the span
//! that carries both on every log line, the exported span, and the one log line with the
//! status and latency.

use std::time::Instant;

use crate::otel::{RequestSpan, Spans};
use crate::trace::TraceContext;

/// One request's ids and span, from [`begin`](Self::begin) to [`finish`](Self::finish).
pub struct RequestScope {
    /// The caller's `X-Request-Id` when it is sane, otherwise a fresh one.
    pub request_id: String,
    /// The caller's trace continued, or a new one.
    pub trace: TraceContext,
    /// `request`, with `user_id` left for the handler to record.
    pub span: tracing::Span,
    /// Boxed: 384 bytes, mostly absent (no export), in every request's future, which the
    /// servers move whole.
    exported: Option<Box<RequestSpan>>,
    started: Instant,
}

impl RequestScope {
    /// `part` names who served it (in one log stream or one test process lines stay
    /// apart); `request_id` and `traceparent` are the caller's headers, if sent.
    pub fn begin(
        part: &'static str,
        spans: Option<&Spans>,
        method: &str,
        path: &str,
        request_id: Option<&[u8]>,
        traceparent: Option<&[u8]>,
    ) -> Self {
        // The request's fresh ids: request id, span id, trace id.
        let mut random = [0; 32];
        crate::random::fill_pooled(&mut random);
        let trace_random: [u8; 24] = std::array::from_fn(|i| random[8 + i]);
        let request_id = request_id
            .and_then(sane_request_id)
            .unwrap_or_else(|| crate::random::to_hex(&random[..8]));
        let traceparent = traceparent.and_then(|t| std::str::from_utf8(t).ok());
        let trace = TraceContext::continue_with(traceparent, &trace_random);
        let span = tracing::info_span!(
            "request",
            part,
            method = %method,
            path = %path,
            request_id = %request_id,
            trace_id = %trace.trace_id(),
            user_id = tracing::field::Empty,
        );
        let exported = spans
            .and_then(|spans| spans.request(&trace, method, path))
            .map(Box::new);
        Self {
            request_id,
            trace,
            span,
            exported,
            started: Instant::now(),
        }
    }

    /// Ends the request: its exported span named by `route` (asked only when spans are
    /// exported), and its log line.
    pub fn finish(self, method: &str, route: impl FnOnce() -> String, status: u16) {
        if let Some(exported) = self.exported {
            exported.finish(method, &route(), status);
        }
        let elapsed_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        self.span.in_scope(|| {
            if status >= 500 {
                tracing::warn!(status, elapsed_ms, "request failed");
            } else {
                tracing::info!(status, elapsed_ms, "request served");
            }
        });
    }
}

/// Accepts a client-supplied request id only if it is short and plain, so it can be
/// echoed in a header and a log line without risk.
fn sane_request_id(value: &[u8]) -> Option<String> {
    let plain = value
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    let text = std::str::from_utf8(value).ok()?;
    (plain && (1..=128).contains(&text.len())).then(|| text.to_owned())
}
