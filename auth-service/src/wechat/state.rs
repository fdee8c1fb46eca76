//! Short-lived, single-use records in Redis: the OAuth `state` of a flow in progress, and
//! the one-time code that hands a finished sign-in to the web page.
//!
//! Both are 256-bit random keys taken with GETDEL, so each is honoured once on any replica;
//! a second use, a guess or an expired one finds nothing.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use shared::redis::{Redis, RedisError};

use super::binding::Binding;
use crate::domain::ReturnTo;

/// How long a started sign-in may take (WeChat's QR page included).
pub const STATE_TTL: Duration = Duration::from_secs(10 * 60);
/// How long the web page has to exchange its one-time code.
pub const HANDOFF_TTL: Duration = Duration::from_secs(60);

/// A flow started by `authorize` or `link`, waiting for WeChat's callback.
#[derive(Debug, Serialize, Deserialize)]
pub struct PendingFlow {
    /// The browser binding's fingerprint.
    pub binding: String,
    pub return_to: String,
    /// Set when a signed-in user is linking WeChat rather than signing in.
    pub link: Option<LinkIntent>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinkIntent {
    pub user_id: i64,
    pub session_id: String,
}

/// A finished sign-in, waiting for the web page to collect its tokens.
#[derive(Debug, Serialize, Deserialize)]
pub struct Handoff {
    pub user_id: i64,
    pub session_id: String,
    pub refresh_token: String,
}

#[derive(Clone)]
pub struct FlowStore {
    redis: Redis,
}

impl FlowStore {
    pub fn new(redis: Redis) -> Self {
        Self { redis }
    }

    pub fn state_key(&self, state: &str) -> String {
        self.redis.key(format_args!("wechat:state:{state}"))
    }

    fn handoff_key(&self, code: &str) -> String {
        self.redis.key(format_args!("wechat:handoff:{code}"))
    }

    /// Records a new flow; returns its `state`.
    pub async fn begin(
        &self,
        binding: &Binding,
        return_to: &ReturnTo,
        link: Option<LinkIntent>,
    ) -> Result<String, RedisError> {
        let state = shared::random::token_hex(32);
        let flow = PendingFlow {
            binding: binding.fingerprint(),
            return_to: return_to.as_str().to_owned(),
            link,
        };
        self.put(&self.state_key(&state), &flow, STATE_TTL).await?;
        Ok(state)
    }

    /// Takes the flow of `state`, once.
    pub async fn take(&self, state: &str) -> Result<Option<PendingFlow>, RedisError> {
        if !is_token(state) {
            return Ok(None);
        }
        self.get_del(&self.state_key(state)).await
    }

    /// Parks a finished sign-in under a new one-time code; returns the code.
    pub async fn hand_off(&self, handoff: &Handoff) -> Result<String, RedisError> {
        let code = shared::random::token_hex(32);
        self.put(&self.handoff_key(&code), handoff, HANDOFF_TTL)
            .await?;
        Ok(code)
    }

    /// Collects the sign-in parked under `code`, once.
    pub async fn collect(&self, code: &str) -> Result<Option<Handoff>, RedisError> {
        if !is_token(code) {
            return Ok(None);
        }
        self.get_del(&self.handoff_key(code)).await
    }

    async fn put(
        &self,
        key: &str,
        value: &impl Serialize,
        ttl: Duration,
    ) -> Result<(), RedisError> {
        // Serialising these plain structs cannot fail.
        let json = serde_json::to_string(value).unwrap_or_default();
        self.redis
            .query(
                redis::cmd("SET")
                    .arg(key)
                    .arg(json)
                    .arg("PX")
                    .arg(ttl.as_millis() as u64)
                    .arg("NX"),
            )
            .await
            .map(|_: Option<String>| ())
    }

    async fn get_del<T: for<'de> Deserialize<'de>>(
        &self,
        key: &str,
    ) -> Result<Option<T>, RedisError> {
        let raw: Option<String> = self.redis.query(redis::cmd("GETDEL").arg(key)).await?;
        Ok(raw.and_then(|json| serde_json::from_str(&json).ok()))
    }
}

/// 64 lowercase hex digits: the shape of every state and handoff code.
fn is_token(value: &str) -> bool {
    value.len() == 64
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
