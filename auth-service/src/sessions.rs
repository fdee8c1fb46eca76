//! Sessions: an allow-list in Redis, shared by every replica of every service.
//!
//! The record, its key and the sliding-expiry rule belong to [`shared::session`]: this
//! store writes sessions, the gateway and chat-service check and slide them. A session is
//! valid only while its key exists; deleting the key ends it on every replica at once.
//!
//! Refresh tokens are `{sid}.{generation}.{mac}`, where the mac is an HMAC of sid and
//! generation under a secret kept in the session. Each refresh bumps the generation; a
//! genuine token of an older generation is a replay, and ends the session. One exception,
//! as mature identity providers make it: the token just rotated, presented again within
//! the grace window while its successor is still unused, is a client retrying after a lost
//! response, and gets the same successor again (the rotation is not repeated).

use std::sync::LazyLock;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use redis::Script;
use serde::Serialize;
use sha2::Sha256;
use shared::redis::{Redis, RedisError};
use shared::session::{self, Invalidation, NewSession, field};

#[derive(Clone)]
pub struct SessionStore {
    redis: Redis,
    /// For the writes a failover must not lose (a new session, a rotation): on a connection
    /// of their own, each followed by `WAIT` for a replica (see [`Redis::wait_for_replica`]).
    replicated: Redis,
    idle: Duration,
    absolute: Duration,
    refresh_grace: Duration,
}

/// What a refresh attempt found.
pub enum Refresh {
    Rotated {
        user_id: i64,
        session_id: String,
        refresh_token: String,
    },
    /// Unknown, expired or forged token: nothing changed.
    Invalid,
    /// A spent token came back: the session has been ended.
    Replayed,
}

/// A session as its owner sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub id: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
    pub user_agent: String,
    pub ip: String,
    pub current: bool,
}

impl SessionStore {
    /// No session outlives this, so neither does a refresh cookie.
    pub fn absolute_lifetime(&self) -> Duration {
        self.absolute
    }

    pub fn new(redis: Redis, settings: &crate::config::SessionSettings) -> Self {
        Self {
            replicated: redis.replicated(),
            redis,
            idle: settings.idle_timeout,
            absolute: settings.absolute_lifetime,
            refresh_grace: settings.refresh_grace,
        }
    }

    fn session_key(&self, sid: &str) -> String {
        self.redis.key(session::key(sid))
    }

    /// Where ending a session is announced (see `shared::session::INVALIDATION_CHANNEL`).
    fn channel(&self) -> String {
        self.redis.key(session::INVALIDATION_CHANNEL)
    }

    fn index_key(&self, user_id: i64) -> String {
        self.redis.key(session::user_index_key(user_id))
    }

    /// Starts a session; returns its id and first refresh token.
    pub async fn create(
        &self,
        user_id: i64,
        user_agent: &str,
        ip: &str,
    ) -> Result<(String, String), RedisError> {
        let sid = shared::random::token_hex(16);
        let secret = shared::random::token_hex(32);
        let new = NewSession {
            user_id,
            now_ms: shared::time::now_millis(),
            idle_ms: self.idle.as_millis() as i64,
            absolute_lifetime_ms: self.absolute.as_millis() as i64,
            user_agent,
            ip,
            refresh_secret: &secret,
        };
        let key = self.session_key(&sid);
        let index = self.index_key(user_id);
        // Safe to repeat after a dropped connection: the same fields under the same fresh id.
        self.replicated
            .pipeline_repeatable::<()>(
                redis::pipe()
                    .atomic()
                    .hset_multiple(&key, &new.fields())
                    .ignore()
                    .pexpire(&key, new.ttl_ms())
                    .ignore()
                    .sadd(&index, &sid)
                    .ignore()
                    .pexpire(&index, new.absolute_lifetime_ms)
                    .ignore(),
            )
            .await?;
        self.replicated.wait_for_replica().await?;
        let token = refresh_token(&sid, 0, &secret);
        Ok((sid, token))
    }

