//! The per-user roles cache the gateway reads in its per-request Redis round trip.
//!
//! Only rbac-service writes it, and only with a compare-and-set on the user's role
//! version: a grant writes version n+1, and a reader that loaded version n earlier can
//! no longer overwrite it. So a grant or revocation is in force from the very next
//! request on every gateway, and no stale set can come back.
//!
//! A change fences the entry before it commits: inside its transaction, once it knows its
//! new version n+1, it writes `"n+1|fenced"` (readers then ask the database), and only
//! if that succeeds does it commit; after the commit it replaces the fence with the roles.
//! Redis failing before the commit refuses the change (503: nothing changed); failing
//! after it leaves the fence, which sends every reader to the database until it expires.
//! Either way no gateway can act on the old roles once the change has been answered.
//! Both writes wait for a replica (with Redis Sentinel), so a failover cannot bring back
//! the entry from before the change.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;
use shared::ApiError;
use shared::metrics::CounterFamily;
use shared::policy::{FENCED_ROLES, user_roles_key};
use shared::redis::{Redis, RedisError};
use shared::session::{ANNOUNCE, INVALIDATION_CHANNEL, Invalidation};

use crate::models::UserRoles;

const TTL: Duration = Duration::from_secs(300);

/// The cache's Redis and the count of its writes (`rbac_roles_cache_writes_total`): a
/// failed write sends every gateway to rbac-service for that user until it expires.
#[derive(Clone)]
pub struct RolesCache {
    redis: Redis,
    writes: CounterFamily,
}

impl RolesCache {
    pub fn new(redis: Redis, metrics: &shared::metrics::Metrics) -> Self {
        let writes = metrics.counter(
            "rbac_roles_cache_writes",
            "Roles-cache writes by kind (fence, roles) and outcome (written, superseded, failed)",
        );
        Self { redis, writes }
    }

    /// Counts a write's outcome: the script answers 1 when it wrote, 0 when a newer
    /// version was there already.
    fn count(&self, kind: &'static str, result: &Result<i64, RedisError>) {
        let outcome = match result {
            Ok(1) => "written",
            Ok(_) => "superseded",
            Err(_) => "failed",
        };
        let labels = vec![("kind", kind), ("outcome", outcome)];
        self.writes.get_or_create(&labels).inc();
    }
}

pub async fn publish(cache: &RolesCache, roles: &UserRoles) -> Result<(), RedisError> {
    let redis = &cache.redis;
    let ids: Vec<String> = roles.role_ids.iter().map(i64::to_string).collect();
    let redis = redis.replicated();
    let result = redis
        .script::<i64>(
            COMPARE_AND_SET
                .key(redis.key(user_roles_key(roles.user_id)))
                .arg(roles.version)
                .arg(ids.join(","))
                .arg(TTL.as_millis() as u64)
                .arg(FENCED_ROLES)
                .arg(redis.key(INVALIDATION_CHANNEL))
                .arg(Invalidation::Roles(roles.user_id).message()),
        )
        .await;
    cache.count("roles", &result);
    result?;
    redis.wait_for_replica().await
}

/// Like [`publish`], but a failure is only logged: the change itself is committed, and
/// the fence it left sends readers to the database until it expires.
pub async fn publish_or_log(cache: &RolesCache, roles: &UserRoles) {
    if let Err(err) = publish(cache, roles).await {
        tracing::error!(user_id = roles.user_id, error = %err, "roles cache not updated; readers use the database until the entry expires");
    }
}

/// Fences the entry for the change to `roles` (the set about to be committed, with its
/// new version). Called inside the change's transaction, on its blocking database thread:
/// an error aborts the transaction, so a change Redis cannot fence never happens.
pub fn fence_before_commit(cache: &RolesCache, roles: &UserRoles) -> Result<(), ApiError> {
    let redis = &cache.redis;
    let mut fence = FENCE.prepare_invoke();
    fence
        .key(redis.key(user_roles_key(roles.user_id)))
        .arg(roles.version)
        .arg(FENCED_ROLES)
        .arg(TTL.as_millis() as u64)
        .arg(redis.key(INVALIDATION_CHANNEL))
        .arg(Invalidation::Roles(roles.user_id).message());
    let redis = redis.replicated();
    tokio::runtime::Handle::current()
        .block_on(async {
            let result = redis.script::<i64>(&fence).await;
            cache.count("fence", &result);
            result?;
            redis.wait_for_replica().await
        })
        .map_err(ApiError::from)
}

/// KEYS: cache key. ARGV: version, comma-separated role ids, ttl ms, the fence marker,
/// invalidation channel and message (announced on a write). Writes unless the cached version is newer, or equal and not a fence (the roles of a
/// version replace its fence; nothing else of that version does).
static COMPARE_AND_SET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r#"{}
local current = redis.call('GET', KEYS[1])
if current then
  local version, rest = string.match(current, '^(-?%d+)|(.*)$')
  version = tonumber(version)
  if version and (version > tonumber(ARGV[1])
      or (version == tonumber(ARGV[1]) and rest ~= ARGV[4])) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'PX', ARGV[3])
announce(ARGV[5], ARGV[6])
return 1
"#,
        ANNOUNCE
    ))
});

/// KEYS: cache key. ARGV: version, the fence marker, ttl ms, invalidation channel and
/// message. Fences unless a newer version is cached (then that one already supersedes
/// ours), and announces it: replicas holding the roles in process drop them at once.
static FENCE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r#"{}
local current = redis.call('GET', KEYS[1])
if current then
  local version = tonumber(string.match(current, '^(-?%d+)|'))
  if version and version > tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'PX', ARGV[3])
announce(ARGV[4], ARGV[5])
return 1
"#,
        ANNOUNCE
    ))
});
