//! The per-user roles cache the gateway reads in its per-request Redis round trip.
//!
//! Only rbac-service writes it, and only with a compare-and-set on the user's role
//! version: a grant writes version n+1, and a reader that loaded version n earlier can
//! no longer overwrite it. So a grant or revocation is in force from the very next
//! request on every gateway, and no stale set can come back. Entries expire after a
//! while, which bounds the damage if a write is ever lost (Redis down mid-change).

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;
use shared::policy::user_roles_key;
use shared::redis::{Redis, RedisError};

use crate::models::UserRoles;

const TTL: Duration = Duration::from_secs(300);

pub async fn publish(redis: &Redis, roles: &UserRoles) -> Result<(), RedisError> {
    let ids: Vec<String> = roles.role_ids.iter().map(i64::to_string).collect();
    redis
        .script::<i64>(
            COMPARE_AND_SET
                .key(redis.key(user_roles_key(roles.user_id)))
                .arg(roles.version)
                .arg(ids.join(","))
                .arg(TTL.as_millis() as u64),
        )
        .await
        .map(drop)
}

/// Like [`publish`], but a failure is only logged: the change itself is committed.
pub async fn publish_or_log(redis: &Redis, roles: &UserRoles) {
    if let Err(err) = publish(redis, roles).await {
        tracing::error!(user_id = roles.user_id, error = %err, "roles cache not updated; it expires within 5 minutes");
    }
}

/// KEYS: cache key. ARGV: version, comma-separated role ids, ttl ms.
/// Writes unless the cached version is newer or equal.
static COMPARE_AND_SET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local current = redis.call('GET', KEYS[1])
if current then
  local version = tonumber(string.match(current, '^(-?%d+)|'))
  if version and version >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'PX', ARGV[3])
return 1
"#,
    )
});
