//! Presence and the per-user connection cap, in Redis, across replicas.
//!
//! `chat:conns:{uid}` is a sorted set of the user's open sockets (member
//! `{replica}:{connection}`, score = when the entry expires, in ms). Each replica re-stamps
//! its entries every third of the TTL; a crashed replica's entries simply expire, so its
//! users do not stay "online". A user is online while any entry is unexpired; the count of
//! unexpired entries is what the connection cap limits.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::metrics::gauge::Gauge;
use redis::Script;
use shared::redis::{Redis, RedisError};

/// The outcome of registering a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attach {
    /// Registered; `came_online` when it is the user's only live socket.
    Attached { came_online: bool },
    /// The user already has the maximum number of sockets.
    TooMany,
}

#[derive(Clone)]
pub struct Presence {
    redis: Redis,
    ttl: Duration,
    /// Entries this replica holds: one per attached socket, until it detaches (a detach
    /// Redis did not take still counts: the entry expires by itself).
    entries: Gauge,
}

impl Presence {
    pub fn new(redis: Redis, ttl: Duration) -> Self {
        Self {
            redis,
            ttl,
            entries: Gauge::default(),
        }
    }

    pub fn entries(&self) -> &Gauge {
        &self.entries
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub async fn attach(&self, user_id: i64, member: &str, cap: u32) -> Result<Attach, RedisError> {
        let now = shared::time::now_millis();
        let before: i64 = self
            .redis
            .script(
                ATTACH
                    .key(self.key(user_id))
                    .arg(now)
                    .arg(now + self.ttl_ms())
                    .arg(member)
                    .arg(cap)
                    .arg(self.ttl_ms()),
            )
            .await?;
        Ok(match before {
            -1 => Attach::TooMany,
            n => {
                self.entries.inc();
                Attach::Attached {
                    came_online: n == 0,
                }
            }
        })
    }

    /// Unregisters a socket; true when the user has no live socket left.
    pub async fn detach(&self, user_id: i64, member: &str) -> Result<bool, RedisError> {
        self.entries.dec();
        let left: i64 = self
            .redis
            .script(
                DETACH
                    .key(self.key(user_id))
                    .arg(shared::time::now_millis())
                    .arg(member),
            )
            .await?;
        Ok(left == 0)
    }

    /// Re-stamps this replica's sockets (and re-creates entries lost with a Redis restart).
    pub async fn refresh(&self, sockets: &[(i64, String)]) -> Result<(), RedisError> {
        let expiry = shared::time::now_millis() + self.ttl_ms();
        for chunk in sockets.chunks(1_000) {
            let mut pipe = redis::pipe();
            for (user_id, member) in chunk {
                let key = self.key(*user_id);
                pipe.zadd(&key, member, expiry)
                    .ignore()
                    .pexpire(&key, self.ttl_ms())
                    .ignore();
            }
            self.redis.pipeline::<()>(&pipe).await?;
        }
        Ok(())
    }

    /// For each user, whether they are online.
    pub async fn online(&self, user_ids: &[i64]) -> Result<Vec<bool>, RedisError> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let now = shared::time::now_millis();
        let mut pipe = redis::pipe();
        for user_id in user_ids {
            pipe.zcount(self.key(*user_id), now, "+inf");
        }
        let counts: Vec<i64> = self.redis.pipeline(&pipe).await?;
        Ok(counts.into_iter().map(|n| n > 0).collect())
    }

    fn key(&self, user_id: i64) -> String {
        self.redis.key(format_args!("chat:conns:{user_id}"))
    }

    fn ttl_ms(&self) -> i64 {
        self.ttl.as_millis() as i64
    }
}

/// KEYS: the user's set. ARGV: now, expiry, member, cap, ttl (ms).
/// The number of live sockets before this one, or -1 when the cap is reached.
static ATTACH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[4]) then return -1 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return n
"#,
    )
});

/// KEYS: the user's set. ARGV: now, member. The number of live sockets left.
static DETACH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local n = redis.call('ZCARD', KEYS[1])
if n == 0 then redis.call('DEL', KEYS[1]) end
return n
"#,
    )
});
