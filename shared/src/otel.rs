//! OpenTelemetry export over OTLP/HTTP (protobuf), on when `OTEL_EXPORTER_OTLP_ENDPOINT`
//! is set: each request a part serves becomes one server span, exported in batches.
//!
//! The span's ids are the request's [`TraceContext`]: its trace id, its own span id (the
//! one every call made while serving it sends as the `traceparent` parent) and the caller's
//! span id as the remote parent. So the gateway's span is the parent of the service's,
//! whose span is the parent of the services it calls: one tree across hops.
//!
//! Each part has its own [`Spans`] (its own provider, `service.name` the part's name unless
//! `OTEL_SERVICE_NAME` says otherwise), registered as app data like its metrics: a process
//! serving several parts (the test suite's) names each rightly. Off, [`Spans`] holds
//! nothing: no exporter, no thread, and a request pays one app-data lookup.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId,
    TraceState, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider};

use crate::trace::TraceContext;

/// Where spans go and under which name.
#[derive(Clone, Debug, Default)]
pub struct OtlpSettings {
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, default unset (nothing exported): the collector's
    /// OTLP/HTTP base URL, e.g. `http://127.0.0.1:4318`; spans are posted to
    /// `{endpoint}/v1/traces`.
    pub endpoint: Option<String>,
    /// `OTEL_SERVICE_NAME`, default the part's name (`gateway`, `payment-service`, …).
    pub service_name: Option<String>,
}

impl OtlpSettings {
    pub fn from_env() -> Self {
        Self::from_lookup(crate::config::raw)
    }

    /// From the variables `lookup` returns (unset or empty: `None`).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self {
            endpoint: lookup("OTEL_EXPORTER_OTLP_ENDPOINT"),
            service_name: lookup("OTEL_SERVICE_NAME"),
        }
    }

    /// The URL spans are posted to, when export is on.
    pub fn traces_url(&self) -> Option<String> {
        let base = self.endpoint.as_deref()?.trim().trim_end_matches('/');
        Some(format!("{base}/v1/traces"))
    }
}

/// A part's span export; off when no endpoint is set. Cheap to clone.
#[derive(Clone, Default)]
pub struct Spans {
    on: Option<Arc<Exporting>>,
}

struct Exporting {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
}

impl Spans {
    /// Export of `part`'s spans as `settings` say; off (and free) without an endpoint.
    /// Must be called inside the Tokio runtime the exports will be sent from.
    pub fn start(settings: &OtlpSettings, part: &'static str) -> anyhow::Result<Self> {
        let Some(url) = settings.traces_url() else {
            return Ok(Self::default());
        };
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| anyhow::anyhow!("OTLP export must start inside a Tokio runtime"))?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|err| anyhow::anyhow!("building the OTLP HTTP client: {err}"))?;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(url.clone())
            .with_http_client(OnRuntime { client, runtime })
            .build()
            .map_err(|err| anyhow::anyhow!("OTEL_EXPORTER_OTLP_ENDPOINT={url}: {err}"))?;
        let name = settings
            .service_name
            .clone()
            .unwrap_or_else(|| part.to_owned());
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            // Whether to keep a trace is decided once, where it starts, and carried in
            // `traceparent`'s flags: `request` skips unsampled traces before a span exists.
            .with_sampler(Sampler::AlwaysOn)
            .with_resource(Resource::builder_empty().with_service_name(name).build())
            .build();
        let tracer = provider.tracer("waypoint");
        tracing::info!(url, "exporting spans over OTLP");
        Ok(Self {
            on: Some(Arc::new(Exporting { provider, tracer })),
        })
    }

    pub fn is_on(&self) -> bool {
        self.on.is_some()
    }

    /// The server span of the request `trace` identifies, when export is on and the trace
    /// is sampled.
    pub(crate) fn request(
        &self,
        trace: &TraceContext,
        method: &str,
        path: &str,
    ) -> Option<RequestSpan> {
        let on = self.on.as_ref().filter(|_| trace.is_sampled())?;
        let trace_id = TraceId::from_hex(trace.trace_id()).ok()?;
        let span_id = SpanId::from_hex(trace.span_id()).ok()?;
        let parent = match trace.parent_span_id() {
            Some(parent) => Context::new().with_remote_span_context(SpanContext::new(
                trace_id,
                SpanId::from_bytes(parent),
                TraceFlags::SAMPLED,
                true,
                TraceState::default(),
            )),
            None => Context::new(),
        };
        let span = on
            .tracer
            .span_builder(method.to_owned())
            .with_kind(SpanKind::Server)
            .with_trace_id(trace_id)
            .with_span_id(span_id)
            .with_attributes([
                KeyValue::new("http.request.method", method.to_owned()),
                KeyValue::new("url.path", path.to_owned()),
            ])
            .start_with_context(&on.tracer, &parent);
        Some(RequestSpan(span))
    }

    /// Sends every span still buffered and stops exporting: the last step of a drained
    /// stop, so the requests it finished are not lost.
    pub async fn shutdown(&self) {
        let Some(on) = self.on.clone() else { return };
        // The provider blocks until its exporter thread has sent, and that send runs on
        // this runtime: wait off its workers.
        let done = tokio::task::spawn_blocking(move || on.provider.shutdown()).await;
        if let Ok(Err(err)) = done {
            tracing::warn!(%err, "flushing spans at shutdown");
        }
    }
}

