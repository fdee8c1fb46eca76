//! The shared Redis, behind one wrapper: every key and channel carries the configured
//! prefix, and every command is bounded by the configured timeout (default 200 ms), so a
//! slow or dead Redis turns into a quick [`RedisError`] (503 for a request) instead of a
//! hung request. The connection is made lazily and re-made by itself after Redis comes
//! back, without restarting the service.
//!
//! After Redis restarts (or the connection drops), the first command on the old connection
//! fails even though Redis is back: the dead connection is only noticed by using it. The
//! `*_repeatable` methods then reconnect and run the command once more, within the same
//! timeout, so a Redis restart costs no request that arrives after Redis is back. Only
//! commands that are safe to run twice may use them: the second attempt cannot tell whether
//! the first reached Redis before the connection died (it usually did not: a connection
//! Redis closed is refused locally). Safe here: reads; writes whose repetition leaves the
//! same state (a session created under its fresh id, a session slid to the same expiry);
//! and rate-limit or throttle counters, where a repetition at worst counts one request
//! twice, erring towards refusing, never towards letting a request through uncounted. Not
//! safe, so single-attempt ([`Redis::query`] and friends): anything that consumes or
//! rotates (GETDEL of a one-time code, refresh-token rotation, whose repeat would look like
//! a replay), gives back (DECR of a throttle slot) or whose reply reports what it changed.
//!
//! With `REDIS_SENTINELS`, the master is whichever the sentinels name, followed across
//! failovers (see [`master`]): the retry above then also waits for the new master.

mod master;

use std::fmt::Display;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, ScriptInvocation};

use self::master::{Lane, Master};

use crate::config::RedisSettings;
use crate::error::{ApiError, Code};

#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

impl From<RedisError> for ApiError {
    #[track_caller]
    fn from(err: RedisError) -> Self {
        ApiError::new(
            Code::RedisUnavailable,
            "The session store is unavailable; retry shortly.",
        )
        .with_source(err)
    }
}

#[derive(Clone)]
pub struct Redis {
    master: Master,
    lane: Lane,
    /// `WAIT` budget of [`Redis::wait_for_replica`]; zero: no waiting.
    replica_wait: Duration,
    prefix: Arc<str>,
    timeout: Duration,
    /// Where failed commands are counted, once the part's metrics exist.
    stats: Arc<OnceLock<crate::metrics::PoolStats>>,
}

