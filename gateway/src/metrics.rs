//! The gateway's own signals, registered beside the common request metrics: what it
//! decided and why, how its upstreams and Redis answer, and how fresh its policy and keys
//! are.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use shared::Code;
use shared::metrics::{Labels, Metrics};

use crate::body::Answer;
use crate::config::ServiceUrls;
use crate::fast_map::FastMap;

pub struct GatewayMetrics {
    decisions: Family<Labels, Counter>,
    upstream: Family<Labels, Histogram, fn() -> Histogram>,
    upstream_errors: Family<Labels, Counter>,
    redis: Family<Labels, Histogram, fn() -> Histogram>,
    policy_version: Gauge,
    policy_loaded: Gauge,
    jwks_loaded: Gauge,
    sessions_current: Gauge,
    /// Each replica's base URL → its service's name (a label never holds a URL) and its
    /// upstream latency series.
    services: FastMap<Arc<str>, (&'static str, Resolved<Histogram>)>,
    /// The series every request that goes through records in, found once.
    forwarded: Resolved<Counter>,
    redis_anonymous: Resolved<Histogram>,
    redis_signed_in: Resolved<Histogram>,
    /// The per-request signals (decisions, upstream and Redis timings) are recorded.
    recording: bool,
}

/// A family's series for fixed labels, looked up at its first use (no series appears
/// before) and kept: the hot path then neither builds nor hashes the labels.
struct Resolved<M> {
    labels: Labels,
    series: OnceLock<M>,
}

impl<M: Clone> Resolved<M> {
    fn new(labels: Labels) -> Self {
        Self {
            labels,
            series: OnceLock::new(),
        }
    }

    fn get<C: MetricConstructor<M>>(&self, family: &Family<Labels, M, C>) -> &M {
        self.series
            .get_or_init(|| family.get_or_create(&self.labels).clone())
    }
}

impl GatewayMetrics {
    pub fn new(metrics: &Metrics, services: &ServiceUrls) -> Arc<Self> {
        let services = [
            (&services.auth, "auth"),
            (&services.rbac, "rbac"),
            (&services.chat, "chat"),
            (&services.payment, "payment"),
            (&services.recommend, "recommend"),
        ]
        .into_iter()
        .flat_map(|(list, name)| {
            let urls = shared::replicas::Replicas::parse(list)
                .map(|replicas| replicas.urls().to_vec())
                .unwrap_or_default();
            urls.into_iter().map(move |url| {
                let latency = Resolved::new(vec![("service", name)]);
                (url, (name, latency))
            })
        })
        .collect();
        Arc::new(Self {
            decisions: metrics.counter(
                "gateway_decisions",
                "Requests decided: allowed (forwarded) or refused, by status and error code",
            ),
            upstream: metrics.histogram(
                "gateway_upstream_duration_seconds",
                "Forwarded requests until the service's response head, by service",
            ),
            upstream_errors: metrics.counter(
                "gateway_upstream_errors",
                "Forwarded requests the service did not answer, by service and error code",
            ),
            redis: metrics.histogram(
                "gateway_redis_round_trip_seconds",
                "The per-request Redis round trip (session check and rate-limit counters)",
            ),
            policy_version: metrics
                .single_gauge("gateway_policy_version", "The policy version loaded"),
            policy_loaded: metrics.single_gauge(
                "gateway_policy_loaded_timestamp_seconds",
                "When the policy was last (re)loaded, Unix seconds",
            ),
            jwks_loaded: metrics.single_gauge(
                "gateway_jwks_loaded_timestamp_seconds",
                "When auth-service's signing keys were last loaded, Unix seconds",
            ),
            sessions_current: metrics.single_gauge(
                "gateway_session_cache_current",
                "1 while this replica sees every session invalidation (its heartbeat comes back) and serves sessions from memory; 0 while it checks each in Redis",
            ),
            services,
            forwarded: Resolved::new(vec![("decision", "allowed"), ("reason", "forwarded")]),
            redis_anonymous: Resolved::new(vec![("op", "anonymous")]),
            redis_signed_in: Resolved::new(vec![("op", "signed_in")]),
            recording: metrics.is_recording(),
        })
    }

    /// Counts a handled request: `forwarded` when it reached a service (whatever the
    /// service answered), otherwise a refusal by status and code.
    pub fn decided(&self, forwarded: bool, answer: &Answer) {
        if !self.recording {
            return;
        }
        if forwarded {
            self.forwarded.get(&self.decisions).inc();
            return;
        }
        let status = answer.status().as_u16();
        let code = answer.extensions().get::<Code>().copied();
        let decision = match status {
            400 => "400",
            401 => "401",
            403 => "403",
            404 => "404",
            406 => "406",
            429 => "429",
            503 => "503",
            s if s < 400 => "allowed",
            _ => "other",
        };
        let labels = vec![
            ("decision", decision),
            ("reason", code.map_or("none", Code::as_str)),
        ];
        self.decisions.get_or_create(&labels).inc();
    }

    /// When a timed step (a Redis round trip, the wait for a service) starts, if metrics
    /// are recorded: without them a request reads no clock for them (~60 instructions
    /// each).
    pub fn clock(&self) -> Option<Instant> {
        self.recording.then(Instant::now)
    }

    /// Records a forwarded request's wait for the service (`started`: [`Self::clock`]), or
    /// its failure.
    pub fn upstream(&self, base_url: &str, started: Option<Instant>, error: Option<Code>) {
        let (true, Some(started)) = (self.recording, started) else {
            return;
        };
        let known = self.services.get(base_url);
        let service = known.map_or("other", |(name, _)| name);
        match (error, known) {
            (None, Some((_, latency))) => latency
                .get(&self.upstream)
                .observe(started.elapsed().as_secs_f64()),
            (None, None) => self
                .upstream
                .get_or_create(&vec![("service", service)])
                .observe(started.elapsed().as_secs_f64()),
            (Some(code), _) => {
                self.upstream_errors
                    .get_or_create(&vec![("service", service), ("code", code.as_str())])
                    .inc();
            }
        }
    }

    /// `started`: [`Self::clock`].
    pub fn redis_round_trip(&self, op: &'static str, started: Option<Instant>) {
        let (true, Some(started)) = (self.recording, started) else {
            return;
        };
        let elapsed = started.elapsed().as_secs_f64();
        match op {
            "anonymous" => self.redis_anonymous.get(&self.redis).observe(elapsed),
            "signed_in" => self.redis_signed_in.get(&self.redis).observe(elapsed),
            _ => self.redis.get_or_create(&vec![("op", op)]).observe(elapsed),
        }
    }

    pub fn policy_loaded(&self, version: u64) {
        let version = i64::try_from(version).unwrap_or(i64::MAX);
        self.policy_version.set(version);
        self.policy_loaded.set(unix_now());
    }

    pub fn sessions_current(&self, current: bool) {
        self.sessions_current.set(i64::from(current));
    }

    pub fn jwks_loaded(&self) {
        self.jwks_loaded.set(unix_now());
    }
}

fn unix_now() -> i64 {
    shared::time::now_millis() / 1000
}
