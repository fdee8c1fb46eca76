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
use chrono::NaiveDateTime;
use serde::Serialize;
use shared::ApiError;
use shared::db::Db;
use shared::redis::Redis;

use crate::domain::SignalKind;
use crate::metrics::RecommendMetrics;
use crate::models::{Rating, Signal};
use crate::ranking::Source;
use crate::recommend::model::Learned;
use crate::recommend::{self, Direction, Model, Similarity, Strategy, auto};
use crate::schedule::{Fit, RebuildRule};

/// The similarity the service ranks with (the best of `eval` on MovieLens-shaped data).
pub const SIMILARITY: Similarity = Similarity::Cosine;

/// One fitted state of the world.
pub struct Snapshot {
    pub version: u64,
    pub item: Model,
    pub user: Model,
    /// EASE or RP3beta, fitted only while `auto` serves it.
    pub learned: Option<Model>,
    pub auto: AutoChoice,
}

impl Snapshot {
    fn empty() -> Self {
        Self {
            version: 0,
            item: Model::fit(&[], item_strategy()),
            user: Model::fit(&[], user_strategy()),
            learned: None,
            auto: AutoChoice::without_evidence(0, 0),
        }
    }

    /// The model behind a ranking source (item-based for popular, whose list needs none).
    pub fn model(&self, source: Source) -> &Model {
        match source {
            Source::User => &self.user,
            Source::Ease | Source::Rp3 => self.learned.as_ref().unwrap_or(&self.item),
            Source::Item | Source::Popular => &self.item,
        }
    }
}

/// A choice of `auto` is made again after this many rebuilds kept it…
pub const AUTO_RECHECK_REBUILDS: u64 = 20;
/// …or once the number of interactions moved this far (a share) from the one it was
/// made on, whichever comes first.
pub const AUTO_RECHECK_GROWTH: f64 = 0.1;

/// What `strategy=auto` ranks with for travellers with a profile, and the evidence: each
/// candidate fitted without the most recent 20 % of the interactions of up to
/// [`auto::SAMPLE_USERS`] users, scored by precision@10 on them (see
/// [`auto::choose_lists`]). Never the test data of anything: only what the service holds.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AutoChoice {
    /// item, user, ease or rp3.
    pub strategy: Source,
    /// Its held-out precision@10 minus the runner-up's (0 without evidence).
    pub margin: f64,
    /// Every candidate's held-out precision@10, best first (empty without evidence).
    pub held_out: Vec<HeldOut>,
    /// Users with a relevant (4 or more) held-out interaction the figures average over; 0
    /// when too little data to choose, and item-based ranking is served.
    pub users: usize,
    /// The model version whose rebuild chose; later rebuilds keep the choice for up to
    /// 20 rebuilds or until the interactions grew or shrank by a tenth.
    pub chosen_at: u64,
    /// The interactions the choice was made on.
    pub interactions: usize,
    /// RP3beta's popularity penalty as learned on the same held-out slice (null when rp3
    /// was not a candidate); while rp3 is served, every rebuild fits it with this β.
    pub beta: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HeldOut {
    pub strategy: Source,
    pub precision_at_10: f64,
}

impl AutoChoice {
    fn without_evidence(version: u64, interactions: usize) -> Self {
        Self {
            strategy: Source::Item,
            margin: 0.0,
            held_out: Vec::new(),
            users: 0,
            chosen_at: version,
            interactions,
            beta: None,
        }
    }

    /// Chooses among what the service can serve (EASE and RP3beta only on a catalog
    /// they fit).
    fn choose(preferences: &[recommend::Rating], items: usize, version: u64) -> Self {
        let mut candidates = vec![item_strategy(), user_strategy()];
        if items <= recommend::ease::MAX_ITEMS {
            candidates.extend([Strategy::Ease, Strategy::Rp3]);
        }
        let choice = auto::choose_lists(preferences, &candidates, auto::SAMPLE_USERS);
        if choice.users == 0 {
            return Self::without_evidence(version, preferences.len());
        }
        Self {
            strategy: source_of(choice.winner()),
            margin: choice.margin(),
            held_out: choice
                .ranked
                .iter()
                .map(|&(strategy, precision_at_10)| HeldOut {
                    strategy: source_of(strategy),
                    precision_at_10,
                })
                .collect(),
            users: choice.users,
            chosen_at: version,
            interactions: preferences.len(),
            beta: choice.beta,
        }
    }

    /// Whether a rebuild to `version` on `interactions` should choose again.
    fn stale(&self, version: u64, interactions: usize) -> bool {
        let moved = (interactions as f64 - self.interactions as f64).abs();
        self.users == 0
            || version.saturating_sub(self.chosen_at) >= AUTO_RECHECK_REBUILDS
            || moved >= AUTO_RECHECK_GROWTH * self.interactions as f64
    }
}

