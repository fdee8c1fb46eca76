//! The per-request Redis round trip, unless the session is held in process ([`SessionCache`]).
//! For a signed-in caller one script checks that the
//! session exists and belongs to the token's user, slides its idle timeout (capped by its
//! absolute lifetime), reads the user's cached roles and counts the request against its
//! rate limits, or, if the session has ended, against the anonymous limit of its address.
//! For an anonymous caller only the counters run. Redis unreachable or slow → 503 for
//! protected routes: the gateway fails closed.

use std::sync::{Arc, LazyLock};

use redis::Script;
use shared::policy::{parse_cached_roles, user_roles_key};
use shared::redis::{Redis, RedisError};
use shared::session;
use shared::{ApiError, Code};

use super::Caller;
use super::cache::{Loaded, SessionCache};
use crate::ratelimit::Counter;
use crate::ratelimit::local::LocalCounts;

pub struct SessionCheck {
    redis: Redis,
    cache: Arc<SessionCache>,
    /// `None`: `RATE_LIMIT_SYNC=off`, every counter is counted in Redis.
    local: Option<Arc<LocalCounts>>,
}

/// (count, ms until reset) per counter, and whether Redis was asked.
pub struct Counted {
    pub counts: Vec<(u64, i64)>,
    pub round_trip: bool,
}

/// What the round trip found for a live session.
pub struct SignedIn {
    /// The cached role ids, or `None` on a cache miss.
    pub cached_roles: Option<Arc<[i64]>>,
    /// (count, ms until reset) per counter, in the order given.
    pub counts: Vec<(u64, i64)>,
    /// Whether Redis was asked (none when the session and the counts are held here).
    pub round_trip: bool,
}

/// What the round trip found.
pub enum Edge {
    Live(SignedIn),
    /// No such session (ended, expired, or not this user's): (count, ms until reset) per
    /// counter of `if_ended`, the request counted as an anonymous one.
    Ended(Vec<(u64, i64)>),
}

impl SessionCheck {
    pub fn new(redis: Redis, cache: Arc<SessionCache>, local: Option<Arc<LocalCounts>>) -> Self {
        Self {
            redis,
            cache,
            local,
        }
    }

    /// Checks and slides the session, counting the request against `counters` if it is
    /// live, or against `if_ended` (the anonymous counters of its address) if it is not.
    /// `now`: the request's clock (ms), which its counters were made with.
    pub async fn signed_in(
        &self,
        caller: &Caller,
        counters: &[Counter],
        if_ended: &[Counter],
        now: i64,
    ) -> Result<Edge, ApiError> {
        if let Some(roles) = self.cache.lookup(caller, now) {
            let counted = self.count(counters, now).await.map_err(unavailable)?;
            return Ok(Edge::Live(SignedIn {
                cached_roles: Some(roles),
                counts: counted.counts,
                round_trip: counted.round_trip,
            }));
        }
        let generation = self.cache.generation();
        let mut invocation = EDGE.key(self.redis.key(session::key(&caller.session_id)));
        invocation.key(self.redis.key(user_roles_key(caller.user_id)));
        invocation.arg(caller.user_id).arg(now).arg(counters.len());
        // In the round trip made anyway, every counter is counted exactly.
        for counter in counters.iter().chain(if_ended) {
            invocation.key(self.redis.key(counter.key()));
            invocation.arg(counter.rate.window.as_millis() as u64);
        }
        // Safe to repeat after a dropped connection: sliding twice leaves the same expiry
        // (`now` is an argument), and a repeated count errs towards throttling by one
        // request (see `shared::redis`).
        // Boxed, like every round trip here: the Redis client's future is large, and a
        // request's future is moved whole into the server's (the steady state makes none).
        let (live, roles, counts, absolute_ms, idle_ms): (i64, String, Vec<i64>, i64, i64) =
            Box::pin(self.redis.script_repeatable(&invocation))
                .await
                .map_err(unavailable)?;
        if live != 1 {
            return Ok(Edge::Ended(pairs(&counts)));
        }
        let counts = pairs(&counts);
        if let Some(local) = &self.local {
            for (counter, (total, _)) in counters.iter().zip(&counts) {
                local.seed(counter, *total, now);
            }
        }
        let cached_roles: Option<Arc<[i64]>> = parse_cached_roles(&roles).map(Arc::from);
        // Roles read from rbac-service (a miss or a fence) are not held: only the cache
        // entry's changes are announced.
        if let Some(roles) = &cached_roles {
            let loaded = Loaded {
                idle_ms,
                absolute_ms,
                roles: roles.clone(),
            };
            self.cache.insert(generation, caller, now, loaded);
        }
        Ok(Edge::Live(SignedIn {
            cached_roles,
            counts,
            round_trip: true,
        }))
    }