impl Redis {
    /// Prepares the connection; nothing is sent until the first command.
    pub fn connect(settings: &RedisSettings) -> anyhow::Result<Self> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.timeout))
            .set_response_timeout(Some(settings.timeout))
            // One connection attempt per reconnect: a reconnect still backing off when
            // Redis comes back would hold every command waiting on it past its timeout.
            // The next command after a failed attempt starts a fresh one.
            .set_number_of_retries(0);
        Ok(Self {
            master: Master::new(settings, config)?,
            lane: Lane::Shared,
            replica_wait: settings
                .sentinel
                .as_ref()
                .map_or(Duration::ZERO, |sentinel| sentinel.replica_wait),
            prefix: settings.key_prefix.as_str().into(),
            timeout: settings.timeout,
            stats: Arc::default(),
        })
    }

    /// The full name of a key or channel: the prefix, then `name`.
    pub fn key(&self, name: impl Display) -> String {
        format!("{}{}", self.prefix, name)
    }

    pub(crate) fn observe(&self, stats: crate::metrics::PoolStats) {
        let _ = self.stats.set(stats);
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// A pub/sub connection of its own to the current master. A subscriber calls it again
    /// whenever its stream ends: after a failover, that connects to the new master.
    pub async fn pubsub(&self) -> Result<redis::aio::PubSub, RedisError> {
        self.bounded(async { self.master.client().await?.get_async_pubsub().await })
            .await
    }

    /// This handle on a connection of its own, for writes that must survive a failover:
    /// make the write, then [`Redis::wait_for_replica`] on the same handle.
    pub fn replicated(&self) -> Self {
        // Without a wait there is nothing to keep off the shared connection.
        let lane = if self.replica_wait.is_zero() {
            Lane::Shared
        } else {
            Lane::Replicated
        };
        Self {
            lane,
            ..self.clone()
        }
    }

    /// Waits (up to `REDIS_REPLICA_WAIT`) until a replica has every write this handle's
    /// connection made, so a failover now would not lose them. Only on a
    /// [`Redis::replicated`] handle, and only with sentinels (a single Redis has no replica
    /// to wait for). No replica in time is logged and let pass: refusing writes while the
    /// replica lags would turn a degraded replica into an outage.
    pub async fn wait_for_replica(&self) -> Result<(), RedisError> {
        if self.lane != Lane::Replicated {
            return Ok(());
        }
        let wait = self.replica_wait;
        let acknowledged: i64 = self
            .bounded(async {
                let mut conn = self.master.conn(self.lane).await?;
                redis::cmd("WAIT")
                    .arg(1)
                    .arg(wait.as_millis() as u64)
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        if acknowledged == 0 {
            tracing::warn!(?wait, "no Redis replica acknowledged the write in time");
        }
        Ok(())
    }

    pub async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, RedisError> {
        self.bounded(async { cmd.query_async(&mut self.conn().await?).await })
            .await
    }

    /// Runs a pipeline (`redis::pipe().atomic()` for MULTI/EXEC).
    pub async fn pipeline<T: FromRedisValue>(
        &self,
        pipe: &redis::Pipeline,
    ) -> Result<T, RedisError> {
        self.bounded(async { pipe.query_async(&mut self.conn().await?).await })
            .await
    }

    /// Runs a Lua script (EVALSHA, loading it on first use).
    pub async fn script<T: FromRedisValue>(
        &self,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<T, RedisError> {
        self.bounded(async { invocation.invoke_async(&mut self.conn().await?).await })
            .await
    }

    /// [`Redis::query`] for a command safe to run twice (see the module documentation):
    /// once more on a fresh connection if the connection was found dead.
    pub async fn query_repeatable<T: FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
    ) -> Result<T, RedisError> {
        self.repeatable(|mut conn| async move { cmd.query_async(&mut conn).await })
            .await
    }

    /// [`Redis::pipeline`] for commands safe to run twice.
    pub async fn pipeline_repeatable<T: FromRedisValue>(
        &self,
        pipe: &redis::Pipeline,
    ) -> Result<T, RedisError> {
        self.repeatable(|mut conn| async move { pipe.query_async(&mut conn).await })
            .await
    }

    /// [`Redis::script`] for a script safe to run twice.
    pub async fn script_repeatable<T: FromRedisValue>(
        &self,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<T, RedisError> {
        self.repeatable(|mut conn| async move { invocation.invoke_async(&mut conn).await })
            .await
    }

    pub async fn publish(&self, channel: &str, message: &str) -> Result<(), RedisError> {
        self.query(redis::cmd("PUBLISH").arg(self.key(channel)).arg(message))
            .await
    }

    pub async fn ping(&self) -> bool {
        self.query_repeatable::<String>(&redis::cmd("PING"))
            .await
            .is_ok()
    }

    /// Runs `attempt`, and once more if it failed on a dead connection (reset, closed,
    /// refused: the connection manager has started a new one, which the second attempt
    /// waits for) or, with sentinels, on a master that may have moved (after the lookup
    /// that finds where), both within one timeout. A slow Redis is not retried.
    async fn repeatable<T, F, Fut>(&self, attempt: F) -> Result<T, RedisError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        self.bounded(async {
            match attempt(self.conn().await?).await {
                Err(err)
                    if self.master.relocated_after(&err).await || err.is_connection_dropped() =>
                {
                    tracing::debug!(error = %err, "redis connection lost; reconnecting once");
                    attempt(self.conn().await?).await
                }
                result => result,
            }
        })
        .await
    }

    async fn conn(&self) -> redis::RedisResult<ConnectionManager> {
        self.master.conn(self.lane).await
    }

    /// Runs `fut` within the timeout; a failure that may mean the master moved starts a
    /// lookup of the master (with sentinels).
    async fn bounded<T>(
        &self,
        fut: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, RedisError> {
        let result = match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => {
                self.master.suspect(Some(&err));
                Err(err.into())
            }
            Err(_) => {
                self.master.suspect(None);
                Err(RedisError::Timeout(self.timeout))
            }
        };
        if let (Err(err), Some(stats)) = (&result, self.stats.get()) {
            stats.redis_failed(match err {
                RedisError::Timeout(_) => "timeout",
                RedisError::Redis(err) if err.is_io_error() || err.is_connection_dropped() => {
                    "connection"
                }
                RedisError::Redis(_) => "other",
            });
        }
        result
    }
}
