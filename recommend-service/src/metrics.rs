//! recommend-service's own Prometheus signals, registered beside the common request
//! metrics of [`shared::metrics::Metrics`].

use prometheus_client::metrics::gauge::Gauge;
use shared::metrics::{CounterFamily, HistogramFamily, Metrics};

/// Cheap to clone; the cache and the rebuild loop each hold one.
#[derive(Clone)]
pub struct RecommendMetrics {
    /// `recommend_trip_cache_total{result}`: `hit`, `miss`, `unavailable` (Redis down,
    /// read from the database), `fill_refused` (a reader's row not stored because a
    /// newer version or marker was there).
    cache: CounterFamily,
    /// `recommend_model_rebuilds_total{outcome}`: `ok`, `failed`.
    rebuilds: CounterFamily,
    /// `recommend_model_fit_seconds{outcome="ok"}`: loading and fitting, per rebuild
    /// (labelled: an empty label set is written as `{}`, which parsers refuse).
    fit_seconds: HistogramFamily,
    /// `recommend_model_version`: the version requests are served from.
    model_version: Gauge,
}

impl RecommendMetrics {
    pub fn register(metrics: &Metrics) -> Self {
        Self {
            cache: metrics.counter(
                "recommend_trip_cache",
                "Trip reads by cache outcome, and cache fills refused for a newer version",
            ),
            rebuilds: metrics.counter("recommend_model_rebuilds", "Model rebuilds by outcome"),
            fit_seconds: metrics.histogram(
                "recommend_model_fit_seconds",
                "Time of a model rebuild, loading and fitting",
            ),
            model_version: metrics.single_gauge(
                "recommend_model_version",
                "The version of the model requests are served from",
            ),
        }
    }

    /// Metrics recorded nowhere scraped (tools that build a cache or model alone).
    pub fn unregistered() -> Self {
        Self::register(&Metrics::new("recommend-service"))
    }

    pub fn cache(&self, result: &'static str) {
        self.cache.get_or_create(&vec![("result", result)]).inc();
    }

    pub fn rebuilt(&self, version: u64, seconds: f64) {
        let ok = vec![("outcome", "ok")];
        self.rebuilds.get_or_create(&ok).inc();
        self.fit_seconds.get_or_create(&ok).observe(seconds);
        self.model_version
            .set(i64::try_from(version).unwrap_or(i64::MAX));
    }

    pub fn rebuild_failed(&self) {
        self.rebuilds
            .get_or_create(&vec![("outcome", "failed")])
            .inc();
    }
}