    /// Exchanges a refresh token for the next one (rotation with replay detection). The
    /// rotation runs once only: repeated after a lost reply, it would see its own bump as
    /// a replay and end the session.
    pub async fn refresh(&self, token: &str) -> Result<Refresh, RedisError> {
        let Some((sid, generation, _)) = parse_refresh_token(token) else {
            return Ok(Refresh::Invalid);
        };
        let key = self.session_key(sid);
        let (user, secret): (Option<i64>, Option<String>) = self
            .redis
            .query_repeatable(
                redis::cmd("HMGET")
                    .arg(&key)
                    .arg(field::USER)
                    .arg(field::REFRESH_SECRET),
            )
            .await?;
        let (Some(user_id), Some(secret)) = (user, secret) else {
            return Ok(Refresh::Invalid);
        };
        if !mac_matches(token, &secret) {
            return Ok(Refresh::Invalid);
        }
        let outcome: i64 = self
            .replicated
            .script(
                ROTATE
                    .key(&key)
                    .key(self.index_key(user_id))
                    .arg(generation)
                    .arg(shared::time::now_millis())
                    .arg(sid)
                    .arg(self.refresh_grace.as_millis() as i64)
                    .arg(user_id)
                    .arg(self.channel())
                    .arg(Invalidation::Session(sid.to_owned()).message()),
            )
            .await?;
        if outcome == 1 {
            // A rotation lost in a failover would make the new token look like a replay.
            self.replicated.wait_for_replica().await?;
        }
        Ok(match outcome {
            // Rotated now, or a retry within the grace window: either way the successor.
            1 | 2 => Refresh::Rotated {
                user_id,
                session_id: sid.to_owned(),
                refresh_token: refresh_token(sid, generation + 1, &secret),
            },
            -1 => {
                tracing::warn!(user_id, "refresh token replayed; session ended");
                Refresh::Replayed
            }
            _ => Refresh::Invalid,
        })
    }

    /// The user of a live session, if it is live.
    pub async fn owner(&self, sid: &str) -> Result<Option<i64>, RedisError> {
        self.redis
            .query_repeatable(
                redis::cmd("HGET")
                    .arg(self.session_key(sid))
                    .arg(field::USER),
            )
            .await
    }

    /// Ends one session of `user_id`; false when it is not theirs or already gone.
    pub async fn end(&self, user_id: i64, sid: &str) -> Result<bool, RedisError> {
        let ended: i64 = self
            .redis
            .script(
                END_ONE
                    .key(self.session_key(sid))
                    .key(self.index_key(user_id))
                    .arg(user_id)
                    .arg(sid)
                    .arg(self.channel())
                    .arg(Invalidation::Session(sid.to_owned()).message()),
            )
            .await?;
        Ok(ended == 1)
    }

    /// Ends every session of `user_id` except `keep`; returns how many ended.
    pub async fn end_all(&self, user_id: i64, keep: Option<&str>) -> Result<u64, RedisError> {
        self.redis
            .script(
                END_ALL
                    .key(self.index_key(user_id))
                    .arg(self.redis.key(session::KEY_PREFIX))
                    .arg(keep.unwrap_or(""))
                    .arg(self.channel())
                    .arg(Invalidation::User(user_id).message()),
            )
            .await
    }

