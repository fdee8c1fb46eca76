//! Which Redis server the commands go to: the one at `REDIS_URL`, or the master the
//! sentinels name (`REDIS_SENTINELS`), followed across failovers.
//!
//! A `ConnectionManager` reconnects to one fixed address, so it cannot follow a master
//! that moved. Here each master gets its own connections ([`Node`]); an error that may
//! mean the master moved (connection lost or refused, a timeout, `READONLY`, `MASTERDOWN`)
//! starts a lookup at the sentinels, and when they name another server, its node replaces
//! the old one for every later command. One lookup at a time, at most one per
//! [`LOOKUP_SPACING`]: during an outage every failing request asks, the sentinels are asked
//! a few times a second.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{SentinelClient, SentinelServerType};
use redis::{ErrorKind, RedisError, RedisResult, ServerErrorKind};
use tokio::sync::watch;

use crate::config::{RedisSettings, SentinelSettings};

const LOOKUP_SPACING: Duration = Duration::from_millis(100);
/// A lookup asks the sentinels, then connects to the master they name to check its role.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

/// The connections to one Redis server, made lazily.
pub(super) struct Node {
    client: redis::Client,
    /// Shared by every command of this handle's process (multiplexed).
    shared: ConnectionManager,
    /// For writes followed by `WAIT`, which blocks the connection it is sent on: on the
    /// shared one it would hold up every other command behind it.
    replicated: ConnectionManager,
}

impl Node {
    fn new(client: redis::Client, config: &ConnectionManagerConfig) -> RedisResult<Self> {
        Ok(Self {
            shared: ConnectionManager::new_lazy_with_config(client.clone(), config.clone())?,
            replicated: ConnectionManager::new_lazy_with_config(client.clone(), config.clone())?,
            client,
        })
    }

    fn conn(&self, lane: Lane) -> ConnectionManager {
        match lane {
            Lane::Shared => self.shared.clone(),
            Lane::Replicated => self.replicated.clone(),
        }
    }

    fn address(&self) -> String {
        self.client.get_connection_info().addr().to_string()
    }
}

/// Which of a node's connections a handle uses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Lane {
    Shared,
    Replicated,
}

#[derive(Clone)]
pub(super) enum Master {
    Fixed(Arc<Node>),
    Followed(Arc<Follower>),
}

impl Master {
    pub(super) fn new(
        settings: &RedisSettings,
        config: ConnectionManagerConfig,
    ) -> anyhow::Result<Self> {
        Ok(match &settings.sentinel {
            None => {
                let client = redis::Client::open(settings.url.as_str())?;
                Self::Fixed(Arc::new(Node::new(client, &config)?))
            }
            Some(sentinel) => Self::Followed(Arc::new(Follower::new(sentinel, config)?)),
        })
    }

    /// A connection to the current master; with sentinels, the first call waits for the
    /// first lookup.
    pub(super) async fn conn(&self, lane: Lane) -> RedisResult<ConnectionManager> {
        Ok(self.node().await?.conn(lane))
    }

    pub(super) async fn client(&self) -> RedisResult<redis::Client> {
        Ok(self.node().await?.client.clone())
    }

    async fn node(&self) -> RedisResult<Arc<Node>> {
        match self {
            Self::Fixed(node) => Ok(Arc::clone(node)),
            Self::Followed(follower) => match follower.current.load_full() {
                Some(node) => Ok(node),
                None => {
                    follower.next_lookup().await;
                    follower.current.load_full().ok_or_else(no_master)
                }
            },
        }
    }

    /// Starts a lookup when `err` (`None`: no reply in time) may mean the master moved.
    pub(super) fn suspect(&self, err: Option<&RedisError>) {
        if let Self::Followed(follower) = self
            && err.is_none_or(may_have_moved)
        {
            follower.look();
        }
    }

    /// With sentinels, after `err`: whether a lookup finished since (so a retry may find
    /// the new master), waited for within the caller's timeout.
    pub(super) async fn relocated_after(&self, err: &RedisError) -> bool {
        match self {
            Self::Followed(follower) if may_have_moved(err) => {
                follower.next_lookup().await;
                true
            }
            _ => false,
        }
    }
}

/// Errors after which the master may be elsewhere: it is gone (connection lost, refused,
/// timed out), or it answers as a replica (`READONLY`, or a transaction aborted by one)
/// or as a replica cut off from its master (`MASTERDOWN`).
fn may_have_moved(err: &RedisError) -> bool {
    err.is_io_error()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || err.is_timeout()
        || matches!(
            err.kind(),
            ErrorKind::Server(
                ServerErrorKind::ReadOnly
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::ExecAbort
            )
        )
}

fn no_master() -> RedisError {
    RedisError::from((
        ErrorKind::MasterNameNotFoundBySentinel,
        "no sentinel names a reachable master",
    ))
}

