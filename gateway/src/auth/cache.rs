//! Session state held in process, so that a signed-in request in the steady state makes
//! no Redis round trip.
//!
//! An entry is what the per-request script found (live, whose, idle timeout, absolute
//! expiry, cached roles). It is dropped when a message of
//! `shared::session::INVALIDATION_CHANNEL` names its session, its user or its user's roles;
//! auth-service and rbac-service publish those from the very scripts that end sessions
//! and change roles. It is used only while this replica is sure it sees every message:
//! subscribed, and its own heartbeat (published every `heartbeat`) seen back within
//! `stale_after` of being sent. Otherwise (not yet subscribed, stream dropped, Redis
//! down) requests take the Redis round trip as before, and the entries are dropped when
//! the stream is lost. A load that raced an invalidation is not inserted: every
//! invalidation moves a generation counter, and an insert carries the generation read
//! before its round trip.
//!
//! Idle timeouts keep sliding: a hit due for a slide (at most once per `slide_every`, or a
//! quarter of the idle timeout if shorter) queues it, and the queue is flushed in one
//! script call per `FLUSH_EVERY` with `shared::session`'s SLIDE rule. A session whose
//! local view says it idled out is read from Redis again (another replica may have slid
//! it), never refused on the local view.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, RwLock};
use std::time::Duration;

use futures_util::StreamExt;
use redis::Script;
use shared::redis::Redis;
use shared::session::{self, INVALIDATION_CHANNEL, Invalidation};
use shared::tasks::Tasks;

use super::Caller;
use crate::fast_map::FastMap;
use crate::metrics::GatewayMetrics;

/// How often queued slides are written.
const FLUSH_EVERY: Duration = Duration::from_millis(500);
/// Sessions held at most; beyond it, new sessions take the round trip until some expire.
const MAX_ENTRIES: usize = 200_000;

/// `SESSION_CACHE*` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    /// `SESSION_CACHE`, default `on`.
    pub enabled: bool,
    /// `SESSION_CACHE_HEARTBEAT`, default `200ms`.
    pub heartbeat: Duration,
    /// `SESSION_CACHE_STALE_AFTER`, default `1s`: a heartbeat not back within this, and the
    /// cache is not used.
    pub stale_after: Duration,
    /// `SESSION_SLIDE_EVERY`, default `5s`: a session's "seen" is written at most this often.
    pub slide_every: Duration,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            heartbeat: Duration::from_millis(200),
            stale_after: Duration::from_secs(1),
            slide_every: Duration::from_secs(5),
        }
    }
}

struct Entry {
    user_id: i64,
    idle_ms: i64,
    absolute_ms: i64,
    /// When Redis last slid it, as far as this replica knows.
    slid_ms: AtomicI64,
    roles: Arc<[i64]>,
}

impl Entry {
    fn expires_ms(&self) -> i64 {
        session::expires_at_ms(
            self.slid_ms.load(Ordering::Relaxed),
            self.idle_ms,
            self.absolute_ms,
        )
    }
}

/// What the round trip found for a live session, to hold.
pub struct Loaded {
    pub idle_ms: i64,
    pub absolute_ms: i64,
    pub roles: Arc<[i64]>,
}

pub struct SessionCache {
    settings: CacheSettings,
    entries: RwLock<FastMap<String, Entry>>,
    generation: AtomicU64,
    /// Epoch ms until which the view is known current (0: it is not).
    current_until_ms: AtomicI64,
    /// Sessions due for a slide: sid → user id.
    slides: Mutex<FastMap<String, i64>>,
    /// This process's heartbeat tag, to tell its heartbeats from other replicas'.
    tag: String,
    metrics: Option<Arc<GatewayMetrics>>,
}

impl SessionCache {
    pub fn new(settings: CacheSettings, metrics: Option<Arc<GatewayMetrics>>) -> Arc<Self> {
        Arc::new(Self {
            settings,
            entries: RwLock::default(),
            generation: AtomicU64::new(0),
            current_until_ms: AtomicI64::new(0),
            slides: Mutex::default(),
            tag: shared::random::token_hex(8),
            metrics,
        })
    }

    /// Whether every invalidation published so far has been seen.
    pub fn is_current(&self, now_ms: i64) -> bool {
        now_ms < self.current_until_ms.load(Ordering::Acquire)
    }

    /// The roles of `caller`'s session if this replica holds it live.
    pub fn lookup(&self, caller: &Caller, now_ms: i64) -> Option<Arc<[i64]>> {
        if !self.settings.enabled || !self.is_current(now_ms) {
            return None;
        }
        let entries = self.entries.read().ok()?;
        let entry = entries.get(&caller.session_id)?;
        if entry.user_id != caller.user_id || now_ms >= entry.expires_ms() {
            return None;
        }
        let slid = entry.slid_ms.load(Ordering::Relaxed);
        let every = (self.settings.slide_every.as_millis() as i64).min(entry.idle_ms / 4);
        if now_ms - slid >= every
            && let Ok(mut slides) = self.slides.lock()
        {
            slides
                .entry(caller.session_id.clone())
                .or_insert(caller.user_id);
        }
        Some(entry.roles.clone())
    }

