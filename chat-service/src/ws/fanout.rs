//! Fan-out across replicas through Redis pub/sub, one channel per user
//! (`chat:user:{uid}`): whatever concerns a user is published to their channel, and every
//! replica with a socket of that user is subscribed to it. Pub/sub may lose a message when
//! Redis blips; the database stays the source of truth, and sockets recover from it: a gap
//! the next message reveals, a `resume`, and, after every resubscription, a catch-up of
//! every socket here (so what was published while the subscription was down arrives without
//! waiting for a newer message).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use shared::redis::{Redis, RedisError};
use tokio::sync::{mpsc, oneshot};

use super::frames::FramePeek;
use super::hub::{Delivery, Hub, SubscriptionCommand};

const CHANNEL: &str = "chat:user:";
/// Channels per SUBSCRIBE when (re)subscribing many users.
const BATCH: usize = 500;

#[derive(Clone)]
pub struct Fanout {
    redis: Redis,
}

impl Fanout {
    pub fn new(redis: Redis) -> Self {
        Self { redis }
    }

    /// Publishes one frame to every user in `users`, in one round trip.
    pub async fn publish(&self, users: &[i64], text: &str) -> Result<(), RedisError> {
        let mut pipe = redis::pipe();
        for user in users {
            pipe.publish(channel(&self.redis, *user), text).ignore();
        }
        self.redis.pipeline(&pipe).await
    }

    /// Publishes each frame to its users, all in one round trip, in order.
    pub async fn publish_many(&self, frames: &[([i64; 2], String)]) -> Result<(), RedisError> {
        let mut pipe = redis::pipe();
        for (users, text) in frames {
            for user in users {
                pipe.publish(channel(&self.redis, *user), text).ignore();
            }
        }
        self.redis.pipeline(&pipe).await
    }
}

/// A message frame travels between replicas with its publish time appended as one more
/// JSON member, which the receiving replica takes off before any socket sees the frame: the
/// fan-out lag is measured end to end without a second format. (A replica of an older
/// version passes the member on; clients ignore members they do not know.)
const STAMP: &str = ",\"published_ms\":";

/// `frame` (a JSON object) stamped with its publish time `at_ms`.
pub fn stamp(frame: &str, at_ms: i64) -> String {
    match frame.strip_suffix('}') {
        Some(open) => format!("{open}{STAMP}{at_ms}}}"),
        None => frame.to_owned(),
    }
}

/// The frame without its stamp, and the publish time (none from an unstamped frame). A
/// stamp cannot be forged by a message body: quotes inside a JSON string are escaped.
fn unstamp(payload: String) -> (String, Option<i64>) {
    if let Some(open) = payload.strip_suffix('}')
        && let Some(at) = open.rfind(STAMP)
        && let Ok(ms) = open[at + STAMP.len()..].parse::<i64>()
    {
        return (format!("{}}}", &open[..at]), Some(ms));
    }
    (payload, None)
}

fn channel(redis: &Redis, user_id: i64) -> String {
    redis.key(format_args!("{CHANNEL}{user_id}"))
}

/// Keeps this replica subscribed to the channels of the users with a socket here and hands
/// what arrives to the hub. Reconnects (and resubscribes everyone) when Redis goes away.
pub async fn run_subscriber(
    redis: Redis,
    hub: Arc<Hub>,
    commands: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<SubscriptionCommand>>>,
) {
    // Held for the whole run: a restarted subscriber takes over the same command queue.
    let mut commands = commands.lock().await;
    let prefix = redis.key(CHANNEL);
    let mut delay = Duration::from_millis(50);
    loop {
        match subscribe_and_route(&redis, &hub, &mut commands, &prefix).await {
            Ok(()) => return,
            Err(err) => {
                tracing::warn!(error = %err, "chat pub/sub connection lost; reconnecting");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(1));
            }
        }
    }
}

