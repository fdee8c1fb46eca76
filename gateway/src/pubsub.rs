//! The one place the gateway subscribes to a Redis channel (the policy and the session
//! invalidation listeners both subscribe through it). `Redis::pubsub` connects to the
//! current master, so a listener that calls this again after its stream ends follows a
//! Sentinel failover.

use shared::redis::{Redis, RedisError};

/// A connection subscribed to `channel` (before the deployment's key prefix).
pub async fn subscribe(redis: &Redis, channel: &str) -> Result<redis::aio::PubSub, RedisError> {
    let mut pubsub = redis.pubsub().await?;
    pubsub.subscribe(redis.key(channel)).await?;
    Ok(pubsub)
}
