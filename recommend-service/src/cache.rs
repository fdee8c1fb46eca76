//! Trip reads through Redis (cache-aside), consistent under concurrent updates.
//!
//! The race it closes: a reader misses, loads version 1 from the database; a writer
//! commits version 2 and invalidates; the reader then stores version 1 — and the stale
//! trip would stay cached until it expires. Plain delete-on-write cannot stop that.
//!
//! The scheme: every trip row carries a `version` that each change bumps in the same
//! transaction. A cache entry is `"{version}:{json}"`; an invalidation is a *marker*
//! `"{version}:"` — "version N is committed, no data yet" — rather than a delete. Both
//! are written by Lua scripts that compare versions atomically in Redis:
//!
//! - `FILL` (reader) stores its row only if no entry or marker of a newer version is
//!   there, so the reader in the race above finds the writer's marker 2 and stores nothing;
//! - `FENCE` (writer) replaces anything older than its version with a marker, and never
//!   lowers a version, so concurrent writers' markers end at the newest version whatever
//!   order they land in.
//!
//! A writer fences once, before its transaction, with the current version + 1; if Redis
//! cannot be reached then, the write is refused with 503 and nothing changes. The
//! transaction then locks the row and commits only if the trip is still at the version
//! the fence was computed from (else the writer reads the version again and fences
//! again). So every committed version was fenced before it became visible, whatever the
//! number of concurrent writers, and a reader's older load can never be stored over it;
//! nothing has to reach Redis after the commit, so no failure there can leave a stale
//! entry. (Fencing "current + 1" without that check holds for one writer only: a second
//! writer that read the version before the first committed fences a version the first
//! already wrote, a reader caches the first's row, and a failed fence after the second
//! commit would leave it there for the TTL.) Entries and markers expire after the
//! configured TTL.
//!
//! Reads fall back to the database when Redis is down (the cache is never the source of
//! truth), and concurrent misses of one trip in this process share a single database
//! read (single flight).
//!
//! [`CacheMode::Naive`] is the textbook delete-then-set scheme, kept to show in a test
//! that it fails the interleaving that the versioned scheme survives.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use redis::Script;

use crate::metrics::RecommendMetrics;
use shared::db::{Db, DbConnection};
use shared::redis::Redis;
use shared::{ApiError, Code};
use tokio::sync::OnceCell;

use crate::models::{Trip, TripView};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheMode {
    /// Versioned compare-and-set (the one to use).
    Versioned,
    /// Delete on write, unconditional set on read: has the stale-set race.
    Naive,
}