async fn subscribe_and_route(
    redis: &Redis,
    hub: &Hub,
    commands: &mut mpsc::UnboundedReceiver<SubscriptionCommand>,
    prefix: &str,
) -> anyhow::Result<()> {
    let pubsub = redis.pubsub().await?;
    let (mut sink, mut stream) = pubsub.split();
    let mut subscribed: HashSet<i64> = HashSet::new();
    let users = hub.users();
    for chunk in users.chunks(BATCH) {
        let channels: Vec<String> = chunk.iter().map(|u| channel(redis, *u)).collect();
        sink.subscribe(&channels).await?;
        subscribed.extend(chunk);
    }
    if !users.is_empty() {
        tracing::info!(users = users.len(), "chat pub/sub resubscribed");
        // Subscribed again: whatever is published from now on arrives, and what was
        // published while nothing was subscribed is in the database.
        hub.catch_up_all();
    }
    loop {
        tokio::select! {
            message = stream.next() => {
                let Some(message) = message else {
                    anyhow::bail!("the subscription stream ended");
                };
                route(hub, prefix, &message);
            }
            command = commands.recv() => {
                let Some(command) = command else { return Ok(()) };
                let mut batch = vec![command];
                while batch.len() < BATCH {
                    match commands.try_recv() {
                        Ok(command) => batch.push(command),
                        Err(_) => break,
                    }
                }
                apply(redis, &mut sink, &mut subscribed, batch).await?;
            }
        }
    }
}

/// Applies a batch of commands: the last command per user wins (the hub sends them in the
/// order its state changed), then waiters learn their channel is live.
async fn apply(
    redis: &Redis,
    sink: &mut redis::aio::PubSubSink,
    subscribed: &mut HashSet<i64>,
    batch: Vec<SubscriptionCommand>,
) -> redis::RedisResult<()> {
    let mut wanted: HashMap<i64, bool> = HashMap::new();
    let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
    for command in batch {
        match command {
            SubscriptionCommand::Subscribe(user, waiter) => {
                wanted.insert(user, true);
                waiters.push(waiter);
            }
            SubscriptionCommand::Unsubscribe(user) => {
                wanted.insert(user, false);
            }
        }
    }
    let add: Vec<i64> = wanted
        .iter()
        .filter(|(user, want)| **want && !subscribed.contains(user))
        .map(|(user, _)| *user)
        .collect();
    let remove: Vec<i64> = wanted
        .iter()
        .filter(|(user, want)| !**want && subscribed.contains(user))
        .map(|(user, _)| *user)
        .collect();
    if !add.is_empty() {
        let channels: Vec<String> = add.iter().map(|u| channel(redis, *u)).collect();
        sink.subscribe(&channels).await?;
        subscribed.extend(&add);
    }
    if !remove.is_empty() {
        let channels: Vec<String> = remove.iter().map(|u| channel(redis, *u)).collect();
        sink.unsubscribe(&channels).await?;
        for user in &remove {
            subscribed.remove(user);
        }
    }
    for waiter in waiters {
        let _ = waiter.send(());
    }
    Ok(())
}

fn route(hub: &Hub, prefix: &str, message: &redis::Msg) {
    let Some(user_id) = message
        .get_channel_name()
        .strip_prefix(prefix)
        .and_then(|id| id.parse::<i64>().ok())
    else {
        return;
    };
    let Ok(payload) = message.get_payload::<String>() else {
        return;
    };
    let (text, published_ms) = unstamp(payload);
    let delivery = Delivery {
        sequence: FramePeek::sequence(&text),
        text: text.into(),
        published_ms,
    };
    hub.deliver(user_id, &delivery);
}

#[cfg(test)]
mod tests {
    use super::{stamp, unstamp};

    #[test]
    fn a_stamp_comes_off_whole_and_a_body_cannot_fake_one() {
        let frame = r#"{"type":"message","id":3,"body":"hi"}"#;
        let stamped = stamp(frame, 1_700_000_000_123);
        let parsed: serde_json::Value = serde_json::from_str(&stamped).unwrap();
        assert_eq!(parsed["published_ms"], 1_700_000_000_123_i64);
        assert_eq!(
            unstamp(stamped),
            (frame.to_owned(), Some(1_700_000_000_123))
        );
        // An old replica's frame, and a body quoting a stamp, pass unchanged.
        assert_eq!(unstamp(frame.to_owned()), (frame.to_owned(), None));
        let quoted =
            serde_json::json!({"type": "message", "body": ",\"published_ms\":5}"}).to_string();
        assert_eq!(unstamp(quoted.clone()), (quoted, None));
    }
}
