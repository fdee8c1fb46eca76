//! Prometheus metrics: one registry per process part (a service or a gateway), the common
//! request metrics recorded where every app is built, and the exposition on a listener of
//! its own (`METRICS_ADDR`), never on the public port.
//!
//! Each part registers its own signals next to the common ones with [`Metrics::counter`],
//! [`Metrics::gauge`] and [`Metrics::histogram`]; label values are `&'static str`, so a
//! part cannot put an unbounded value (a path, a user id) in a label by accident.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{App, HttpMessage, HttpResponse, HttpServer, web};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Label pairs of a part's own signals: fixed names, values from a closed set.
pub type Labels = Vec<(&'static str, &'static str)>;
pub type CounterFamily = Family<Labels, Counter>;
pub type GaugeFamily = Family<Labels, Gauge>;
pub type HistogramFamily = Family<Labels, Histogram, fn() -> Histogram>;

/// What a family's label set must be.
pub trait LabelSet:
    EncodeLabelSet + Clone + std::hash::Hash + Eq + std::fmt::Debug + Send + Sync + 'static
{
}
impl<T> LabelSet for T where
    T: EncodeLabelSet + Clone + std::hash::Hash + Eq + std::fmt::Debug + Send + Sync + 'static
{
}

/// A route label set by a handler that routes by itself (the gateway's one handler names
/// the policy's resource), preferred to the app's route template.
#[derive(Clone, Debug)]
pub struct RouteLabel(pub String);

/// prometheus-client writes OpenMetrics text (an `info` type, `# EOF`), which Prometheus
/// reads only when told so: under the classic `text/plain` it refuses the whole scrape.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// The route template (`/v1/orders/{id}`), `unmatched` when no route matched.
    route: String,
    method: &'static str,
    /// `2xx`, `4xx`, …
    status: &'static str,
}

/// Latency buckets in seconds, 1 ms to about 16 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// A part's metrics: cheap to clone, shared by its workers and background tasks.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
    requests: Family<RequestLabels, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
}

impl Metrics {
    /// A registry for `part` (`gateway`, `auth-service`, …) holding the common request
    /// metrics; `waypoint_build_info{part}` says which part answers a scrape.
    pub fn new(part: &'static str) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Requests served, by route template, method and status class, with their latency",
            requests.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "http_requests_in_flight",
            "Requests being served",
            in_flight.clone(),
        );
        let info = prometheus_client::metrics::info::Info::new(vec![
            ("part", part),
            ("version", env!("CARGO_PKG_VERSION")),
        ]);
        registry.register("waypoint_build", "The part and version answering", info);
        Self {
            registry: Arc::new(Mutex::new(registry)),
            requests,
            in_flight,
        }
    }

    fn register(&self, name: &str, help: &str, metric: impl prometheus_client::registry::Metric) {
        self.registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .register(name, help, metric);
    }

    /// A counter family registered as `name` (exposed as `name_total`).
    pub fn counter<S: LabelSet>(&self, name: &str, help: &str) -> Family<S, Counter> {
        let family = Family::<S, Counter>::default();
        self.register(name, help, family.clone());
        family
    }

    /// A gauge without labels registered as `name`.
    pub fn single_gauge(&self, name: &str, help: &str) -> Gauge {
        let gauge = Gauge::default();
        self.register(name, help, gauge.clone());
        gauge
    }

    /// A gauge family registered as `name`.
    pub fn gauge<S: LabelSet>(&self, name: &str, help: &str) -> Family<S, Gauge> {
        let family = Family::<S, Gauge>::default();
        self.register(name, help, family.clone());
        family
    }

    /// A latency histogram family (seconds, 1 ms to 16 s) registered as `name`.
    pub fn histogram<S: LabelSet>(
        &self,
        name: &str,
        help: &str,
    ) -> Family<S, Histogram, fn() -> Histogram> {
        let family = Family::<S, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        self.register(name, help, family.clone());
        family
    }

    /// The registry in the text exposition format.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        let registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        prometheus_client::encoding::text::encode(&mut text, &registry)?;
        Ok(text)
    }

    /// Serves `GET /metrics` on `addr` (a part's `METRICS_ADDR`) in the background and
    /// returns the bound port; `None` when `addr` is unset (metrics are still recorded).
    pub fn serve(&self, addr: Option<&str>) -> anyhow::Result<Option<u16>> {
        let Some(addr) = addr else { return Ok(None) };
        let listener = std::net::TcpListener::bind(addr)
            .map_err(|err| anyhow::anyhow!("binding METRICS_ADDR={addr}: {err}"))?;
        let port = listener.local_addr()?.port();
        let metrics = self.clone();
        let server: Server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(metrics.clone()))
                .route("/metrics", web::get().to(scrape))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)?
        .run();
        tokio::spawn(server);
        tracing::info!(port, "metrics listening");
        Ok(Some(port))
    }
}