/// Runs between a reader's database load and its cache fill, so tests can force an
/// interleaving there. Receives the trip id.
pub type FillHook = Arc<dyn Fn(i64) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Where a writer is when it calls the [`WriteHook`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteStep {
    /// The pre-commit fence is set; the transaction has not begun.
    Fenced,
    /// The transaction committed.
    Committed,
}

/// Runs at each [`WriteStep`] of a writer, so tests can interleave writers and readers
/// there. Receives the step and the trip id.
pub type WriteHook =
    Arc<dyn Fn(WriteStep, i64) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// What one database load found: the trip with its version, or nothing.
type Loaded = Result<Option<(i64, TripView)>, LoadFailed>;

/// A failed load, kept as the parts of an [`ApiError`] so every waiter can rebuild it.
#[derive(Debug, Clone)]
struct LoadFailed(shared::Code, String);

pub struct TripCache {
    db: Db,
    redis: Redis,
    ttl: Duration,
    mode: CacheMode,
    flights: Mutex<HashMap<i64, Arc<OnceCell<Loaded>>>>,
    db_loads: AtomicU64,
    hook: RwLock<Option<FillHook>>,
    write_hook: RwLock<Option<WriteHook>>,
    metrics: RecommendMetrics,
}

impl TripCache {
    pub fn new(db: Db, redis: Redis, ttl: Duration, mode: CacheMode) -> Self {
        Self {
            db,
            redis,
            ttl,
            mode,
            flights: Mutex::new(HashMap::new()),
            db_loads: AtomicU64::new(0),
            hook: RwLock::new(None),
            write_hook: RwLock::new(None),
            metrics: RecommendMetrics::unregistered(),
        }
    }

    /// Counts hits, misses and refused fills in `metrics`.
    pub fn with_metrics(mut self, metrics: RecommendMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    fn key(&self, id: i64) -> String {
        self.redis.key(format_args!("trip:{id}"))
    }

    /// The trip, from the cache or else the database; `None` when there is no such trip.
    pub async fn get(&self, id: i64) -> Result<Option<TripView>, ApiError> {
        let redis_up = match self
            .redis
            .query::<Option<String>>(redis::cmd("GET").arg(self.key(id)))
            .await
        {
            Ok(Some(entry)) => {
                if let Some(view) = decode(&entry) {
                    self.metrics.cache("hit");
                    return Ok(Some(view));
                }
                self.metrics.cache("miss");
                true
            }
            Ok(None) => {
                self.metrics.cache("miss");
                true
            }
            Err(err) => {
                tracing::debug!(error = %err, "trip cache unavailable; reading the database");
                self.metrics.cache("unavailable");
                false
            }
        };
        self.load_shared(id, redis_up).await
    }

    /// One database read per trip id at a time in this process; every concurrent caller
    /// gets its result.
    async fn load_shared(&self, id: i64, fill: bool) -> Result<Option<TripView>, ApiError> {
        let cell = {
            let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            flights.entry(id).or_default().clone()
        };
        let loaded = cell
            .get_or_init(|| async {
                let loaded = self.load(id, fill).await;
                self.flights
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
                loaded
            })
            .await
            .clone();
        match loaded {
            Ok(found) => Ok(found.map(|(_, view)| view)),
            Err(LoadFailed(code, message)) => Err(ApiError::new(code, message)),
        }
    }

    async fn load(&self, id: i64, fill: bool) -> Loaded {
        self.db_loads.fetch_add(1, Ordering::SeqCst);
        let found = self
            .db
            .run(move |conn| Ok(Trip::find(conn, id)?))
            .await
            .map_err(|err| {
                let failed = LoadFailed(err.code(), err.message().to_owned());
                // Log the cause once, here, where it is still attached.
                tracing::warn!(error = ?err, "loading a trip failed");
                failed
            })?
            .map(|trip| (trip.version, TripView::from(trip)));
        let hook = self.hook.read().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(hook) = hook {
            hook(id).await;
        }
        if fill && let Some((version, view)) = &found {
            self.fill(id, *version, view).await;
        }
        Ok(found)
    }

    async fn fill(&self, id: i64, version: i64, view: &TripView) {
        let Ok(json) = serde_json::to_string(view) else {
            return;
        };
        let entry = format!("{version}:{json}");
        let ttl = self.ttl.as_millis() as u64;
        let result = match self.mode {
            CacheMode::Versioned => self
                .redis
                .script::<i64>(FILL.key(self.key(id)).arg(version).arg(entry).arg(ttl))
                .await
                .map(|stored| {
                    if stored == 0 {
                        self.metrics.cache("fill_refused");
                    }
                }),
            CacheMode::Naive => {
                self.redis
                    .query::<()>(
                        redis::cmd("SET")
                            .arg(self.key(id))
                            .arg(entry)
                            .arg("PX")
                            .arg(ttl),
                    )
                    .await
            }
        };
        if let Err(err) = result {
            tracing::debug!(error = %err, "trip cache fill failed");
        }
    }

    /// Marks `version` of the trip as committed: older entries can no longer be stored.
    async fn fence(&self, id: i64, version: i64) -> Result<(), ApiError> {
        let ttl = self.ttl.as_millis() as u64;
        match self.mode {
            CacheMode::Versioned => {
                self.redis
                    .script::<i64>(FENCE.key(self.key(id)).arg(version).arg(ttl))
                    .await?;
            }
            CacheMode::Naive => {
                self.redis
                    .query::<()>(redis::cmd("DEL").arg(self.key(id)))
                    .await?;
            }
        }
        Ok(())
    }

    /// Changes trip `id` in a transaction behind the fence of the version it commits.
    /// `work` returns its result and the trip's new version (`None` when it changed
    /// nothing); a change must bump the version by exactly one. 404 when the trip does not
    /// exist; 503 when Redis cannot be fenced (nothing is written then).
    pub async fn write<T, F>(&self, id: i64, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<(T, Option<i64>), ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let mut work = work;
        for _ in 0..WRITE_ATTEMPTS {
            let current = self
                .db
                .run(move |conn| Ok(Trip::version(conn, id)?))
                .await?
                .ok_or_else(|| ApiError::not_found("trip"))?;
            if self.mode == CacheMode::Versioned {
                self.fence(id, current + 1).await.map_err(|err| {
                    ApiError::new(
                        Code::CacheUnavailable,
                        "The trip cache cannot be updated right now; nothing was changed.",
                    )
                    .with_source(anyhow::anyhow!("{err:?}"))
                })?;
            }
            self.write_step(WriteStep::Fenced, id).await;
            let attempt = self
                .db
                .run(move |conn| {
                    shared::db::write_transaction(conn, |conn| commit_at(conn, id, current, work))
                })
                .await?;
            match attempt {
                Attempt::Committed(result) => {
                    self.write_step(WriteStep::Committed, id).await;
                    if self.mode == CacheMode::Naive {
                        self.fence(id, current + 1).await?;
                    }
                    return Ok(result);
                }
                // Another writer committed since `current` was read: fence again.
                Attempt::Overtaken(unused) => work = unused,
            }
        }
        Err(ApiError::new(
            Code::TripBusy,
            "The trip is being changed by others right now; nothing was changed.",
        ))
    }

    /// Fences trips changed outside [`TripCache::write`] (bulk import), best effort.
    pub async fn invalidate(&self, id: i64, version: i64) -> Result<(), ApiError> {
        self.fence(id, version).await
    }

    /// Database loads so far (for tests of the single flight).
    pub fn db_loads(&self) -> u64 {
        self.db_loads.load(Ordering::SeqCst)
    }

    /// Callers waiting on the load of `id` in flight (0 when none is).
    pub fn waiting(&self, id: i64) -> usize {
        self.flights
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .map_or(0, |cell| Arc::strong_count(cell) - 1)
    }

    /// Installs (or removes) the test hook; see [`FillHook`].
    pub fn set_fill_hook(&self, hook: Option<FillHook>) {
        *self.hook.write().unwrap_or_else(|p| p.into_inner()) = hook;
    }

    /// Installs (or removes) the writers' test hook; see [`WriteHook`].
    pub fn set_write_hook(&self, hook: Option<WriteHook>) {
        *self.write_hook.write().unwrap_or_else(|p| p.into_inner()) = hook;
    }

    async fn write_step(&self, step: WriteStep, id: i64) {
        let hook = self
            .write_hook
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(hook) = hook {
            hook(step, id).await;
        }
    }

    /// The raw entry of a trip, for tests and diagnostics.
    pub async fn raw_entry(&self, id: i64) -> Result<Option<String>, ApiError> {
        Ok(self
            .redis
            .query(redis::cmd("GET").arg(self.key(id)))
            .await?)
    }
}

/// How often a writer fences again when other writers keep committing first.
const WRITE_ATTEMPTS: usize = 5;

/// What one write transaction did.
enum Attempt<T, F> {
    Committed(T),
    /// The trip had moved past the fenced version; `work` did not run and comes back.
    Overtaken(F),
}

/// Runs `work` only if the trip is still at `fenced_from` once its row is locked, so the
/// version it commits is exactly the one fenced before the transaction. That holds for
/// any number of concurrent writers: a reader's older load can never be stored over the
/// fence, and nothing needs to reach Redis after the commit.
fn commit_at<T, F>(
    conn: &mut DbConnection,
    id: i64,
    fenced_from: i64,
    work: F,
) -> Result<Attempt<T, F>, ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<(T, Option<i64>), ApiError>,
{
    match Trip::lock_version(conn, id)? {
        None => return Err(ApiError::not_found("trip")),
        Some(version) if version != fenced_from => return Ok(Attempt::Overtaken(work)),
        Some(_) => {}
    }
    let (result, version) = work(conn)?;
    if let Some(version) = version
        && version != fenced_from + 1
    {
        // Rolled back: a version past the fence could be hidden by an older entry.
        return Err(ApiError::internal(anyhow::anyhow!(
            "trip {id} went from version {fenced_from} to {version}; a change bumps it by one"
        )));
    }
    Ok(Attempt::Committed(result))
}

/// The trip in a cache entry; `None` for a marker or anything unreadable.
fn decode(entry: &str) -> Option<TripView> {
    let (_, json) = entry.split_once(':')?;
    if json.is_empty() {
        return None;
    }
    serde_json::from_str(json).ok()
}

/// KEYS[1] entry; ARGV version, entry, ttl ms. Stores unless a newer version is there.
static FILL: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(
        r"
        local current = redis.call('GET', KEYS[1])
        if current then
            local version = tonumber(string.match(current, '^(%d+):'))
            if version and version > tonumber(ARGV[1]) then return 0 end
        end
        redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
        return 1
        ",
    )
});

/// KEYS[1] entry; ARGV version, ttl ms. Replaces anything older with a marker.
static FENCE: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(
        r"
        local current = redis.call('GET', KEYS[1])
        if current then
            local version = tonumber(string.match(current, '^(%d+):'))
            if version and version >= tonumber(ARGV[1]) then return 0 end
        end
        redis.call('SET', KEYS[1], ARGV[1] .. ':', 'PX', ARGV[2])
        return 1
        ",
    )
});

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn markers_and_garbage_decode_to_nothing() {
        assert!(decode("7:").is_none());
        assert!(decode("7:{not json").is_none());
        assert!(decode("nonsense").is_none());
    }
}