    /// Counts a request against `counters` (made at `now`, ms): in process where
    /// [`LocalCounts`] may, the rest in one Redis round trip.
    pub async fn count(&self, counters: &[Counter], now: i64) -> Result<Counted, RedisError> {
        let mut counts = Vec::with_capacity(counters.len());
        let mut remote = Vec::new();
        for (i, counter) in counters.iter().enumerate() {
            match self.local.as_ref().and_then(|l| l.count(counter, now)) {
                Some(counted) => counts.push(counted),
                None => {
                    counts.push((0, 0));
                    remote.push(i);
                }
            }
        }
        if remote.is_empty() {
            return Ok(Counted {
                counts,
                round_trip: false,
            });
        }
        let mut invocation = COUNT.prepare_invoke();
        for &i in &remote {
            invocation.key(self.redis.key(counters[i].key()));
            invocation.arg(counters[i].window_ms());
        }
        let flat: Vec<i64> = Box::pin(self.redis.script_repeatable(&invocation)).await?;
        for (&i, counted) in remote.iter().zip(pairs(&flat)) {
            counts[i] = counted;
            if let Some(local) = &self.local {
                local.seed(&counters[i], counted.0, now);
            }
        }
        Ok(Counted {
            counts,
            round_trip: true,
        })
    }
}

/// Redis unreachable or slow while a protected route needs it: the gateway fails closed.
pub fn unavailable(err: RedisError) -> ApiError {
    ApiError::new(
        Code::SessionStoreUnavailable,
        "Sessions cannot be checked right now; retry shortly.",
    )
    .with_source(err)
}

pub fn session_ended() -> ApiError {
    ApiError::new(Code::SessionEnded, "The session has ended; sign in again.")
}

fn pairs(flat: &[i64]) -> Vec<(u64, i64)> {
    flat.chunks_exact(2)
        .map(|c| (c[0].max(0) as u64, c[1]))
        .collect()
}

/// `count(first, last, offset)` counts KEYS[first..=last] in fixed windows (window ms in
/// ARGV[i + offset]) and returns {count, pttl, …}.
const COUNT_FUNCTION: &str = r#"
local function count(first, last, offset)
  local counts = {}
  for i = first, last do
    local n = redis.call('INCR', KEYS[i])
    if n == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[i + offset]) end
    counts[#counts + 1] = n
    counts[#counts + 1] = redis.call('PTTL', KEYS[i])
  end
  return counts
end
"#;

/// KEYS: session, roles cache, counters if live…, counters if ended…
/// ARGV: user id, now (ms), how many counters if live, window ms per counter.
/// Returns {live, cached roles or '', {count, pttl, …}, absolute expiry ms, idle ms}.
static EDGE: LazyLock<Script> = LazyLock::new(|| {
    let edge = r#"
local live_last = 2 + tonumber(ARGV[3])
if slide(KEYS[1], ARGV[1], tonumber(ARGV[2])) == 0 then
  return {0, '', count(live_last + 1, #KEYS, 1), 0, 0}
end
local counts = count(3, live_last, 1)
local s = redis.call('HMGET', KEYS[1], '{absolute}', '{idle}')
return {1, redis.call('GET', KEYS[2]) or '', counts, tonumber(s[1]), tonumber(s[2])}
"#
    .replace("{absolute}", session::field::ABSOLUTE_EXPIRY_MS)
    .replace("{idle}", session::field::IDLE_MS);
    Script::new(&format!("{}{COUNT_FUNCTION}{edge}", *session::SLIDE))
});

/// KEYS: counters. ARGV: window ms per counter. Returns {count, pttl, …}.
static COUNT: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{COUNT_FUNCTION}return count(1, #KEYS, 0)")));
