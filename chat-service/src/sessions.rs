//! Whether the sessions behind open sockets still exist.
//!
//! auth-service keeps sessions as [`shared::session`] records; a session is valid only
//! while its key exists, and logout, logout-all, a password change or disabling the
//! user delete it. Each replica checks the sessions of all its sockets in one pipelined
//! round trip every few seconds and closes the sockets of sessions that are gone. A socket
//! the user is actively using slides its session's idle timeout, as a request through the
//! gateway would (capped by the session's absolute lifetime).

use std::sync::LazyLock;

use redis::Script;
use shared::redis::{Redis, RedisError};
use shared::session::{self, field};

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
            .query(
                redis::cmd("HGET")
                    .arg(self.key(session_id))
                    .arg(field::USER),
            )
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
            pipe.load_script(&SLIDE).ignore();
        }
        for probe in probes {
            let key = self.key(&probe.session_id);
            if probe.slide {
                pipe.invoke_script(SLIDE.key(key).arg(probe.user_id).arg(now));
            } else {
                pipe.hget(key, field::USER);
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
        self.redis.key(session::key(session_id))
    }
}

/// KEYS: session. ARGV: user id, now (ms). 1 live (and slid), 0 gone or not this user's.
static SLIDE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{}return slide(KEYS[1], ARGV[1], tonumber(ARGV[2]))",
        *session::SLIDE
    ))
});