    /// Read before a round trip whose result may be inserted.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Holds a session found live at `now_ms`, unless something was invalidated since
    /// `generation` was read.
    pub fn insert(&self, generation: u64, caller: &Caller, now_ms: i64, loaded: Loaded) {
        if !self.settings.enabled {
            return;
        }
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if self.generation.load(Ordering::Acquire) != generation
            || entries.len() >= MAX_ENTRIES && !entries.contains_key(&caller.session_id)
        {
            return;
        }
        entries.insert(
            caller.session_id.clone(),
            Entry {
                user_id: caller.user_id,
                idle_ms: loaded.idle_ms,
                absolute_ms: loaded.absolute_ms,
                slid_ms: AtomicI64::new(now_ms),
                roles: loaded.roles,
            },
        );
    }

    fn invalidate(&self, what: Option<&Invalidation>) {
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        self.generation.fetch_add(1, Ordering::AcqRel);
        match what {
            Some(Invalidation::Session(sid)) => {
                entries.remove(sid);
            }
            Some(Invalidation::User(user) | Invalidation::Roles(user)) => {
                entries.retain(|_, e| e.user_id != *user)
            }
            Some(Invalidation::Heartbeat(_)) => {}
            // A message this version cannot read: it cannot tell what changed.
            None => entries.clear(),
        }
    }

    /// The stream is lost (or not yet proven): stop trusting the view and drop it.
    fn lose_stream(&self) {
        self.current_until_ms.store(0, Ordering::Release);
        self.invalidate(None);
    }

    fn on_message(&self, message: &str) {
        match Invalidation::parse(message) {
            Some(Invalidation::Heartbeat(probe)) => {
                let sent = probe
                    .strip_prefix(&self.tag)
                    .and_then(|rest| rest.strip_prefix(':'))
                    .and_then(|ms| ms.parse::<i64>().ok());
                if let Some(sent) = sent {
                    let until = sent + self.settings.stale_after.as_millis() as i64;
                    self.current_until_ms.fetch_max(until, Ordering::AcqRel);
                }
            }
            other => self.invalidate(other.as_ref()),
        }
    }

    /// Starts the listener, the heartbeat and the slide flusher.
    pub fn spawn(self: &Arc<Self>, tasks: &Tasks, redis: Redis) {
        if !self.settings.enabled {
            return;
        }
        let (cache, listener) = (Arc::clone(self), redis.clone());
        tasks.supervise("session-listen", move || {
            cache.clone().listen(listener.clone())
        });
        let (cache, beat) = (Arc::clone(self), redis.clone());
        tasks.supervise("session-heartbeat", move || {
            cache.clone().heartbeat(beat.clone())
        });
        let cache = Arc::clone(self);
        tasks.supervise("session-slide", move || {
            cache.clone().flush_slides(redis.clone())
        });
    }

    async fn listen(self: Arc<Self>, redis: Redis) {
        loop {
            self.lose_stream();
            match crate::pubsub::subscribe(&redis, INVALIDATION_CHANNEL).await {
                Ok(mut pubsub) => {
                    // Anything loaded before the subscription took effect may have missed
                    // its invalidation.
                    self.invalidate(None);
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        match message.get_payload::<String>() {
                            Ok(text) => self.on_message(&text),
                            Err(_) => self.invalidate(None),
                        }
                    }
                    tracing::warn!("session invalidation stream lost; checking sessions in Redis");
                }
                Err(err) => tracing::debug!(error = %err, "session channel unavailable"),
            }
            self.lose_stream();
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn heartbeat(self: Arc<Self>, redis: Redis) {
        let mut tick = tokio::time::interval(self.settings.heartbeat);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Some(metrics) = &self.metrics {
                metrics.sessions_current(self.is_current(shared::time::now_millis()));
            }
            let probe = format!("{}:{}", self.tag, shared::time::now_millis());
            let message = Invalidation::Heartbeat(probe).message();
            if let Err(err) = redis.publish(INVALIDATION_CHANNEL, &message).await {
                tracing::debug!(error = %err, "session heartbeat not published");
            }
        }
    }

    async fn flush_slides(self: Arc<Self>, redis: Redis) {
        loop {
            tokio::time::sleep(FLUSH_EVERY).await;
            let due: Vec<(String, i64)> = match self.slides.lock() {
                Ok(mut slides) => slides.drain().collect(),
                Err(_) => continue,
            };
            let now = shared::time::now_millis();
            if !due.is_empty() {
                self.slide(&redis, &due, now).await;
            }
            if let Ok(mut entries) = self.entries.write() {
                entries.retain(|_, e| now < e.expires_ms());
            }
        }
    }

