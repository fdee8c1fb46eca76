//! recommend-service's own Prometheus signals, registered beside the common request
//! metrics of [`shared::metrics::Metrics`].

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use shared::metrics::{CounterFamily, GaugeFamily, HistogramFamily, Labels, Metrics};

use crate::engine::AutoChoice;
use crate::ranking::Source;

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
    /// `recommend_auto_choice{strategy}`: 1 for the ranking `auto` serves, 0 for the
    /// other candidates.
    auto_choice: GaugeFamily,
    /// `recommend_auto_margin`: the winner's held-out precision@10 minus the runner-up's.
    auto_margin: Gauge<f64, AtomicU64>,
    /// `recommend_auto_held_out_precision{strategy}`: each candidate's held-out
    /// precision@10 at the last choice.
    auto_precision: Family<Labels, Gauge<f64, AtomicU64>>,
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
            auto_choice: metrics.gauge(
                "recommend_auto_choice",
                "1 for the ranking strategy=auto serves (chosen by held-out precision@10), 0 for the other candidates",
            ),
            auto_margin: {
                let gauge = Gauge::<f64, AtomicU64>::default();
                metrics.register(
                    "recommend_auto_margin",
                    "Held-out precision@10 of auto's choice minus the runner-up's",
                    gauge.clone(),
                );
                gauge
            },
            auto_precision: {
                let family = Family::<Labels, Gauge<f64, AtomicU64>>::default();
                metrics.register(
                    "recommend_auto_held_out_precision",
                    "Held-out precision@10 of each candidate at auto's last choice",
                    family.clone(),
                );
                family
            },
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

    pub fn auto_chosen(&self, choice: &AutoChoice) {
        for source in [Source::Item, Source::User, Source::Ease, Source::Rp3] {
            let labels = vec![("strategy", source.name())];
            let chosen = i64::from(choice.strategy == source);
            self.auto_choice.get_or_create(&labels).set(chosen);
        }
        self.auto_margin.set(choice.margin);
        for held in &choice.held_out {
            self.auto_precision
                .get_or_create(&vec![("strategy", held.strategy.name())])
                .set(held.precision_at_10);
        }
    }

    pub fn rebuild_failed(&self) {
        self.rebuilds
            .get_or_create(&vec![("outcome", "failed")])
            .inc();
    }
}