pub(super) struct Follower {
    current: ArcSwapOption<Node>,
    sentinel: tokio::sync::Mutex<SentinelClient>,
    config: ConnectionManagerConfig,
    looking: AtomicBool,
    /// The number of finished lookups, for whoever waits for the next one.
    looked: watch::Sender<u64>,
    last_started: Mutex<Option<Instant>>,
}

impl Follower {
    fn new(settings: &SentinelSettings, config: ConnectionManagerConfig) -> RedisResult<Self> {
        let sentinels = settings
            .addresses
            .iter()
            .map(|address| format!("redis://{address}"))
            .collect();
        Ok(Self {
            current: ArcSwapOption::empty(),
            sentinel: tokio::sync::Mutex::new(SentinelClient::build(
                sentinels,
                settings.master_name.clone(),
                None,
                SentinelServerType::Master,
            )?),
            config,
            looking: AtomicBool::new(false),
            looked: watch::Sender::new(0),
            last_started: Mutex::new(None),
        })
    }

    /// Waits for a lookup that finishes after this call (starting one if none runs).
    async fn next_lookup(self: &Arc<Self>) {
        let mut finished = self.looked.subscribe();
        self.look();
        let _ = finished.changed().await;
    }

    /// Starts a lookup unless one is running. It runs on its own task, so a caller that
    /// gives up (its timeout) does not cut short the lookup the others wait for.
    fn look(self: &Arc<Self>) {
        if self.looking.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = Arc::clone(self);
        tokio::spawn(async move {
            if let Some(pause) = this.pace() {
                tokio::time::sleep(pause).await;
            }
            match tokio::time::timeout(LOOKUP_TIMEOUT, this.lookup()).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => tracing::debug!(error = %err, "no Redis master found"),
                Err(_) => tracing::debug!("the sentinels did not answer in time"),
            }
            this.looking.store(false, Ordering::Release);
            this.looked.send_modify(|n| *n = n.wrapping_add(1));
        });
    }

    /// How long to wait so lookups start at least [`LOOKUP_SPACING`] apart.
    fn pace(&self) -> Option<Duration> {
        let mut last = self.last_started.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let start = last.map_or(now, |last| (last + LOOKUP_SPACING).max(now));
        *last = Some(start);
        (start > now).then(|| start - now)
    }

    async fn lookup(&self) -> RedisResult<()> {
        let client = self.sentinel.lock().await.async_get_client().await?;
        let address = client.get_connection_info().addr().to_string();
        let current = self.current.load();
        if current
            .as_ref()
            .is_some_and(|node| node.address() == address)
        {
            // Still the master: its connection manager reconnects by itself.
            return Ok(());
        }
        match current.as_ref() {
            Some(old) => {
                tracing::warn!(old = %old.address(), new = %address, "following the new Redis master")
            }
            None => tracing::info!(master = %address, "Redis master found by the sentinels"),
        }
        self.current
            .store(Some(Arc::new(Node::new(client, &self.config)?)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis::Redis;

    /// Port 1 refuses at once: no sentinel to ask.
    fn unreachable_sentinels() -> RedisSettings {
        RedisSettings {
            url: "redis://127.0.0.1:1".into(),
            timeout: Duration::from_millis(200),
            key_prefix: "t:".into(),
            sentinel: Some(SentinelSettings {
                addresses: vec!["127.0.0.1:1".into()],
                master_name: "waypoint".into(),
                replica_wait: Duration::from_millis(100),
            }),
        }
    }

    #[tokio::test]
    async fn with_no_sentinel_reachable_every_kind_of_call_fails_at_once() {
        let redis = Redis::connect(&unreachable_sentinels()).expect("settings are valid");
        // Refused by the sentinels, not timed out waiting for a lookup that cannot end.
        let refused =
            |err: &crate::redis::RedisError| matches!(err, crate::redis::RedisError::Redis(_));
        let read: Result<Option<String>, _> = redis.query(redis::cmd("GET").arg("k")).await;
        assert!(read.is_err_and(|err| refused(&err)));
        // Each call looks up afresh; spaced so none waits for the pacing of lookups.
        tokio::time::sleep(LOOKUP_SPACING).await;
        let repeatable: Result<Option<String>, _> =
            redis.query_repeatable(redis::cmd("GET").arg("k")).await;
        assert!(repeatable.is_err_and(|err| refused(&err)));
        tokio::time::sleep(LOOKUP_SPACING).await;
        assert!(redis.pubsub().await.is_err_and(|err| refused(&err)));
        tokio::time::sleep(LOOKUP_SPACING).await;
        let wait = redis.replicated().wait_for_replica().await;
        assert!(wait.is_err_and(|err| refused(&err)));
        assert!(!redis.ping().await);
    }
}
