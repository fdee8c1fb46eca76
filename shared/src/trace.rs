//! W3C Trace Context: one trace id across every hop of a request.
//!
//! [`crate::http::request_context`] continues the caller's `traceparent` when it is sane
//! (version `00`, non-zero ids in lower-case hex) and starts a trace otherwise, puts the
//! trace id on the request's span (so on every log line, next to the request id), and
//! runs the request inside [`scope`]. A call to another part adds
//! `.header(TRACEPARENT, traceparent())`: the current trace with this hop's span as parent,
//! or a fresh trace outside any request (a background job's call roots its own).

use std::future::Future;

use actix_web::http::header::HeaderValue;

pub const TRACEPARENT: &str = "traceparent";

tokio::task_local! {
    static CURRENT: TraceContext;
}

/// A trace id (32 hex digits), the id of this hop's span (16 hex digits), the caller's
/// span, its parent, when the trace was continued, and whether the trace is sampled (kept
/// by the span export; the caller's decision when it sent one, else yes).
///
/// The ids are held as their digits, not `String`s: every request makes a context and
/// clones it into its task's scope, and the four allocations cost more than the rest.
#[derive(Clone, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: [u8; 32],
    span_id: [u8; 16],
    parent: Option<[u8; 8]>,
    sampled: bool,
}

impl std::fmt::Debug for TraceContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceContext")
            .field("trace_id", &self.trace_id())
            .field("span_id", &self.span_id())
            .field("parent", &self.parent)
            .field("sampled", &self.sampled)
            .finish()
    }
}

impl TraceContext {
    /// A new trace.
    pub fn start() -> Self {
        Self::continue_from(None)
    }

    /// This hop of the caller's trace when `header` is a sane `traceparent`, else a new
    /// trace.
    pub fn continue_from(header: Option<&HeaderValue>) -> Self {
        let mut random = [0; 24];
        crate::random::fill_pooled(&mut random);
        Self::continue_with(header.and_then(|h| h.to_str().ok()), &random)
    }

    /// [`continue_from`](Self::continue_from) with its ids taken from `random` (span id
    /// from the first 8 bytes, a new trace's id from the other 16), for a caller that
    /// draws them with its own.
    pub fn continue_with(header: Option<&str>, random: &[u8; 24]) -> Self {
        let (span, trace) = random.split_at(8);
        let mut trace_id = [0; 32];
        let (parent, sampled) = match header.and_then(parse_ids) {
            // `parse_ids` checked it is 32 hex digits.
            Some((caller_trace, parent, sampled)) => {
                trace_id.copy_from_slice(caller_trace.as_bytes());
                (Some(parent), sampled)
            }
            None => {
                crate::random::hex_into(trace, &mut trace_id);
                (None, true)
            }
        };
        let mut span_id = [0; 16];
        crate::random::hex_into(span, &mut span_id);
        Self {
            trace_id,
            span_id,
            parent,
            sampled,
        }
    }

    pub fn trace_id(&self) -> &str {
        std::str::from_utf8(&self.trace_id).unwrap_or_default()
    }

    pub fn span_id(&self) -> &str {
        std::str::from_utf8(&self.span_id).unwrap_or_default()
    }

    /// The caller's span id, when the caller sent a sane `traceparent`.
    pub fn parent_span_id(&self) -> Option<[u8; 8]> {
        self.parent
    }

    /// Whether this trace's spans are exported: a caller that sent flags `00` decided not.
    pub fn is_sampled(&self) -> bool {
        self.sampled
    }

    /// The `traceparent` naming this hop as the parent, passing the sampling decision on.
    pub fn traceparent(&self) -> String {
        let mut header = Vec::with_capacity(55);
        self.push_traceparent(&mut header);
        String::from_utf8(header).unwrap_or_default()
    }

