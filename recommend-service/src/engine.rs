//! The models behind the recommendation routes, rebuilt in the background.
//!
//! Requests read the current [`Snapshot`] through an `ArcSwap` — one atomic load, never a
//! lock, never a wait for a rebuild. A rebuild loads every rating and signal, fits the
//! item- and user-based models on the blocking pool and swaps the new snapshot in.
//!
//! When to rebuild: every change bumps a data version in Redis (shared by all replicas)
//! and marks this replica dirty; a background task checks both on the schedule of
//! [`RebuildRule`] and rebuilds when something changed, so bursts of ratings cost one
//! rebuild, not one per request, and fitting takes a bounded share of a core however
//! busy the service is. With Redis down, local changes still trigger rebuilds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use serde::Serialize;
use shared::ApiError;
use shared::db::Db;
use shared::redis::Redis;

use crate::domain::SignalKind;
use crate::metrics::RecommendMetrics;
use crate::models::{Rating, Signal};
use crate::recommend::{self, Direction, Model, Similarity, Strategy};
use crate::schedule::{Fit, RebuildRule};

/// The similarity the service ranks with (the best of `eval` on MovieLens-shaped data).
pub const SIMILARITY: Similarity = Similarity::Cosine;

/// One fitted state of the world.
pub struct Snapshot {
    pub version: u64,
    pub item: Model,
    pub user: Model,
}

impl Snapshot {
    fn empty() -> Self {
        Self {
            version: 0,
            item: Model::fit(&[], item_strategy()),
            user: Model::fit(&[], user_strategy()),
        }
    }
}

pub fn item_strategy() -> Strategy {
    Strategy::Knn {
        direction: Direction::Item,
        similarity: SIMILARITY,
    }
}

pub fn user_strategy() -> Strategy {
    Strategy::Knn {
        direction: Direction::User,
        similarity: SIMILARITY,
    }
}

/// What a rebuild produced.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BuildReport {
    pub version: u64,
    pub users: usize,
    pub trips: usize,
    pub interactions: usize,
    pub seconds: f64,
}

/// What this replica's rebuilds have cost and how fresh they kept the model.
#[derive(Debug, Clone, Default)]
pub struct RebuildStats {
    pub fits: u64,
    /// Wall time spent in rebuilds (loading and fitting).
    pub fitting: Duration,
    /// From the first change a model did not include to the swap of the one that did:
    /// the last such lag and the longest.
    pub last_lag: Duration,
    pub max_lag: Duration,
    /// How long the oldest change no model includes yet has been waiting.
    pub waiting: Option<Duration>,
}

pub struct Recommender {
    current: ArcSwap<Snapshot>,
    dirty: AtomicBool,
    /// When the oldest change not yet loaded by a rebuild was recorded.
    pending_since: Mutex<Option<Instant>>,
    last_fit: Mutex<Option<Fit>>,
    stats: Mutex<RebuildStats>,
    builds: AtomicU64,
    /// Serialises rebuilds of this replica.
    building: tokio::sync::Mutex<()>,
    db: Db,
    redis: Redis,
    metrics: RecommendMetrics,
}

impl Recommender {
    pub fn new(db: Db, redis: Redis) -> Self {
        Self {
            current: ArcSwap::from_pointee(Snapshot::empty()),
            dirty: AtomicBool::new(true),
            pending_since: Mutex::new(None),
            last_fit: Mutex::new(None),
            stats: Mutex::new(RebuildStats::default()),
            builds: AtomicU64::new(0),
            building: tokio::sync::Mutex::new(()),
            db,
            redis,
            metrics: RecommendMetrics::unregistered(),
        }
    }

