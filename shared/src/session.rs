//! The session record: the one contract between auth-service, which writes sessions, and
//! the gateway and chat-service, which check and slide them on every request and socket.
//!
//! A session is a Redis hash at [`key`]`(sid)`, valid only while the key exists. Its fields
//! are in [`field`]. The key expires after the idle timeout, which each use slides, but never
//! beyond the absolute expiry recorded in the session: [`SLIDE`] is the one rule, as a Lua
//! function every script that touches a session includes, so no reader can disagree with
//! another about whether a session is live or when it ends. [`user_index_key`] lists a
//! user's sessions, for logout-all and the session list.

use std::fmt::Display;
use std::sync::LazyLock;

/// The key of session `sid` (before the deployment's key prefix).
pub fn key(sid: impl Display) -> String {
    format!("{KEY_PREFIX}{sid}")
}

/// What every session key starts with (before the deployment's key prefix).
pub const KEY_PREFIX: &str = "sess:";

/// The set of a user's session ids (before the deployment's key prefix).
pub fn user_index_key(user_id: i64) -> String {
    format!("usess:{user_id}")
}

/// Fields of the session hash.
pub mod field {
    /// The user id, in decimal.
    pub const USER: &str = "uid";
    pub const CREATED_MS: &str = "created";
    /// The absolute expiry, epoch ms: no use extends the session past it.
    pub const ABSOLUTE_EXPIRY_MS: &str = "abs";
    /// The idle timeout, ms: each use moves the expiry to now + this.
    pub const IDLE_MS: &str = "idle";
    /// The last use, epoch ms.
    pub const SEEN_MS: &str = "seen";
    pub const USER_AGENT: &str = "ua";
    pub const IP: &str = "ip";
    pub const REFRESH_SECRET: &str = "rsec";
    pub const REFRESH_GENERATION: &str = "rgen";
    /// When the refresh generation last moved (the start of the grace window).
    pub const REFRESH_ROTATED_MS: &str = "rrot";
}

/// A session about to start: the whole record, as [`NewSession::fields`] writes it.
pub struct NewSession<'a> {
    pub user_id: i64,
    pub now_ms: i64,
    pub idle_ms: i64,
    pub absolute_lifetime_ms: i64,
    pub user_agent: &'a str,
    pub ip: &'a str,
    pub refresh_secret: &'a str,
}

impl NewSession<'_> {
    /// The hash's fields, for `HSET`.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            (field::USER, self.user_id.to_string()),
            (field::CREATED_MS, self.now_ms.to_string()),
            (
                field::ABSOLUTE_EXPIRY_MS,
                (self.now_ms + self.absolute_lifetime_ms).to_string(),
            ),
            (field::IDLE_MS, self.idle_ms.to_string()),
            (field::SEEN_MS, self.now_ms.to_string()),
            (
                field::USER_AGENT,
                self.user_agent.chars().take(200).collect(),
            ),
            (field::IP, self.ip.to_owned()),
            (field::REFRESH_SECRET, self.refresh_secret.to_owned()),
            (field::REFRESH_GENERATION, "0".to_owned()),
        ]
    }

    /// The key's first time to live, ms: [`SLIDE`]'s rule at the start.
    pub fn ttl_ms(&self) -> i64 {
        expires_at_ms(
            self.now_ms,
            self.idle_ms,
            self.now_ms + self.absolute_lifetime_ms,
        ) - self.now_ms
    }
}

/// When a session last seen at `seen_ms` expires: after its idle timeout, capped by its
/// absolute expiry (all epoch ms). The Rust twin of [`SLIDE`], for displaying it.
pub fn expires_at_ms(seen_ms: i64, idle_ms: i64, absolute_expiry_ms: i64) -> i64 {
    (seen_ms + idle_ms).min(absolute_expiry_ms)
}