    /// The live sessions of `user_id`, newest first; forgets index entries that expired.
    pub async fn list(&self, user_id: i64, current: &str) -> Result<Vec<SessionView>, RedisError> {
        let index = self.index_key(user_id);
        let sids: Vec<String> = self
            .redis
            .query_repeatable(redis::cmd("SMEMBERS").arg(&index))
            .await?;
        if sids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for sid in &sids {
            pipe.cmd("HMGET").arg(self.session_key(sid)).arg(&[
                field::USER,
                field::CREATED_MS,
                field::SEEN_MS,
                field::ABSOLUTE_EXPIRY_MS,
                field::IDLE_MS,
                field::USER_AGENT,
                field::IP,
            ]);
        }
        type Row = (
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = self.redis.pipeline_repeatable(&pipe).await?;
        let mut views = Vec::new();
        let mut dead = Vec::new();
        for (sid, row) in sids.into_iter().zip(rows) {
            match row {
                (Some(uid), Some(created), Some(seen), Some(abs), Some(idle), ua, ip)
                    if uid == user_id =>
                {
                    views.push((
                        created,
                        SessionView {
                            current: sid == current,
                            id: sid,
                            created_at: millis_to_rfc3339(created),
                            last_seen_at: millis_to_rfc3339(seen),
                            expires_at: millis_to_rfc3339(session::expires_at_ms(seen, idle, abs)),
                            user_agent: ua.unwrap_or_default(),
                            ip: ip.unwrap_or_default(),
                        },
                    ))
                }
                _ => dead.push(sid),
            }
        }
        if !dead.is_empty() {
            let _: Result<i64, _> = self
                .redis
                .query(redis::cmd("SREM").arg(&index).arg(&dead))
                .await;
        }
        views.sort_by_key(|(created, _)| std::cmp::Reverse(*created));
        Ok(views.into_iter().map(|(_, v)| v).collect())
    }
}

fn millis_to_rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn refresh_token(sid: &str, generation: u64, secret: &str) -> String {
    let payload = format!("{sid}.{generation}");
    format!(
        "{payload}.{}",
        URL_SAFE_NO_PAD.encode(mac(&payload, secret))
    )
}

fn mac(payload: &str, secret: &str) -> Vec<u8> {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(payload.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn mac_matches(token: &str, secret: &str) -> bool {
    let Some((payload, presented)) = token.rsplit_once('.') else {
        return false;
    };
    let Ok(presented) = URL_SAFE_NO_PAD.decode(presented) else {
        return false;
    };
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(payload.as_bytes());
    mac.verify_slice(&presented).is_ok()
}

fn parse_refresh_token(token: &str) -> Option<(&str, u64, &str)> {
    if token.len() > 200 {
        return None;
    }
    let mut parts = token.split('.');
    let sid = parts.next()?;
    let generation = parts.next()?.parse().ok()?;
    let mac = parts.next()?;
    let sane = sid.len() == 32 && sid.bytes().all(|b| b.is_ascii_hexdigit());
    (sane && parts.next().is_none()).then_some((sid, generation, mac))
}

/// KEYS: session, user index. ARGV: presented generation, now (ms), sid, grace (ms),
/// user id, invalidation channel and message. 1 rotated, 2 a retry within the grace window (the same successor), 0 gone,
/// -1 replay (session ended). A rotation is a use: it slides the session.
static ROTATE: LazyLock<Script> = LazyLock::new(|| {
    use field::*;
    Script::new(&format!(
        r#"{slide}{announce}
local s = redis.call('HMGET', KEYS[1], '{REFRESH_GENERATION}', '{REFRESH_ROTATED_MS}')
if not s[1] then return 0 end
local presented = tonumber(ARGV[1])
local current = tonumber(s[1])
local now = tonumber(ARGV[2])
if presented == current - 1 and s[2] and now - tonumber(s[2]) <= tonumber(ARGV[4]) then
  return 2
end
if presented ~= current then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], ARGV[3])
  announce(ARGV[6], ARGV[7])
  return -1
end
if slide(KEYS[1], ARGV[5], now) == 0 then return 0 end
redis.call('HSET', KEYS[1], '{REFRESH_GENERATION}', current + 1, '{REFRESH_ROTATED_MS}', now)
return 1
"#,
        slide = *session::SLIDE,
        announce = session::ANNOUNCE,
    ))
});

/// KEYS: session, user index. ARGV: user id, sid, invalidation channel and message.
/// 1 ended, 0 not theirs or gone.
static END_ONE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r#"{announce}
if redis.call('HGET', KEYS[1], '{user}') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[2])
announce(ARGV[3], ARGV[4])
return 1
"#,
        user = field::USER,
        announce = session::ANNOUNCE,
    ))
});

/// KEYS: user index. ARGV: session key prefix, sid to keep ('' for none), invalidation
/// channel and message. Returns count.
static END_ALL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r#"{}
local ended = 0
for _, sid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if sid ~= ARGV[2] then
    ended = ended + redis.call('DEL', ARGV[1] .. sid)
    redis.call('SREM', KEYS[1], sid)
  end
end
if ended > 0 then announce(ARGV[3], ARGV[4]) end
return ended
"#,
        session::ANNOUNCE
    ))
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_are_bound_to_session_generation_and_secret() {
        let sid = "0123456789abcdef0123456789abcdef";
        let token = refresh_token(sid, 3, "secret");
        assert_eq!(
            parse_refresh_token(&token).map(|(s, g, _)| (s, g)),
            Some((sid, 3))
        );
        assert!(mac_matches(&token, "secret"));
        assert!(!mac_matches(&token, "other secret"));
        let forged = token.replacen(".3.", ".4.", 1);
        assert!(!mac_matches(&forged, "secret"));
    }

    #[test]
    fn malformed_refresh_tokens_are_rejected_before_redis() {
        for token in [
            "",
            "abc",
            "a.b.c",
            "0123456789abcdef0123456789abcdeg.0.x",
            "x.1.y.z",
        ] {
            assert!(parse_refresh_token(token).is_none(), "{token}");
        }
    }
}
