//! Login throttling per account and per client address, counted in Redis so the limit is
//! one limit across every replica.
//!
//! Every attempt reserves a slot in both counters before the password is checked, so
//! parallel guesses cannot overshoot the limit. A failed attempt keeps its slots; a
//! successful one gives them back (the account counter is cleared). While either counter
//! is full the attempt is refused with 429 and `Retry-After`, even with the right password.

use std::net::IpAddr;
use std::sync::LazyLock;

use redis::Script;
use sha2::{Digest, Sha256};
use shared::redis::Redis;
use shared::{ApiError, Code};

use crate::config::ThrottleSettings;

#[derive(Clone)]
pub struct LoginThrottle {
    redis: Redis,
    settings: ThrottleSettings,
}

/// The slots one attempt holds.
pub struct Reservation {
    account_key: String,
    ip_key: String,
}

impl LoginThrottle {
    pub fn new(redis: Redis, settings: ThrottleSettings) -> Self {
        Self { redis, settings }
    }

    /// Takes a slot for an attempt on `account` from `ip`, or refuses with 429.
    pub async fn reserve(&self, account: &str, ip: IpAddr) -> Result<Reservation, ApiError> {
        // Hashing keeps arbitrary client input out of key names.
        let account_key = self.redis.key(format_args!(
            "lf:a:{}",
            hex::encode(&Sha256::digest(account.to_lowercase().as_bytes())[..16])
        ));
        let ip_key = self.redis.key(format_args!("lf:ip:{ip}"));
        // Safe to repeat after a dropped connection: a repetition takes one slot too many,
        // erring towards throttling (see `shared::redis`). The release below is not: it
        // gives a slot back.
        let retry_ms: i64 = self
            .redis
            .script_repeatable(
                RESERVE
                    .key(&account_key)
                    .key(&ip_key)
                    .arg(self.settings.max_failures_per_account)
                    .arg(self.settings.max_failures_per_ip)
                    .arg(self.settings.window.as_millis() as u64),
            )
            .await?;
        if retry_ms > 0 {
            tracing::warn!(%ip, "login throttled");
            return Err(ApiError::new(
                Code::LoginThrottled,
                "Too many failed sign-in attempts; try again later.",
            )
            .with_retry_after((retry_ms as u64).div_ceil(1000)));
        }
        Ok(Reservation {
            account_key,
            ip_key,
        })
    }

    /// The attempt succeeded: its slots are given back.
    pub async fn release(&self, reservation: Reservation) {
        let result = self
            .redis
            .script::<()>(
                RELEASE
                    .key(&reservation.account_key)
                    .key(&reservation.ip_key),
            )
            .await;
        if let Err(err) = result {
            tracing::warn!(error = %err, "could not release a login throttle slot");
        }
    }
}

/// KEYS: account counter, ip counter. ARGV: account limit, ip limit, window ms.
/// Returns 0 and takes a slot in both, or the ms until the full counter resets.
static RESERVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
for i, key in ipairs(KEYS) do
  local used = tonumber(redis.call('GET', key) or '0')
  if used >= tonumber(ARGV[i]) then
    local ttl = redis.call('PTTL', key)
    if ttl <= 0 then ttl = tonumber(ARGV[3]) end
    return ttl
  end
end
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, ARGV[3]) end
end
return 0
"#,
    )
});

/// KEYS: account counter, ip counter. Clears the account, returns the ip slot.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
redis.call('DEL', KEYS[1])
if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then redis.call('DECR', KEYS[2]) end
return 0
"#,
    )
});