    /// Counts rebuilds, their time and the served version in `metrics`.
    pub fn with_metrics(mut self, metrics: RecommendMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    fn data_version_key(&self) -> String {
        self.redis.key("rec:data-version")
    }

    /// Records that ratings or signals changed: this replica and the others rebuild soon.
    pub async fn changed(&self) {
        self.dirty.store(true, Ordering::SeqCst);
        lock(&self.pending_since).get_or_insert_with(Instant::now);
        if let Err(err) = self
            .redis
            .query::<i64>(redis::cmd("INCR").arg(self.data_version_key()))
            .await
        {
            tracing::debug!(error = %err, "cannot announce the change to other replicas");
        }
    }

    /// Loads everything, fits, and swaps the new snapshot in.
    pub async fn rebuild(&self) -> Result<BuildReport, ApiError> {
        let result = self.load_and_fit().await;
        match &result {
            Ok(report) => self.metrics.rebuilt(report.version, report.seconds),
            Err(_) => self.metrics.rebuild_failed(),
        }
        result
    }

    async fn load_and_fit(&self) -> Result<BuildReport, ApiError> {
        let _guard = self.building.lock().await;
        let started = Instant::now();
        self.dirty.store(false, Ordering::SeqCst);
        let oldest_change = lock(&self.pending_since).take();
        let (ratings, signals) = self
            .db
            .run(|conn| Ok((Rating::all(conn)?, Signal::all(conn)?)))
            .await?;
        let version = self.builds.fetch_add(1, Ordering::SeqCst) + 1;
        let snapshot = tokio::task::spawn_blocking(move || {
            let preferences = preferences(&ratings, &signals);
            let matrix = recommend::Matrix::new(&preferences);
            Snapshot {
                version,
                item: Model::fit_matrix(matrix.clone(), item_strategy()),
                user: Model::fit_matrix(matrix, user_strategy()),
            }
        })
        .await
        .map_err(ApiError::internal)?;
        let report = BuildReport {
            version,
            users: snapshot.item.matrix.users(),
            trips: snapshot.item.matrix.items(),
            interactions: snapshot.item.matrix.entries(),
            seconds: started.elapsed().as_secs_f64(),
        };
        self.current.store(Arc::new(snapshot));
        self.finished(started, oldest_change);
        tracing::info!(?report, "recommendation model rebuilt");
        Ok(report)
    }

    fn finished(&self, started: Instant, oldest_change: Option<Instant>) {
        let ended = Instant::now();
        let took = ended - started;
        *lock(&self.last_fit) = Some(Fit { ended, took });
        let mut stats = lock(&self.stats);
        stats.fits += 1;
        stats.fitting += took;
        if let Some(since) = oldest_change {
            stats.last_lag = ended - since;
            stats.max_lag = stats.max_lag.max(stats.last_lag);
        }
    }

    pub fn stats(&self) -> RebuildStats {
        let waiting = lock(&self.pending_since).map(|since| since.elapsed());
        RebuildStats {
            waiting,
            ..lock(&self.stats).clone()
        }
    }

    /// Rebuilds when this replica or another changed data, as often as `rule` allows;
    /// runs forever.
    pub async fn run(self: Arc<Self>, rule: RebuildRule) {
        let mut seen: Option<i64> = None;
        let mut checked = Instant::now();
        loop {
            let last_fit = *lock(&self.last_fit);
            let next = rule.next_check(checked, last_fit);
            tokio::time::sleep_until(tokio::time::Instant::from_std(next)).await;
            checked = Instant::now();
            let remote = self
                .redis
                .query::<Option<i64>>(redis::cmd("GET").arg(self.data_version_key()))
                .await
                .ok()
                .flatten();
            let remote_changed = remote.is_some() && remote != seen;
            if remote.is_some() {
                seen = remote;
            }
            if (self.dirty.load(Ordering::SeqCst) || remote_changed)
                && let Err(err) = self.rebuild().await
            {
                tracing::warn!(error = ?err, "rebuilding the recommendation model failed");
                self.dirty.store(true, Ordering::SeqCst);
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// One preference per (user, trip): the rating when there is one, else the strongest
/// implicit signal's weight.
pub fn preferences(
    ratings: &[(i64, i64, i32)],
    signals: &[(i64, i64, String)],
) -> Vec<recommend::Rating> {
    let mut best: HashMap<(i64, i64), f32> = HashMap::new();
    for (user, trip, kind) in signals {
        if let Ok(kind) = SignalKind::parse(kind) {
            let slot = best.entry((*user, *trip)).or_insert(0.0);
            *slot = slot.max(kind.weight());
        }
    }
    for (user, trip, score) in ratings {
        best.insert((*user, *trip), *score as f32);
    }
    best.into_iter()
        .map(|((user, item), value)| recommend::Rating { user, item, value })
        .collect()
}
