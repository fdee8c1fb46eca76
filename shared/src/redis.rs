//! The shared Redis, behind one wrapper: every key and channel carries the configured
//! prefix, and every command is bounded by the configured timeout (default 200 ms), so a
//! slow or dead Redis turns into a quick [`RedisError`] (503 for a request) instead of a
//! hung request. The connection is made lazily and re-made by itself after Redis comes
//! back, without restarting the service.

use std::fmt::Display;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, ScriptInvocation};

use crate::config::RedisSettings;
use crate::error::ApiError;

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
        ApiError::unavailable(
            "redis_unavailable",
            "The session store is unavailable; retry shortly.",
        )
        .with_source(err)
    }
}

#[derive(Clone)]
pub struct Redis {
    conn: ConnectionManager,
    client: redis::Client,
    prefix: Arc<str>,
    timeout: Duration,
}

impl Redis {
    /// Prepares the connection; nothing is sent until the first command.
    pub fn connect(settings: &RedisSettings) -> anyhow::Result<Self> {
        let client = redis::Client::open(settings.url.as_str())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.timeout))
            .set_response_timeout(Some(settings.timeout))
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(1))
            .set_number_of_retries(6);
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        Ok(Self {
            conn,
            client,
            prefix: settings.key_prefix.as_str().into(),
            timeout: settings.timeout,
        })
    }

    /// The full name of a key or channel: the prefix, then `name`.
    pub fn key(&self, name: impl Display) -> String {
        format!("{}{}", self.prefix, name)
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The client, for connections of their own (pub/sub subscribers).
    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    pub async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, RedisError> {
        let mut conn = self.conn.clone();
        self.bounded(cmd.query_async(&mut conn)).await
    }

    /// Runs a pipeline (`redis::pipe().atomic()` for MULTI/EXEC).
    pub async fn pipeline<T: FromRedisValue>(
        &self,
        pipe: &redis::Pipeline,
    ) -> Result<T, RedisError> {
        let mut conn = self.conn.clone();
        self.bounded(pipe.query_async(&mut conn)).await
    }

    /// Runs a Lua script (EVALSHA, loading it on first use).
    pub async fn script<T: FromRedisValue>(
        &self,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<T, RedisError> {
        let mut conn = self.conn.clone();
        self.bounded(invocation.invoke_async(&mut conn)).await
    }

    pub async fn publish(&self, channel: &str, message: &str) -> Result<(), RedisError> {
        self.query(redis::cmd("PUBLISH").arg(self.key(channel)).arg(message))
            .await
    }

    pub async fn ping(&self) -> bool {
        self.query::<String>(&redis::cmd("PING")).await.is_ok()
    }

    async fn bounded<T>(
        &self,
        fut: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, RedisError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(result) => result.map_err(RedisError::from),
            Err(_) => Err(RedisError::Timeout(self.timeout)),
        }
    }
}
