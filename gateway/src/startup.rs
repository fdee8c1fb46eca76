//! Building and running the gateway.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use shared::metrics::Metrics;
use shared::redis::Redis;
use shared::server::Running;
use shared::tasks::Tasks;

use crate::auth::cache::SessionCache;
use crate::auth::jwks::KeySet;
use crate::auth::session::SessionCheck;
use crate::auth::verifier::TokenVerifier;
use crate::client_ip::TrustedProxies;
use crate::config::Settings;
use crate::connections::Connections;
use crate::docs::ApiDocs;
use crate::metrics::GatewayMetrics;
use crate::policy_store::PolicyStore;
use crate::ratelimit::RateLimits;
use crate::ratelimit::local::LocalCounts;
use crate::roles::RolesSource;
use crate::server::{MakeWorker, Worker};
use crate::upstreams::{ReplicaSets, RouteTable};

/// What every request handler of the gateway shares.
pub struct GatewayState {
    pub routes: RouteTable,
    pub policy: Arc<PolicyStore>,
    pub roles: RolesSource,
    pub limits: RateLimits,
    pub docs: ApiDocs,
    pub keys: Arc<KeySet>,
    pub verifier: TokenVerifier,
    pub redis: Redis,
    pub internal_token: reqwest::header::HeaderValue,
    pub trusted_proxies: TrustedProxies,
    /// The key and policy refreshers, reported by `/readyz`.
    pub tasks: Tasks,
    pub metrics: Arc<GatewayMetrics>,
}

/// Builds the gateway, started: its port, its drained stop and `run_until_stopped`.
pub struct Application;

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Running> {
        let listener = shared::server::bind(&settings.server.bind_addr)?;
        Self::build_on(listener, settings).await
    }

    /// The service on a listener bound beforehand, for a caller that must know the port
    /// before the service is built (`settings.server.bind_addr` is not used).
    pub async fn build_on(listener: TcpListener, settings: Settings) -> anyhow::Result<Running> {
        let redis = Redis::connect(&settings.server.redis)?;
        let internal_token =
            reqwest::header::HeaderValue::from_str(settings.server.internal_token.expose())?;
        let tasks = Tasks::default();
        let metrics = Metrics::for_listener("gateway", settings.server.metrics_addr.as_deref());
        metrics.observe_redis(&redis);
        let gateway_metrics = GatewayMetrics::new(&metrics, &settings.services);
        let mut sets = ReplicaSets::default();
        let routes = RouteTable::with_sets(&settings.routes, &mut sets)?;
        let auth = sets
            .get(&settings.services.auth)
            .map_err(|err| anyhow::anyhow!("AUTH_SERVICE_URL: {err}"))?;
        let rbac = sets
            .get(&settings.services.rbac)
            .map_err(|err| anyhow::anyhow!("RBAC_SERVICE_URL: {err}"))?;
        let keys = KeySet::new(auth, gateway_metrics.clone());
        keys.spawn_refresher(
            &tasks,
            upstream_client(&settings, &internal_token)?,
            settings.jwks_refresh_interval,
        );
        let policy = PolicyStore::new(rbac.clone(), gateway_metrics.clone());
        policy.spawn(
            &tasks,
            redis.clone(),
            upstream_client(&settings, &internal_token)?,
            settings.policy_pubsub,
        );
        let session_cache =
            SessionCache::new(settings.session_cache, Some(gateway_metrics.clone()));
        session_cache.spawn(&tasks, redis.clone());
        let local_counts = settings.rate_limits.sync.map(|interval| {
            let counts = LocalCounts::new(interval);
            counts.spawn(&tasks, redis.clone());
            counts
        });
        // Each service's description is fetched once, from whichever replica answers.
        let mut upstreams: Vec<Arc<shared::replicas::Replicas>> = Vec::new();
        for route in &settings.routes {
            let replicas = sets.get(&route.upstream)?;
            if !upstreams.iter().any(|known| Arc::ptr_eq(known, &replicas)) {
                upstreams.push(replicas);
            }
        }
        let state = Arc::new(GatewayState {
            routes,
            policy,
            roles: RolesSource::new(rbac),
            limits: settings.rate_limits.clone(),
            docs: ApiDocs::new(upstreams, settings.docs_dir.clone()),
            verifier: TokenVerifier::new(
                keys.clone(),
                &settings.jwt_issuer,
                &settings.jwt_audience,
                settings.jwt_leeway,
            ),
            keys,
            redis,
            internal_token,
            trusted_proxies: settings.trusted_proxies.clone(),
            tasks: tasks.clone(),
            metrics: gateway_metrics,
        });
        let metrics_port = metrics.serve(settings.server.metrics_addr.as_deref())?;
        let spans = shared::otel::Spans::start(&settings.server.otlp, "gateway")?;
        let drain = shared::server::Drain::from_env()?;

        // Each worker thread its own clients and Redis connection, made before the workers
        // start so that a failure stops the start instead of being papered over.
        // Connections are opened lazily, on the worker that uses them: a request never
        // waits for a wake-up on another thread (one shared connection halved throughput).
        let workers = (0..settings.server.workers.max(1))
            .map(|_| {
                let own = Redis::connect(&settings.server.redis)?;
                metrics.observe_redis(&own);
                let sessions = SessionCheck::new(own, session_cache.clone(), local_counts.clone());
                let client = upstream_client(&settings, &state.internal_token)?;
                let (state, metrics, drain, spans) =
                    (state.clone(), metrics.clone(), drain.clone(), spans.clone());
                let (timeout, idle_limit) =
                    (settings.upstream_timeout, settings.client_idle_timeout);
                let make: MakeWorker = Box::new(move || Worker {
                    state,
                    client,
                    connections: Connections::new(timeout),
                    idle_limit,
                    sessions,
                    metrics,
                    drain,
                    spans,
                });
                Ok(make)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        wait_for_what_every_request_needs(&state).await;
        let running = crate::server::serve(listener, workers, &drain)?
            .with_metrics_port(metrics_port)
            .with_spans(spans)
            .with_tasks(tasks);
        tracing::info!(port = running.port(), "gateway listening");
        Ok(running)
    }
}

/// How long a starting gateway waits for its policy and keys before it serves anyway.
const STARTUP_WAIT: Duration = Duration::from_secs(5);

/// nginx sends a restarted gateway requests as soon as its port takes connections (it does
/// not ask `/readyz`), and without the policy every request would get 503
/// `policy_unavailable`, without the keys every signed-in one `keys_unavailable`. So the
/// server starts accepting once both are loaded (connections made meanwhile wait in the
/// listen queue), or after [`STARTUP_WAIT`], `/readyz` then saying what is missing.
async fn wait_for_what_every_request_needs(state: &GatewayState) {
    let started = std::time::Instant::now();
    while !(state.policy.get().is_ok() && state.keys.is_loaded()) {
        if started.elapsed() >= STARTUP_WAIT {
            tracing::warn!("serving without the policy or the signing keys: /readyz says which");
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The client for everything the gateway asks of the services (forwarded requests, keys,
/// policy, roles, API descriptions): each call carries the internal token, without which
/// no service answers, so no caller has to add it.
fn upstream_client(
    settings: &Settings,
    internal_token: &reqwest::header::HeaderValue,
) -> anyhow::Result<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        shared::identity::names::INTERNAL_TOKEN,
        internal_token.clone(),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .connect_timeout(Duration::from_secs(2))
        .timeout(settings.upstream_timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(256)
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|err| anyhow::anyhow!("building the upstream HTTP client: {err}"))
}
