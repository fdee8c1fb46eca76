//! The per-request Redis round trip. For a signed-in caller one script checks that the
//! session exists and belongs to the token's user, slides its idle timeout (capped by its
//! absolute lifetime), reads the user's cached roles and counts the request against its
//! rate limits. For an anonymous caller only the counters run. Redis unreachable or slow
//! → 503 for signed-in callers: the gateway fails closed.

use std::sync::LazyLock;

use redis::Script;
use shared::ApiError;
use shared::policy::{parse_cached_roles, user_roles_key};
use shared::redis::{Redis, RedisError};

use super::Caller;
use crate::ratelimit::Counter;

pub struct SessionCheck {
    redis: Redis,
}

/// What the round trip found for a live session.
pub struct SignedIn {
    /// The cached role ids, or `None` on a cache miss.
    pub cached_roles: Option<Vec<i64>>,
    /// (count, ms until reset) per counter, in the order given.
    pub counts: Vec<(u64, i64)>,
}

impl SessionCheck {
    pub fn new(redis: Redis) -> Self {
        Self { redis }
    }

    pub async fn signed_in(
        &self,
        caller: &Caller,
        counters: &[Counter],
    ) -> Result<SignedIn, ApiError> {
        let mut invocation = EDGE.key(self.redis.key(format_args!("sess:{}", caller.session_id)));
        invocation.key(self.redis.key(user_roles_key(caller.user_id)));
        invocation
            .arg(caller.user_id)
            .arg(shared::time::now_millis());
        for counter in counters {
            invocation.key(self.redis.key(&counter.key));
            invocation.arg(counter.rate.window.as_millis() as u64);
        }
        // Safe to repeat after a dropped connection: sliding twice leaves the same expiry
        // (`now` is an argument), and a repeated count errs towards throttling by one
        // request (see `shared::redis`).
        let (live, roles, counts): (i64, String, Vec<i64>) = self
            .redis
            .script_repeatable(&invocation)
            .await
            .map_err(|err| {
                ApiError::unavailable(
                    "session_store_unavailable",
                    "Sessions cannot be checked right now; retry shortly.",
                )
                .with_source(err)
            })?;
        if live != 1 {
            return Err(ApiError::unauthorized(
                "session_ended",
                "The session has ended; sign in again.",
            ));
        }
        Ok(SignedIn {
            cached_roles: parse_cached_roles(&roles),
            counts: pairs(&counts),
        })
    }

    pub async fn anonymous(&self, counters: &[Counter]) -> Result<Vec<(u64, i64)>, RedisError> {
        if counters.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = COUNT.prepare_invoke();
        for counter in counters {
            invocation.key(self.redis.key(&counter.key));
            invocation.arg(counter.rate.window.as_millis() as u64);
        }
        let counts: Vec<i64> = self.redis.script_repeatable(&invocation).await?;
        Ok(pairs(&counts))
    }
}

fn pairs(flat: &[i64]) -> Vec<(u64, i64)> {
    flat.chunks_exact(2)
        .map(|c| (c[0].max(0) as u64, c[1]))
        .collect()
}

/// KEYS: session, roles cache, counters… ARGV: user id, now (ms), window ms per counter.
/// Returns {live, cached roles or '', {count, pttl, …}}.
static EDGE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local s = redis.call('HMGET', KEYS[1], 'uid', 'abs', 'idle')
if s[1] ~= ARGV[1] then return {0, '', {}} end
local now = tonumber(ARGV[2])
local ttl = math.min(tonumber(s[3]), tonumber(s[2]) - now)
if ttl <= 0 then
  redis.call('DEL', KEYS[1])
  return {0, '', {}}
end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('HSET', KEYS[1], 'seen', now)
local counts = {}
for i = 3, #KEYS do
  local n = redis.call('INCR', KEYS[i])
  if n == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[i]) end
  counts[#counts + 1] = n
  counts[#counts + 1] = redis.call('PTTL', KEYS[i])
end
return {1, redis.call('GET', KEYS[2]) or '', counts}
"#,
    )
});

/// KEYS: counters. ARGV: window ms per counter. Returns {count, pttl, …}.
static COUNT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local counts = {}
for i = 1, #KEYS do
  local n = redis.call('INCR', KEYS[i])
  if n == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[i]) end
  counts[#counts + 1] = n
  counts[#counts + 1] = redis.call('PTTL', KEYS[i])
end
return counts
"#,
    )
});