async fn scrape(metrics: web::Data<Metrics>) -> HttpResponse {
    match metrics.render() {
        Ok(text) => HttpResponse::Ok().content_type(CONTENT_TYPE).body(text),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

/// A method as a label value: the standard ones by name, anything else as `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// A status as its class.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Lowers the in-flight gauge however the request ends (a client gone mid-request
/// drops the future).
struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Middleware: every request's latency by route template, method and status class, and
/// the requests in flight. The [`Metrics`] come from the app's data; an app without them
/// records nothing.
pub async fn record_request(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(metrics) = req.app_data::<web::Data<Metrics>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let method = method_label(req.method());
    metrics.in_flight.inc();
    let _in_flight = InFlight(metrics.in_flight.clone());
    let started = Instant::now();
    let response = next.call(req).await?.map_into_boxed_body();
    let route = {
        let req = response.request();
        let named = req.extensions().get::<RouteLabel>().map(|r| r.0.clone());
        named
            .or_else(|| req.match_pattern())
            .unwrap_or_else(|| "unmatched".to_owned())
    };
    let labels = RequestLabels {
        route,
        method,
        status: status_class(response.status().as_u16()),
    };
    metrics
        .requests
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    Ok(response)
}

#[cfg(test)]
mod tests {
    use actix_web::middleware::from_fn;
    use actix_web::{HttpResponse, test, web};

    use super::Metrics;

    #[actix_web::test]
    async fn requests_are_counted_by_route_template_method_and_status_class() {
        let metrics = Metrics::new("test");
        let logins: super::CounterFamily = metrics.counter("logins", "Logins by outcome");
        let app = test::init_service(
            actix_web::App::new()
                .wrap(from_fn(super::record_request))
                .app_data(web::Data::new(metrics.clone()))
                .route("/things/{id}", web::get().to(HttpResponse::Ok))
                .route("/things/{id}", web::delete().to(HttpResponse::NotFound)),
        )
        .await;
        for path in ["/things/1", "/things/2"] {
            let req = test::TestRequest::get().uri(path).to_request();
            test::call_service(&app, req).await;
        }
        let req = test::TestRequest::delete().uri("/things/3").to_request();
        test::call_service(&app, req).await;
        let req = test::TestRequest::get().uri("/elsewhere").to_request();
        test::call_service(&app, req).await;
        logins.get_or_create(&vec![("outcome", "ok")]).inc();

        let text = metrics.render().unwrap();
        assert!(text.contains(
            "http_request_duration_seconds_count{route=\"/things/{id}\",method=\"GET\",status=\"2xx\"} 2"
        ), "{text}");
        assert!(text.contains(
            "http_request_duration_seconds_count{route=\"/things/{id}\",method=\"DELETE\",status=\"4xx\"} 1"
        ));
        assert!(text.contains(
            "http_request_duration_seconds_count{route=\"unmatched\",method=\"GET\",status=\"4xx\"} 1"
        ));
        assert!(text.contains("http_requests_in_flight 0"));
        assert!(text.contains("logins_total{outcome=\"ok\"} 1"));
        assert!(text.contains("waypoint_build_info{part=\"test\""));
    }
}
