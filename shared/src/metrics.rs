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
use actix_web::middleware::Next;
use actix_web::{App, HttpResponse, HttpServer, web};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

mod process;

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
    part: &'static str,
    /// Off when nothing scrapes this part: the per-request signals are not recorded.
    recording: bool,
    registry: Arc<Mutex<Registry>>,
    requests: Family<RequestLabels, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
    pools: PoolStats,
}

/// How the database pool and Redis serve this part: handed to each [`crate::db::Db`] and
/// [`crate::redis::Redis`] by [`Metrics::observe_db`] and [`Metrics::observe_redis`].
#[derive(Clone, Debug)]
pub struct PoolStats {
    /// From asking for a connection to holding one (a permit, a blocking thread, r2d2).
    pub(crate) db_wait: Histogram,
    /// Checkouts that failed: the database unreachable, or no connection within 3 s.
    pub(crate) db_errors: Counter,
    /// Commands that failed, by kind (`timeout`, `connection`, `other`).
    pub(crate) redis_errors: Family<Labels, Counter>,
}

/// Pool waits in seconds, 0.1 ms to about 3 s (the checkout timeout).
fn wait_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
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
        registry.register_collector(Box::new(process::ProcessCollector));
        let pools = PoolStats {
            db_wait: wait_histogram(),
            db_errors: Counter::default(),
            redis_errors: Family::default(),
        };
        registry.register(
            "db_pool_wait_seconds",
            "Waits for a database connection, from asking to holding one",
            pools.db_wait.clone(),
        );
        registry.register(
            "db_pool_errors",
            "Database connections that could not be had (unreachable, or none within 3 s)",
            pools.db_errors.clone(),
        );
        registry.register(
            "redis_errors",
            "Redis commands that failed, by kind (timeout, connection, other)",
            pools.redis_errors.clone(),
        );
        Self {
            part,
            recording: true,
            registry: Arc::new(Mutex::new(registry)),
            requests,
            in_flight,
            pools,
        }
    }

    /// [`Metrics::new`] for a part served at `addr` (its `METRICS_ADDR`): unset, nothing
    /// can read the per-request signals, so they are not recorded (the request metrics,
    /// the gateway's decisions, upstream and Redis timings); what a part records off the
    /// hot path still is.
    pub fn for_listener(part: &'static str, addr: Option<&str>) -> Self {
        Self {
            recording: addr.is_some(),
            ..Self::new(part)
        }
    }

    /// Whether the per-request signals are recorded (see [`Metrics::for_listener`]).
    pub fn is_recording(&self) -> bool {
        self.recording
    }

    /// The part these metrics belong to (`gateway`, `auth-service`, …).
    pub fn part(&self) -> &'static str {
        self.part
    }

    /// Counts `db`'s connection waits and failures here (every clone of it, made before
    /// or after).
    pub fn observe_db(&self, db: &crate::db::Db) {
        db.observe(self.pools.clone());
    }

    /// Counts `redis`'s failed commands here (every clone of it, made before or after).
    pub fn observe_redis(&self, redis: &crate::redis::Redis) {
        redis.observe(self.pools.clone());
    }

    /// A gauge read when Prometheus scrapes, from what the part holds anyway (open
    /// sockets): nothing to keep in step on the hot path.
    pub fn gauge_fn(
        &self,
        name: &'static str,
        help: &'static str,
        read: impl Fn() -> i64 + Send + Sync + 'static,
    ) {
        let collector = GaugeFn {
            name,
            help,
            read: Box::new(read),
        };
        self.registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .register_collector(Box::new(collector));
    }

    /// Registers a metric a part's component made itself (a counter kept by its hub).
    pub fn register(
        &self,
        name: &str,
        help: &str,
        metric: impl prometheus_client::registry::Metric,
    ) {
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

    /// A latency histogram without labels (seconds, 1 ms to 16 s) registered as `name`.
    pub fn single_histogram(&self, name: &str, help: &str) -> Histogram {
        let histogram = latency_histogram();
        self.register(name, help, histogram.clone());
        histogram
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

struct GaugeFn {
    name: &'static str,
    help: &'static str,
    read: Box<dyn Fn() -> i64 + Send + Sync>,
}

impl std::fmt::Debug for GaugeFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl prometheus_client::collector::Collector for GaugeFn {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::DescriptorEncoder,
    ) -> Result<(), std::fmt::Error> {
        use prometheus_client::encoding::EncodeMetric;
        let gauge = prometheus_client::metrics::gauge::ConstGauge::new((self.read)());
        let metric = encoder.encode_descriptor(self.name, self.help, None, gauge.metric_type())?;
        gauge.encode(metric)
    }
}

impl PoolStats {
    /// A connection checkout that began at `started`: its wait, or its failure.
    pub(crate) fn checked_out(&self, started: Instant, ok: bool) {
        if ok {
            self.db_wait.observe(started.elapsed().as_secs_f64());
        } else {
            self.db_errors.inc();
        }
    }

    pub(crate) fn redis_failed(&self, kind: &'static str) {
        self.redis_errors.get_or_create(&vec![("kind", kind)]).inc();
    }
}

async fn scrape(metrics: web::Data<Metrics>) -> HttpResponse {
    match metrics.render() {
        Ok(text) => HttpResponse::Ok().content_type(CONTENT_TYPE).body(text),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

/// A method as a label value: the standard ones by name, anything else as `other`.
fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
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

/// The route a request took: the app's route template, else `unmatched`.
pub(crate) fn route_label(req: &actix_web::HttpRequest) -> String {
    req.match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned())
}

/// One request being measured: in flight until [`finish`](Self::finish)ed or dropped (a
/// client gone mid-request drops it).
pub struct RequestTimer {
    metrics: Metrics,
    started: Instant,
}

impl Metrics {
    /// Starts measuring a request: `None` when nothing scrapes this part.
    pub fn request_started(&self) -> Option<RequestTimer> {
        self.recording.then(|| {
            self.in_flight.inc();
            RequestTimer {
                metrics: self.clone(),
                started: Instant::now(),
            }
        })
    }
}

impl RequestTimer {
    /// Records the request's latency under its route template (or `unmatched`), method and
    /// status class.
    pub fn finish(self, route: String, method: &str, status: u16) {
        let labels = RequestLabels {
            route,
            method: method_label(method),
            status: status_class(status),
        };
        self.metrics
            .requests
            .get_or_create(&labels)
            .observe(self.started.elapsed().as_secs_f64());
    }
}

impl Drop for RequestTimer {
    fn drop(&mut self) {
        self.metrics.in_flight.dec();
    }
}

/// Middleware: every request's latency by route template, method and status class, and
/// the requests in flight. The [`Metrics`] come from the app's data; an app without them,
/// or with metrics nobody scrapes, records nothing.
pub async fn record_request(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    recording(req, |req| next.call(req)).await
}

/// [`record_request`] around `inner`, the rest of the request's handling.
pub(crate) async fn recording<B: MessageBody + 'static>(
    req: ServiceRequest,
    inner: impl AsyncFnOnce(ServiceRequest) -> Result<ServiceResponse<B>, actix_web::Error>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let timer = req
        .app_data::<web::Data<Metrics>>()
        .and_then(|metrics| metrics.request_started());
    let Some(timer) = timer else {
        return Ok(inner(req).await?.map_into_boxed_body());
    };
    let method = req.method().clone();
    let response = inner(req).await?.map_into_boxed_body();
    let status = response.status().as_u16();
    timer.finish(route_label(response.request()), method.as_str(), status);
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

#[cfg(test)]
mod unscraped {
    use actix_web::middleware::from_fn;
    use actix_web::{HttpResponse, test, web};

    use super::Metrics;

    #[actix_web::test]
    async fn a_part_without_a_metrics_listener_records_no_request() {
        for (addr, recorded) in [(None, false), (Some("127.0.0.1:0"), true)] {
            let metrics = Metrics::for_listener("test", addr);
            let app = test::init_service(
                actix_web::App::new()
                    .wrap(from_fn(super::record_request))
                    .app_data(web::Data::new(metrics.clone()))
                    .route("/things", web::get().to(HttpResponse::Ok)),
            )
            .await;
            let req = test::TestRequest::get().uri("/things").to_request();
            assert!(test::call_service(&app, req).await.status().is_success());
            let text = metrics.render().unwrap();
            assert_eq!(
                text.contains("http_request_duration_seconds_count{route=\"/things\""),
                recorded,
                "{addr:?}: {text}"
            );
        }
    }
}

/// Apart from the tests above, whose `test` is actix's.
#[cfg(test)]
mod read_at_scrape {
    use super::Metrics;

    #[test]
    fn process_figures_and_read_gauges_are_exposed_when_scraped() {
        let metrics = Metrics::new("test");
        let open = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(3));
        let read = open.clone();
        metrics.gauge_fn("sockets_open", "Sockets open", move || {
            read.load(std::sync::atomic::Ordering::Relaxed)
        });
        assert!(metrics.render().unwrap().contains("sockets_open 3"));
        open.store(1, std::sync::atomic::Ordering::Relaxed);
        let text = metrics.render().unwrap();
        assert!(text.contains("sockets_open 1"), "{text}");
        for name in [
            "process_cpu_seconds_total ",
            "process_resident_memory_bytes ",
            "process_start_time_seconds ",
            "process_open_fds ",
        ] {
            assert!(text.contains(name), "{name}: {text}");
        }
    }

    #[test]
    fn a_failed_checkout_counts_as_an_error_and_a_good_one_as_a_wait() {
        let metrics = Metrics::new("test");
        let started = std::time::Instant::now();
        metrics.pools.checked_out(started, true);
        metrics.pools.checked_out(started, false);
        metrics.pools.redis_failed("timeout");
        let text = metrics.render().unwrap();
        assert!(text.contains("db_pool_wait_seconds_count 1"), "{text}");
        assert!(text.contains("db_pool_errors_total 1"), "{text}");
        assert!(
            text.contains("redis_errors_total{kind=\"timeout\"} 1"),
            "{text}"
        );
    }
}