/// A request's span, ended when dropped (a request abandoned midway too).
pub(crate) struct RequestSpan(opentelemetry_sdk::trace::Span);

impl RequestSpan {
    /// What the request turned out to be: its route template and status.
    pub(crate) fn finish(mut self, method: &str, route: &str, status: u16) {
        self.0.update_name(format!("{method} {route}"));
        self.0
            .set_attribute(KeyValue::new("http.route", route.to_owned()));
        self.0.set_attribute(KeyValue::new(
            "http.response.status_code",
            i64::from(status),
        ));
        if status >= 500 {
            self.0.set_status(Status::error(format!("status {status}")));
        }
        self.0.end();
    }
}

/// The workspace's async reqwest client, sent from the part's runtime: the batch exporter
/// runs on a thread of its own, where reqwest would find no runtime.
#[derive(Debug)]
struct OnRuntime {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for OnRuntime {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        self.runtime
            .spawn(async move { client.send_bytes(request).await })
            .await?
    }
}

#[cfg(test)]
mod tests {
    use super::{OtlpSettings, Spans};

    #[tokio::test]
    async fn without_an_endpoint_nothing_is_exported() {
        let unset = OtlpSettings::from_lookup(|_| None);
        assert_eq!(unset.traces_url(), None);
        let spans = Spans::start(&unset, "gateway").unwrap();
        assert!(!spans.is_on());
        let trace = crate::trace::TraceContext::start();
        assert!(spans.request(&trace, "GET", "/v1/trips").is_none());

        let set = OtlpSettings::from_lookup(|name| {
            (name == "OTEL_EXPORTER_OTLP_ENDPOINT").then(|| "http://127.0.0.1:4318/".to_owned())
        });
        assert_eq!(
            set.traces_url().as_deref(),
            Some("http://127.0.0.1:4318/v1/traces")
        );
        let spans = Spans::start(&set, "gateway").unwrap();
        assert!(spans.is_on());
        spans.shutdown().await;
    }

    /// A request under a caller's `traceparent` is one server span, child of the caller's
    /// span, with this hop's own id (the one its calls send on) and the part's name; it is
    /// sent when the part stops, not at the next batch. An unsampled one is not exported.
    #[cfg(feature = "testing")]
    #[actix_web::test]
    async fn a_request_is_one_span_under_the_caller_sent_when_the_part_stops() {
        use actix_web::middleware::from_fn;
        use actix_web::{App, HttpResponse, test, web};

        let receiver = crate::testing::OtlpReceiver::start();
        let settings = OtlpSettings {
            endpoint: Some(receiver.endpoint()),
            service_name: None,
        };
        let spans = Spans::start(&settings, "payment-service").unwrap();
        let app = test::init_service(
            App::new()
                .wrap(from_fn(crate::http::request_context))
                .app_data(spans.clone())
                .route(
                    "/v1/orders/{id}",
                    web::post()
                        .to(|| async { HttpResponse::Created().body(crate::trace::traceparent()) }),
                ),
        )
        .await;
        let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let req = test::TestRequest::post()
            .uri("/v1/orders/7")
            .insert_header(("traceparent", caller))
            .to_request();
        let sent_on = test::call_and_read_body(&app, req).await;
        let sent_on = String::from_utf8(sent_on.to_vec()).unwrap();
        assert!(receiver.spans().is_empty(), "batched, not sent per span");
        // A caller that decided not to sample: no span, and the decision passed on.
        let unsampled = test::TestRequest::post()
            .uri("/v1/orders/8")
            .insert_header(("traceparent", caller.replace("-01", "-00")))
            .to_request();
        let unsampled_sent_on = test::call_and_read_body(&app, unsampled).await;
        assert!(unsampled_sent_on.ends_with(b"-00"), "{unsampled_sent_on:?}");

        spans.shutdown().await;
        let received = receiver.spans();
        assert_eq!(received.len(), 1, "only the sampled request: {received:?}");
        let span = &received[0];
        assert_eq!(span.service, "payment-service");
        assert_eq!(span.name, "POST /v1/orders/{id}");
        assert!(span.server);
        assert_eq!(span.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(span.parent, "00f067aa0ba902b7");
        assert_eq!(
            sent_on,
            format!("00-{}-{}-01", span.trace_id, span.span_id),
            "a call made while serving names this span as its parent"
        );
        assert_eq!(span.attribute("http.response.status_code"), Some("201"));
    }
}
