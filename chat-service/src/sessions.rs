//! Whether the sessions behind open sockets still exist.
//!
//! auth-service keeps sessions as hashes `sess:{sid}` (field `uid`); a session is valid
//! only while its key exists, and logout, logout-all, a password change or disabling the
//! user delete it. Each replica checks the sessions of all its sockets in one pipelined
//! round trip every few seconds and closes the sockets of sessions that are gone. A socket
//! the user is actively using slides its session's idle timeout, as a request through the
//! gateway would (capped by the session's absolute lifetime).

use std::sync::LazyLock;

use redis::Script;
use shared::redis::{Redis, RedisError};

/// One session to check, and whether to slide it.
#[derive(Debug, Clone)]
pub struct SessionProbe {
    pub session_id: String,
    pub user_id: i64,
    pub slide: bool,
}

#[derive(Clone)]
pub struct SessionCheck {
    redis: Redis,
}

impl SessionCheck {
    pub fn new(redis: Redis) -> Self {
        Self { redis }
    }

    /// Whether `session_id` is live and belongs to `user_id`.
    pub async fn is_live(&self, session_id: &str, user_id: i64) -> Result<bool, RedisError> {
        let owner: Option<String> = self
            .redis
            .query(redis::cmd("HGET").arg(self.key(session_id)).arg("uid"))
            .await?;
        Ok(owner.is_some_and(|owner| owner == user_id.to_string()))
    }

    /// For each probe, whether its session is live, in one round trip. A plain `HGET`
    /// checks; the script runs only for the sessions to slide.
    pub async fn check_all(&self, probes: &[SessionProbe]) -> Result<Vec<bool>, RedisError> {
        if probes.is_empty() {
            return Ok(Vec::new());
        }
        let now = shared::time::now_millis();
        let mut pipe = redis::pipe();
        if probes.iter().any(|p| p.slide) {
            pipe.load_script(&CHECK).ignore();
        }
        for probe in probes {
            let key = self.key(&probe.session_id);
            if probe.slide {
                pipe.invoke_script(CHECK.key(key).arg(probe.user_id).arg(now).arg(1));
            } else {
                pipe.hget(key, "uid");
            }
        }
        let replies: Vec<redis::Value> = self.redis.pipeline(&pipe).await?;
        Ok(probes
            .iter()
            .zip(replies)
            .map(|(probe, reply)| match reply {
                redis::Value::Int(live) => live == 1,
                redis::Value::BulkString(owner) => owner == probe.user_id.to_string().as_bytes(),
                _ => false,
            })
            .collect())
    }

    fn key(&self, session_id: &str) -> String {
        self.redis.key(format_args!("sess:{session_id}"))
    }
}

/// KEYS: session. ARGV: user id, now (ms), slide (1/0). 1 live, 0 gone or not this user's.
/// Sliding follows the gateway's rule: idle timeout from now, never past the absolute expiry.
static CHECK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local s = redis.call('HMGET', KEYS[1], 'uid', 'abs', 'idle')
if s[1] ~= ARGV[1] then return 0 end
if ARGV[3] == '1' and s[2] and s[3] then
  local now = tonumber(ARGV[2])
  local ttl = math.min(tonumber(s[3]), tonumber(s[2]) - now)
  if ttl <= 0 then
    redis.call('DEL', KEYS[1])
    return 0
  end
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('HSET', KEYS[1], 'seen', now)
end
return 1
"#,
    )
});