    /// Slides `due` in Redis; records the slide of the live ones and drops the others.
    async fn slide(&self, redis: &Redis, due: &[(String, i64)], now: i64) {
        for batch in due.chunks(500) {
            let mut invocation = SLIDE_MANY.prepare_invoke();
            invocation.arg(now);
            for (sid, user) in batch {
                invocation.key(redis.key(session::key(sid)));
                invocation.arg(user);
            }
            // Repeating a slide leaves the same expiry (`now` is an argument).
            let live: Vec<i64> = match redis.script_repeatable(&invocation).await {
                Ok(live) => live,
                Err(err) => {
                    tracing::warn!(error = %err, "sessions not slid");
                    continue;
                }
            };
            let Ok(mut entries) = self.entries.write() else {
                return;
            };
            for ((sid, _), live) in batch.iter().zip(live) {
                if live == 1 {
                    if let Some(entry) = entries.get(sid) {
                        entry.slid_ms.fetch_max(now, Ordering::Relaxed);
                    }
                } else {
                    entries.remove(sid);
                }
            }
        }
    }
}

/// KEYS: sessions. ARGV: now (ms), then the user id of each session. Returns 1 or 0 each.
static SLIDE_MANY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{}{}",
        *session::SLIDE,
        r#"
local live = {}
for i = 1, #KEYS do live[i] = slide(KEYS[i], ARGV[i + 1], tonumber(ARGV[1])) end
return live
"#
    ))
});

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> Arc<SessionCache> {
        SessionCache::new(CacheSettings::default(), None)
    }

    fn alice() -> Caller {
        Caller {
            user_id: 1,
            session_id: "s1".into(),
        }
    }

    fn loaded() -> Loaded {
        Loaded {
            idle_ms: 60_000,
            absolute_ms: 10_000_000,
            roles: Arc::from(vec![3]),
        }
    }

    fn heard_heartbeat(cache: &SessionCache, sent_ms: i64) {
        cache.on_message(&Invalidation::Heartbeat(format!("{}:{sent_ms}", cache.tag)).message());
    }

    #[test]
    fn nothing_is_served_until_a_heartbeat_proves_the_stream_current() {
        let cache = cache();
        let generation = cache.generation();
        cache.insert(generation, &alice(), 1_000, loaded());
        assert!(
            cache.lookup(&alice(), 1_000).is_none(),
            "not yet subscribed"
        );
        heard_heartbeat(&cache, 1_000);
        assert!(cache.lookup(&alice(), 1_500).is_some());
        assert!(
            cache.lookup(&alice(), 2_000).is_none(),
            "the heartbeat of 1 s ago is not back: the view may be stale"
        );
    }

    #[test]
    fn another_replicas_heartbeat_proves_nothing() {
        let cache = cache();
        cache.on_message(&Invalidation::Heartbeat("other:1000".into()).message());
        assert!(!cache.is_current(1_000));
    }

    #[test]
    fn an_invalidation_drops_the_entry_and_refuses_a_load_that_raced_it() {
        let cache = cache();
        heard_heartbeat(&cache, 1_000);
        cache.insert(cache.generation(), &alice(), 1_000, loaded());
        let raced = cache.generation();
        cache.on_message(&Invalidation::Session("s1".into()).message());
        assert!(cache.lookup(&alice(), 1_000).is_none());
        cache.insert(raced, &alice(), 1_000, loaded());
        assert!(
            cache.lookup(&alice(), 1_000).is_none(),
            "loaded before the logout"
        );
    }

    #[test]
    fn a_users_logout_all_or_role_change_drops_all_their_sessions() {
        let cache = cache();
        heard_heartbeat(&cache, 1_000);
        for message in [Invalidation::User(1), Invalidation::Roles(1)] {
            cache.insert(cache.generation(), &alice(), 1_000, loaded());
            cache.on_message(&message.message());
            assert!(cache.lookup(&alice(), 1_000).is_none(), "{message:?}");
        }
    }

    #[test]
    fn an_entry_is_only_its_users_and_only_until_it_idles_out_locally() {
        let cache = cache();
        heard_heartbeat(&cache, 100_000);
        cache.insert(cache.generation(), &alice(), 1_000, loaded());
        let mallory = Caller {
            user_id: 2,
            session_id: "s1".into(),
        };
        assert!(cache.lookup(&mallory, 1_000).is_none());
        assert!(cache.lookup(&alice(), 60_999).is_some());
        assert!(
            cache.lookup(&alice(), 61_000).is_none(),
            "re-read from Redis"
        );
    }

    #[test]
    fn a_lost_stream_drops_everything() {
        let cache = cache();
        heard_heartbeat(&cache, 1_000);
        cache.insert(cache.generation(), &alice(), 1_000, loaded());
        cache.lose_stream();
        heard_heartbeat(&cache, 1_000);
        assert!(cache.lookup(&alice(), 1_000).is_none());
    }

    #[test]
    fn hits_queue_a_slide_at_most_once_per_interval() {
        let cache = cache();
        heard_heartbeat(&cache, 100_000);
        cache.insert(cache.generation(), &alice(), 1_000, loaded());
        cache.lookup(&alice(), 2_000);
        assert!(cache.slides.lock().unwrap().is_empty());
        cache.lookup(&alice(), 6_000);
        cache.lookup(&alice(), 6_001);
        assert_eq!(cache.slides.lock().unwrap().len(), 1);
    }
}
