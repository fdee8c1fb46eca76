//! Who the experts are (rbac-service: holders of the `expert` role) and what people are
//! called (auth-service), over their `/internal/…` routes, cached for a short while.
//!
//! A failed refresh keeps serving the last answer for up to ten cache periods, so a blip in
//! rbac- or auth-service does not take chat down; with nothing cached it is a 503.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use shared::config::Secret;
use shared::identity::names::INTERNAL_TOKEN;
use shared::replicas::Replicas;
use shared::{ApiError, Code};

use crate::config::DirectorySettings;

/// A person as auth-service describes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Profile {
    pub id: i64,
    pub account: String,
    pub name: String,
}

#[derive(Deserialize)]
struct RoleHolders {
    user_ids: Vec<i64>,
}

#[derive(Deserialize)]
struct Profiles {
    results: Vec<Profile>,
}

/// Ids per auth-service lookup.
const LOOKUP_BATCH: usize = 100;

pub struct Directory {
    http: reqwest::Client,
    rbac: Replicas,
    auth: Replicas,
    token: Secret,
    ttl: Duration,
    experts: Mutex<Option<(Instant, Arc<Vec<i64>>)>>,
    profiles: Mutex<HashMap<i64, (Instant, Profile)>>,
    /// Single flight: one refresh of the expert list at a time.
    refreshing: tokio::sync::Mutex<()>,
}

impl Directory {
    pub fn new(settings: &DirectorySettings, token: Secret) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            rbac: Replicas::parse(&settings.rbac_service_url)
                .map_err(|err| anyhow::anyhow!("RBAC_SERVICE_URL: {err}"))?,
            auth: Replicas::parse(&settings.auth_service_url)
                .map_err(|err| anyhow::anyhow!("AUTH_SERVICE_URL: {err}"))?,
            token,
            ttl: settings.cache_ttl,
            experts: Mutex::new(None),
            profiles: Mutex::new(HashMap::new()),
            refreshing: tokio::sync::Mutex::new(()),
        })
    }

    /// The ids of every expert, ascending.
    pub async fn experts(&self) -> Result<Arc<Vec<i64>>, ApiError> {
        if let Some((at, ids)) = self.cached_experts()
            && at.elapsed() < self.ttl
        {
            return Ok(ids);
        }
        self.refresh_experts(Instant::now().checked_sub(self.ttl))
            .await
    }

    /// Whether `user_id` holds the expert role (a grant made since the last fetch counts).
    pub async fn is_expert(&self, user_id: i64) -> Result<bool, ApiError> {
        let ids = self.experts().await?;
        if ids.binary_search(&user_id).is_ok() {
            return Ok(true);
        }
        // Granted since the last fetch? Callers asking at the same time share one fetch.
        let ids = self.refresh_experts(Some(Instant::now())).await?;
        Ok(ids.binary_search(&user_id).is_ok())
    }

    /// Profiles of `ids` that auth-service knows (unknown ids are left out).
    pub async fn profiles(&self, ids: &[i64]) -> Result<HashMap<i64, Profile>, ApiError> {
        let mut found = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        {
            let cache = lock(&self.profiles);
            for id in ids {
                match cache.get(id) {
                    Some((at, profile)) if at.elapsed() < self.ttl => {
                        found.insert(*id, profile.clone());
                    }
                    _ => missing.push(*id),
                }
            }
        }
        missing.sort_unstable();
        missing.dedup();
        for chunk in missing.chunks(LOOKUP_BATCH) {
            match self.fetch_profiles(chunk).await {
                Ok(fetched) => {
                    let now = Instant::now();
                    let mut cache = lock(&self.profiles);
                    if cache.len() > 50_000 {
                        cache.retain(|_, (at, _)| at.elapsed() < self.ttl);
                    }
                    for profile in fetched {
                        cache.insert(profile.id, (now, profile.clone()));
                        found.insert(profile.id, profile);
                    }
                }
                Err(err) => {
                    let stale = self.stale_profiles(chunk);
                    if stale.len() < chunk.len() {
                        return Err(err);
                    }
                    found.extend(stale);
                }
            }
        }
        Ok(found)
    }

    fn cached_experts(&self) -> Option<(Instant, Arc<Vec<i64>>)> {
        lock(&self.experts).clone()
    }

    /// Refetches the expert list unless it was fetched after `newer_than` (by a caller
    /// that held the single-flight lock while this one waited for it).
    async fn refresh_experts(
        &self,
        newer_than: Option<Instant>,
    ) -> Result<Arc<Vec<i64>>, ApiError> {
        let _single = self.refreshing.lock().await;
        let cached = self.cached_experts();
        if let Some((at, ids)) = &cached
            && newer_than.is_some_and(|t| *at > t)
        {
            return Ok(ids.clone());
        }
        match self.fetch_experts().await {
            Ok(mut ids) => {
                ids.sort_unstable();
                ids.dedup();
                let ids = Arc::new(ids);
                *lock(&self.experts) = Some((Instant::now(), ids.clone()));
                Ok(ids)
            }
            Err(err) => match cached {
                Some((at, ids)) if at.elapsed() < self.ttl * 10 => {
                    tracing::warn!(error = ?err, "rbac-service unavailable; serving cached experts");
                    Ok(ids)
                }
                _ => Err(err),
            },
        }
    }

    fn stale_profiles(&self, ids: &[i64]) -> Vec<(i64, Profile)> {
        let cache = lock(&self.profiles);
        ids.iter()
            .filter_map(|id| cache.get(id).map(|(_, p)| (*id, p.clone())))
            .collect()
    }

    async fn fetch_experts(&self) -> Result<Vec<i64>, ApiError> {
        let path = "/internal/roles/expert/users";
        let holders: RoleHolders = self.get_json(&self.rbac, path, "rbac-service").await?;
        Ok(holders.user_ids)
    }

    async fn fetch_profiles(&self, ids: &[i64]) -> Result<Vec<Profile>, ApiError> {
        let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
        let path = format!("/internal/users?ids={}", ids.join(","));
        let profiles: Profiles = self.get_json(&self.auth, &path, "auth-service").await?;
        Ok(profiles.results)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        replicas: &Replicas,
        path: &str,
        service: &'static str,
    ) -> Result<T, ApiError> {
        let unavailable = |err: anyhow::Error| {
            ApiError::new(
                Code::DirectoryUnavailable,
                "The list of experts cannot be read right now; retry shortly.",
            )
            .with_source(err.context(service))
        };
        let response = replicas
            .call(
                |base| {
                    self.http
                        .get(format!("{base}{path}"))
                        .header(INTERNAL_TOKEN, self.token.expose())
                        .header(shared::trace::TRACEPARENT, shared::trace::traceparent())
                        .send()
                },
                reqwest::Error::is_connect,
            )
            .await
            .map_err(|err| unavailable(err.into()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(unavailable(anyhow::anyhow!("{path} answered {status}")));
        }
        response.json().await.map_err(|err| unavailable(err.into()))
    }
}

/// A poisoned lock only means another thread panicked mid-update of a cache; the data is
/// still a valid cache.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