/// Lua: `slide(key, uid, now)` returns 1 if session `key` is live and belongs to user
/// `uid` (a string), after sliding its expiry to `min(now + idle, abs)` and recording the
/// use; 0 if it is gone, someone else's, or past its absolute expiry (then it is deleted).
/// Prepend it to a script's body.
pub static SLIDE: LazyLock<String> = LazyLock::new(|| {
    use field::*;
    format!(
        r#"
local function slide(key, uid, now)
  local s = redis.call('HMGET', key, '{USER}', '{ABSOLUTE_EXPIRY_MS}', '{IDLE_MS}')
  if s[1] ~= uid or not s[2] or not s[3] then return 0 end
  local ttl = math.min(tonumber(s[3]), tonumber(s[2]) - now)
  if ttl <= 0 then
    redis.call('DEL', key)
    return 0
  end
  redis.call('PEXPIRE', key, ttl)
  redis.call('HSET', key, '{SEEN_MS}', now)
  return 1
end
"#
    )
});

/// The channel (before the deployment's key prefix) on which whatever ends sessions or
/// changes a user's roles announces it, so that replicas holding session state in process
/// drop it. Publish from inside the script that makes the change (Lua `PUBLISH`), so that
/// no change happens unannounced.
pub const INVALIDATION_CHANNEL: &str = "sess:invalidate";

/// A message of [`INVALIDATION_CHANNEL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    /// Session `sid` ended (`sid:{sid}`).
    Session(String),
    /// Some or all sessions of the user ended (`user:{id}`): drop them all.
    User(i64),
    /// The user's roles changed (`roles:{id}`).
    Roles(i64),
    /// A listener's own liveness probe (`hb:{anything}`), which it expects to see back.
    Heartbeat(String),
}

impl Invalidation {
    pub fn message(&self) -> String {
        match self {
            Self::Session(sid) => format!("sid:{sid}"),
            Self::User(id) => format!("user:{id}"),
            Self::Roles(id) => format!("roles:{id}"),
            Self::Heartbeat(probe) => format!("hb:{probe}"),
        }
    }

    /// `None` for a message this version does not know: a listener must then drop
    /// everything, as it cannot tell what changed.
    pub fn parse(message: &str) -> Option<Self> {
        let (kind, rest) = message.split_once(':')?;
        match kind {
            "sid" => Some(Self::Session(rest.to_owned())),
            "user" => rest.parse().ok().map(Self::User),
            "roles" => rest.parse().ok().map(Self::Roles),
            "hb" => Some(Self::Heartbeat(rest.to_owned())),
            _ => None,
        }
    }
}

/// Lua: `announce(channel, message)`, for scripts that end sessions or change roles
/// (ARGV carries the prefixed [`INVALIDATION_CHANNEL`] and an [`Invalidation::message`]).
pub const ANNOUNCE: &str = r#"
local function announce(channel, message)
  if channel and channel ~= '' then redis.call('PUBLISH', channel, message) end
end
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalidation_messages_read_back_as_what_was_sent() {
        for sent in [
            Invalidation::Session("0123abcd".into()),
            Invalidation::User(42),
            Invalidation::Roles(7),
            Invalidation::Heartbeat("r1:9".into()),
        ] {
            assert_eq!(Invalidation::parse(&sent.message()), Some(sent));
        }
        assert_eq!(Invalidation::parse("user:x"), None);
        assert_eq!(Invalidation::parse("later:1"), None);
    }

    #[test]
    fn the_slide_script_names_the_fields_of_this_module() {
        for name in [
            field::USER,
            field::ABSOLUTE_EXPIRY_MS,
            field::IDLE_MS,
            field::SEEN_MS,
        ] {
            assert!(SLIDE.contains(&format!("'{name}'")), "{name} missing");
        }
    }

    #[test]
    fn expiry_is_the_idle_timeout_capped_by_the_absolute_expiry() {
        assert_eq!(expires_at_ms(1_000, 500, 10_000), 1_500);
        assert_eq!(expires_at_ms(9_800, 500, 10_000), 10_000);
    }
}