fn source_of(strategy: Strategy) -> Source {
    match strategy {
        Strategy::Ease => Source::Ease,
        Strategy::Rp3 => Source::Rp3,
        Strategy::Knn {
            direction: Direction::User,
            ..
        } => Source::User,
        _ => Source::Item,
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
    /// What `strategy=auto` serves from this model, and why.
    pub auto: AutoChoice,
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
            Ok(report) => {
                self.metrics.rebuilt(report.version, report.seconds);
                self.metrics.auto_chosen(&report.auto);
            }
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
        let previous = self.snapshot().auto.clone();
        let snapshot = tokio::task::spawn_blocking(move || {
            let preferences = preferences(&ratings, &signals);
            let matrix = recommend::Matrix::new(&preferences);
            let auto = if previous.stale(version, preferences.len()) {
                AutoChoice::choose(&preferences, matrix.items(), version)
            } else {
                previous
            };
            let learned = match auto.strategy {
                Source::Ease => Some(Model::fit_matrix(matrix.clone(), Strategy::Ease)),
                // The β of the choice: learning it again would cost a second walk.
                Source::Rp3 => Some(Model::fit_learned(
                    matrix.clone(),
                    Strategy::Rp3,
                    Learned {
                        beta: auto.beta.unwrap_or(recommend::rp3::BETA),
                        ..Learned::DEFAULT
                    },
                )),
                Source::Item | Source::User | Source::Popular => None,
            };
            Snapshot {
                version,
                learned,
                item: Model::fit_matrix(matrix.clone(), item_strategy()),
                user: Model::fit_matrix(matrix, user_strategy()),
                auto,
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
            auto: snapshot.auto.clone(),
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
/// implicit signal's weight; oldest first by the latest rating or signal of the pair, so
/// `auto` can hold out each user's most recent ones.
pub fn preferences(
    ratings: &[(i64, i64, i32, NaiveDateTime)],
    signals: &[(i64, i64, String, NaiveDateTime)],
) -> Vec<recommend::Rating> {
    // The preference and the latest rating or signal of each pair.
    let mut best: HashMap<(i64, i64), (f32, NaiveDateTime)> = HashMap::new();
    for (user, trip, kind, at) in signals {
        if let Ok(kind) = SignalKind::parse(kind) {
            let slot = best
                .entry((*user, *trip))
                .or_insert((0.0, NaiveDateTime::MIN));
            slot.0 = slot.0.max(kind.weight());
            slot.1 = slot.1.max(*at);
        }
    }
    for (user, trip, score, at) in ratings {
        let slot = best
            .entry((*user, *trip))
            .or_insert((0.0, NaiveDateTime::MIN));
        *slot = (*score as f32, slot.1.max(*at));
    }
    let mut ordered: Vec<((i64, i64), (f32, NaiveDateTime))> = best.into_iter().collect();
    ordered.sort_unstable_by_key(|((user, trip), (_, at))| (*at, *user, *trip));
    ordered
        .into_iter()
        .map(|((user, item), (value, _))| recommend::Rating { user, item, value })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen(at: u64, interactions: usize) -> AutoChoice {
        AutoChoice {
            strategy: Source::User,
            margin: 0.02,
            held_out: Vec::new(),
            users: 500,
            chosen_at: at,
            interactions,
            beta: None,
        }
    }

    #[test]
    fn auto_chooses_again_after_twenty_rebuilds_or_a_tenth_more_or_less_data() {
        let choice = chosen(3, 100_000);
        assert!(!choice.stale(4, 100_500), "the next rebuild keeps it");
        assert!(!choice.stale(22, 109_999));
        assert!(choice.stale(23, 100_000), "20 rebuilds later");
        assert!(choice.stale(4, 110_000), "10 % more data");
        assert!(choice.stale(4, 90_000), "10 % less data");
        let without = AutoChoice::without_evidence(3, 40);
        assert!(without.stale(4, 40), "no evidence yet: try each rebuild");
    }

    #[test]
    fn preferences_are_oldest_first_by_the_latest_rating_or_signal_of_each_pair() {
        let t = |s: i64| chrono::DateTime::from_timestamp(s, 0).unwrap().naive_utc();
        let ratings = [(1, 10, 5, t(30)), (1, 11, 2, t(10))];
        let signals = [
            (1, 11, "view".to_owned(), t(40)),
            (1, 12, "view".to_owned(), t(20)),
            (1, 12, "purchase".to_owned(), t(5)),
        ];
        let got: Vec<(i64, f32)> = preferences(&ratings, &signals)
            .iter()
            .map(|r| (r.item, r.value))
            .collect();
        // 12: bought (4) and viewed at 20; 10 rated at 30; 11 rated 2, viewed again at 40.
        assert_eq!(got, vec![(12, 4.0), (10, 5.0), (11, 2.0)]);
    }
}