    /// [`traceparent`](Self::traceparent), appended to `out` (a request head being
    /// written).
    pub fn push_traceparent(&self, out: &mut Vec<u8>) {
        let flags = if self.sampled { "-01" } else { "-00" };
        for part in [
            &b"00-"[..],
            &self.trace_id,
            b"-",
            &self.span_id,
            flags.as_bytes(),
        ] {
            out.extend_from_slice(part);
        }
    }
}

fn is_hex_id(text: &str, len: usize) -> bool {
    text.len() == len
        && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && text.bytes().any(|b| b != b'0')
}

/// The trace id of a sane version-00 `traceparent`.
pub fn parse(header: &str) -> Option<&str> {
    parse_ids(header).map(|(trace_id, _, _)| trace_id)
}

/// The trace id, parent span id and sampled flag of a sane version-00 `traceparent`.
fn parse_ids(header: &str) -> Option<(&str, [u8; 8], bool)> {
    let mut parts = header.trim().split('-');
    let (version, trace_id, parent_id, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let sane = version == "00"
        && parts.next().is_none()
        && is_hex_id(trace_id, 32)
        && is_hex_id(parent_id, 16)
        && flags.len() == 2
        && flags.bytes().all(|b| b.is_ascii_hexdigit());
    let parent = u64::from_str_radix(parent_id, 16).ok()?.to_be_bytes();
    let sampled = u8::from_str_radix(flags, 16).ok()? & 0x01 == 1;
    sane.then_some((trace_id, parent, sampled))
}

/// Runs `work` as part of `trace`. Not an `async fn`: one would hold `work` twice (its
/// argument and the scope it is moved into), and a request's future is moved whole.
pub fn scope<F: Future>(trace: TraceContext, work: F) -> impl Future<Output = F::Output> {
    CURRENT.scope(trace, work)
}

/// The trace of the request (or job) being served, if any.
pub fn current() -> Option<TraceContext> {
    CURRENT.try_with(TraceContext::clone).ok()
}

/// The `traceparent` for a call made now: the current trace, or a fresh one.
pub fn traceparent() -> String {
    current().unwrap_or_else(TraceContext::start).traceparent()
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;

    use super::{TraceContext, parse, scope, traceparent};

    const SAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn only_a_sane_traceparent_is_continued() {
        assert_eq!(parse(SAMPLE), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        for insane in [
            "",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz",
        ] {
            assert_eq!(parse(insane), None, "{insane}");
        }
        let continued = TraceContext::continue_from(Some(&HeaderValue::from_static(SAMPLE)));
        assert_eq!(continued.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_ne!(continued.span_id(), "00f067aa0ba902b7");
        assert_eq!(
            continued.parent_span_id(),
            Some([0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7])
        );
        assert!(continued.is_sampled());
        assert!(continued.traceparent().ends_with("-01"));
        let fresh = TraceContext::continue_from(Some(&HeaderValue::from_static("garbage")));
        assert!(parse(&fresh.traceparent()).is_some());
        assert_eq!(fresh.parent_span_id(), None);
        assert!(fresh.is_sampled(), "a trace we start is sampled");
    }

    #[test]
    fn a_callers_decision_not_to_sample_is_passed_on() {
        let unsampled = SAMPLE.replace("-01", "-00");
        let continued =
            TraceContext::continue_from(Some(&HeaderValue::from_str(&unsampled).unwrap()));
        assert!(!continued.is_sampled());
        assert!(continued.traceparent().ends_with("-00"));
        // Other flag bits (e.g. W3C level 2's "random") do not decide sampling.
        let random_only = SAMPLE.replace("-01", "-02");
        let continued =
            TraceContext::continue_from(Some(&HeaderValue::from_str(&random_only).unwrap()));
        assert!(!continued.is_sampled());
    }

    #[tokio::test]
    async fn a_call_made_inside_a_scope_carries_its_trace() {
        let trace = TraceContext::continue_from(Some(&HeaderValue::from_static(SAMPLE)));
        let inside = scope(trace.clone(), async { traceparent() }).await;
        assert_eq!(inside, trace.traceparent());
        let outside = traceparent();
        assert_ne!(parse(&outside), parse(SAMPLE));
    }
}
