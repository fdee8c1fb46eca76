//! The per-request session check: in one Redis round trip, the session named by the
//! token must exist and belong to the token's user; its idle timeout slides, capped by
//! its absolute lifetime. Redis unreachable or slow → 503: the gateway fails closed.

use std::sync::LazyLock;

use redis::Script;
use shared::ApiError;
use shared::redis::Redis;

use super::Caller;

pub struct SessionCheck {
    redis: Redis,
}

impl SessionCheck {
    pub fn new(redis: Redis) -> Self {
        Self { redis }
    }

    pub async fn check(&self, caller: &Caller) -> Result<(), ApiError> {
        let live: i64 = self
            .redis
            .script(
                CHECK_AND_SLIDE
                    .key(self.redis.key(format_args!("sess:{}", caller.session_id)))
                    .arg(caller.user_id)
                    .arg(shared::time::now_millis()),
            )
            .await
            .map_err(|err| {
                ApiError::unavailable(
                    "session_store_unavailable",
                    "Sessions cannot be checked right now; retry shortly.",
                )
                .with_source(err)
            })?;
        if live == 1 {
            Ok(())
        } else {
            Err(ApiError::unauthorized(
                "session_ended",
                "The session has ended; sign in again.",
            ))
        }
    }
}

/// KEYS: session. ARGV: user id, now (ms). 1 live (slid), 0 gone or not this user's.
static CHECK_AND_SLIDE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local s = redis.call('HMGET', KEYS[1], 'uid', 'abs', 'idle')
if s[1] ~= ARGV[1] then return 0 end
local now = tonumber(ARGV[2])
local ttl = math.min(tonumber(s[3]), tonumber(s[2]) - now)
if ttl <= 0 then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('HSET', KEYS[1], 'seen', now)
return 1
"#,
    )
});
