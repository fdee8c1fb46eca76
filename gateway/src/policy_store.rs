//! Keeping each replica's policy current.
//!
//! The policy is loaded from rbac-service at start and held in memory. It is reloaded when
//! rbac-service publishes a new version (Redis pub/sub), when the version counter in Redis
//! differs from ours (checked every second, which catches a lost message), and every 30 s
//! regardless. Until a policy is loaded, or while a newer version is known but cannot be
//! loaded, requests get 503: the gateway never guesses.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use shared::policy::{POLICY_CHANNEL, POLICY_VERSION_KEY, PolicyDocument};
use shared::redis::Redis;
use shared::replicas::Replicas;
use shared::tasks::Tasks;
use shared::{ApiError, Code};
use tokio::sync::Notify;

use crate::metrics::GatewayMetrics;
use crate::policy::Policy;
use crate::upstreams;

const CHECK_EVERY: Duration = Duration::from_secs(1);
const RELOAD_EVERY: Duration = Duration::from_secs(30);

pub struct PolicyStore {
    current: RwLock<Option<Arc<Policy>>>,
    /// A newer version exists than the one loaded, and loading it failed.
    behind: std::sync::atomic::AtomicBool,
    rbac: Arc<Replicas>,
    wake: Notify,
    metrics: Arc<GatewayMetrics>,
}

impl PolicyStore {
    pub fn new(rbac: Arc<Replicas>, metrics: Arc<GatewayMetrics>) -> Arc<Self> {
        Arc::new(Self {
            metrics,
            current: RwLock::new(None),
            behind: Default::default(),
            rbac,
            wake: Notify::new(),
        })
    }

    pub fn get(&self) -> Result<Arc<Policy>, ApiError> {
        let unavailable = || {
            ApiError::new(
                Code::PolicyUnavailable,
                "Permissions cannot be checked right now; retry shortly.",
            )
        };
        if self.behind.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(unavailable());
        }
        self.current
            .read()
            .ok()
            .and_then(|p| p.clone())
            .ok_or_else(unavailable)
    }

    pub fn loaded_version(&self) -> Option<u64> {
        self.current
            .read()
            .ok()
            .and_then(|p| p.as_ref().map(|p| p.version))
    }

    /// Starts the reload loop (and the pub/sub listener unless `pubsub` is false).
    pub fn spawn(
        self: &Arc<Self>,
        tasks: &Tasks,
        redis: Redis,
        client: reqwest::Client,
        pubsub: bool,
    ) {
        if pubsub {
            let store = Arc::clone(self);
            let listener = redis.clone();
            tasks.supervise("policy-listen", move || {
                store.clone().listen(listener.clone())
            });
        }
        let store = Arc::clone(self);
        tasks.supervise("policy-reload", move || {
            store.clone().reload_forever(redis.clone(), client.clone())
        });
    }

    async fn reload_forever(self: Arc<Self>, redis: Redis, client: reqwest::Client) {
        let mut last_load = Instant::now() - RELOAD_EVERY;
        loop {
            let known: Option<u64> = redis
                .query::<Option<u64>>(redis::cmd("GET").arg(redis.key(POLICY_VERSION_KEY)))
                .await
                .ok()
                .map(|v| v.unwrap_or(0));
            let loaded = self.loaded_version();
            let due = loaded.is_none()
                || last_load.elapsed() >= RELOAD_EVERY
                || known.is_some_and(|k| Some(k) != loaded);
            if due {
                match self.load(&client).await {
                    Ok(version) => {
                        last_load = Instant::now();
                        let still_behind = known.is_some_and(|k| k > version);
                        self.behind
                            .store(still_behind, std::sync::atomic::Ordering::Relaxed);
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot load the policy");
                        let newer_exists = matches!((known, loaded), (Some(k), Some(l)) if k > l);
                        self.behind
                            .store(newer_exists, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
            let _ = tokio::time::timeout(CHECK_EVERY, self.wake.notified()).await;
        }
    }

    async fn load(&self, client: &reqwest::Client) -> anyhow::Result<u64> {
        let path = "/internal/policy";
        let document: PolicyDocument =
            upstreams::get(&self.rbac, client, path, Duration::from_secs(5))
                .await?
                .error_for_status()?
                .json()
                .await?;
        let policy = Policy::compile(&document)?;
        let version = policy.version;
        if let Ok(mut current) = self.current.write() {
            *current = Some(Arc::new(policy));
        }
        self.metrics.policy_loaded(version);
        tracing::info!(
            version,
            resources = document.resources.len(),
            "policy loaded"
        );
        Ok(version)
    }

    async fn listen(self: Arc<Self>, redis: Redis) {
        loop {
            match crate::pubsub::subscribe(&redis, POLICY_CHANNEL).await {
                Ok(mut pubsub) => {
                    let mut messages = pubsub.on_message();
                    while messages.next().await.is_some() {
                        self.wake.notify_one();
                    }
                }
                Err(err) => tracing::debug!(error = %err, "policy channel unavailable"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}
