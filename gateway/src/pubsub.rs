//! The one place the gateway opens a Redis pub/sub connection (the policy and the session
//! invalidation listeners both subscribe through it).

use shared::redis::Redis;

/// A connection subscribed to `channel` (before the deployment's key prefix).
pub async fn subscribe(redis: &Redis, channel: &str) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = redis.client().get_async_pubsub().await?;
    pubsub.subscribe(redis.key(channel)).await?;
    Ok(pubsub)
}
