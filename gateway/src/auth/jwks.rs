//! auth-service's public keys, fetched from its JWKS at start and refreshed periodically,
//! and early when a token names a key we do not know (rotation), at most every 10 s.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use shared::replicas::Replicas;
use shared::tasks::Tasks;
use tokio::sync::Notify;

use crate::metrics::GatewayMetrics;
use crate::upstreams;

pub struct KeySet {
    keys: RwLock<Arc<HashMap<String, DecodingKey>>>,
    auth: Arc<Replicas>,
    wake: Notify,
    metrics: Arc<GatewayMetrics>,
}

impl KeySet {
    pub fn new(auth: Arc<Replicas>, metrics: Arc<GatewayMetrics>) -> Arc<Self> {
        Arc::new(Self {
            metrics,
            keys: RwLock::new(Arc::default()),
            auth,
            wake: Notify::new(),
        })
    }

    pub fn get(&self, kid: &str) -> Option<DecodingKey> {
        let keys = self.keys.read().map(|k| k.clone()).unwrap_or_default();
        let key = keys.get(kid).cloned();
        if key.is_none() {
            self.wake.notify_one();
        }
        key
    }

    pub fn is_loaded(&self) -> bool {
        self.keys.read().is_ok_and(|k| !k.is_empty())
    }

    /// Keeps the keys fresh for as long as the process runs.
    pub fn spawn_refresher(
        self: &Arc<Self>,
        tasks: &Tasks,
        client: reqwest::Client,
        interval: Duration,
    ) {
        let keys = Arc::clone(self);
        tasks.supervise("jwks-refresh", move || {
            keys.clone().refresh_forever(client.clone(), interval)
        });
    }

    async fn refresh_forever(self: Arc<Self>, client: reqwest::Client, interval: Duration) {
        let mut last_attempt: Option<Instant> = None;
        loop {
            if last_attempt.is_none_or(|t| t.elapsed() >= Duration::from_secs(10))
                || !self.is_loaded()
            {
                last_attempt = Some(Instant::now());
                if let Err(err) = self.refresh(&client).await {
                    tracing::warn!(auth = %self.auth, error = %err, "cannot fetch the JWKS");
                }
            }
            let wait = if self.is_loaded() {
                interval
            } else {
                Duration::from_millis(500)
            };
            let _ = tokio::time::timeout(wait, self.wake.notified()).await;
        }
    }

    async fn refresh(&self, client: &reqwest::Client) -> anyhow::Result<()> {
        let path = "/v1/auth/jwks.json";
        let set: JwkSet = upstreams::get(&self.auth, client, path, Duration::from_secs(5))
            .await?
            .error_for_status()?
            .json()
            .await?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let usable = matches!(jwk.algorithm, AlgorithmParameters::RSA(_))
                && jwk
                    .common
                    .key_algorithm
                    .is_none_or(|alg| alg == jsonwebtoken::jwk::KeyAlgorithm::RS256);
            if let (true, Some(kid)) = (usable, &jwk.common.key_id) {
                keys.insert(kid.clone(), DecodingKey::from_jwk(jwk)?);
            }
        }
        anyhow::ensure!(!keys.is_empty(), "the JWKS holds no RS256 key");
        tracing::debug!(count = keys.len(), "JWKS loaded");
        self.metrics.jwks_loaded();
        if let Ok(mut current) = self.keys.write() {
            *current = Arc::new(keys);
        }
        Ok(())
    }
}
