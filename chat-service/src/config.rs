//! chat-service settings, from environment variables (all listed in the README).

use std::time::Duration;

use shared::config::{self, ConfigError, DatabaseSettings, ServerSettings};

#[derive(Debug, Clone)]
pub struct Settings {
    /// `BIND_ADDR` (default `127.0.0.1:8103`), `METRICS_ADDR`, `OTEL_*`, `WORKERS`, `REDIS_*`,
    /// `WAYPOINT_INTERNAL_TOKEN`.
    pub server: ServerSettings,
    /// `DATABASE_URL` (default `sqlite://data/chat.db`), `DATABASE_POOL_SIZE`.
    pub database: DatabaseSettings,
    pub directory: DirectorySettings,
    pub socket: SocketSettings,
}

/// Where experts and their names come from.
#[derive(Debug, Clone)]
pub struct DirectorySettings {
    /// `RBAC_SERVICE_URL`, default `http://127.0.0.1:8102`: who holds the `expert` role.
    pub rbac_service_url: String,
    /// `AUTH_SERVICE_URL`, default `http://127.0.0.1:8101`: accounts and display names.
    pub auth_service_url: String,
    /// `CHAT_DIRECTORY_TTL`, default `30s`: how long the expert list and names are cached.
    pub cache_ttl: Duration,
    /// `CHAT_DIRECTORY_TIMEOUT`, default `2s`: a slower rbac/auth-service is "unavailable".
    pub timeout: Duration,
}

/// The WebSocket endpoint: tickets, heartbeat, limits, presence and revocation.
#[derive(Debug, Clone)]
pub struct SocketSettings {
    /// `CHAT_ALLOWED_ORIGINS` (comma-separated), default
    /// `http://127.0.0.1:8080,http://localhost:8080`. A handshake carrying another `Origin`
    /// gets 403; one without `Origin` (not a browser) is allowed.
    pub allowed_origins: Vec<String>,
    /// `CHAT_TICKET_TTL`, default `30s`: how long a WebSocket ticket stays redeemable.
    pub ticket_ttl: Duration,
    /// `CHAT_PING_INTERVAL`, default `20s` (below nginx's 75 s proxy timeout).
    pub ping_interval: Duration,
    /// `CHAT_PONG_TIMEOUT`, default `10s`: a connection silent this long after a ping closes.
    pub pong_timeout: Duration,
    /// `CHAT_MAX_FRAME_BYTES`, default 16384: a larger client frame closes with 1009.
    pub max_frame_bytes: usize,
    /// `CHAT_RATE_PER_SECOND`, default 10: client frames per second, sustained.
    pub rate_per_second: u32,
    /// `CHAT_RATE_BURST`, default 20: client frames allowed at once.
    pub rate_burst: u32,
    /// `CHAT_RATE_TOLERANCE`, default 20: refused frames (recovering one per second) before
    /// the connection is closed with 1008.
    pub rate_tolerance: u32,
    /// `CHAT_MAX_CONNECTIONS_PER_USER`, default 8, counted over every replica.
    pub max_connections_per_user: u32,
    /// `CHAT_OUTBOUND_QUEUE`, default 256: frames waiting for a connection; a client that
    /// lets it fill up is disconnected.
    pub outbound_queue: usize,
    /// `CHAT_PRESENCE_TTL`, default `60s`: a crashed replica's users stop counting as online
    /// after this long.
    pub presence_ttl: Duration,
    /// `CHAT_SESSION_CHECK_INTERVAL`, default `2s`: how often each replica checks that the
    /// sessions of its sockets still exist (logout closes sockets within this).
    pub session_check_interval: Duration,
    /// `CHAT_TCP_USER_TIMEOUT`, default `30s`: the kernel drops a connection whose sent data
    /// stays unacknowledged this long (a peer that stopped reading).
    pub tcp_user_timeout: Duration,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            server: ServerSettings::from_env("127.0.0.1:8103")?,
            database: DatabaseSettings::from_env("chat.db")?,
            directory: DirectorySettings {
                rbac_service_url: config::string("RBAC_SERVICE_URL", "http://127.0.0.1:8102"),
                auth_service_url: config::string("AUTH_SERVICE_URL", "http://127.0.0.1:8101"),
                cache_ttl: config::duration("CHAT_DIRECTORY_TTL", Duration::from_secs(30))?,
                timeout: config::duration("CHAT_DIRECTORY_TIMEOUT", Duration::from_secs(2))?,
            },
            socket: SocketSettings::from_env()?,
        })
    }
}

pub const DEFAULT_ALLOWED_ORIGINS: &str = "http://127.0.0.1:8080,http://localhost:8080";

impl SocketSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let defaults = Self::default();
        Ok(Self {
            allowed_origins: parse_origins(&config::string(
                "CHAT_ALLOWED_ORIGINS",
                DEFAULT_ALLOWED_ORIGINS,
            )),
            ticket_ttl: config::duration("CHAT_TICKET_TTL", defaults.ticket_ttl)?,
            ping_interval: config::duration("CHAT_PING_INTERVAL", defaults.ping_interval)?,
            pong_timeout: config::duration("CHAT_PONG_TIMEOUT", defaults.pong_timeout)?,
            max_frame_bytes: config::var("CHAT_MAX_FRAME_BYTES", defaults.max_frame_bytes)?,
            rate_per_second: config::var("CHAT_RATE_PER_SECOND", defaults.rate_per_second)?,
            rate_burst: config::var("CHAT_RATE_BURST", defaults.rate_burst)?,
            rate_tolerance: config::var("CHAT_RATE_TOLERANCE", defaults.rate_tolerance)?,
            max_connections_per_user: config::var(
                "CHAT_MAX_CONNECTIONS_PER_USER",
                defaults.max_connections_per_user,
            )?,
            outbound_queue: config::var("CHAT_OUTBOUND_QUEUE", defaults.outbound_queue)?,
            presence_ttl: config::duration("CHAT_PRESENCE_TTL", defaults.presence_ttl)?,
            session_check_interval: config::duration(
                "CHAT_SESSION_CHECK_INTERVAL",
                defaults.session_check_interval,
            )?,
            tcp_user_timeout: config::duration("CHAT_TCP_USER_TIMEOUT", defaults.tcp_user_timeout)?,
        })
    }
}

impl Default for SocketSettings {
    /// The shipped defaults (the README lists the same).
    fn default() -> Self {
        Self {
            allowed_origins: parse_origins(DEFAULT_ALLOWED_ORIGINS),
            ticket_ttl: Duration::from_secs(30),
            ping_interval: Duration::from_secs(20),
            pong_timeout: Duration::from_secs(10),
            max_frame_bytes: 16 * 1024,
            rate_per_second: 10,
            rate_burst: 20,
            rate_tolerance: 20,
            max_connections_per_user: 8,
            outbound_queue: 256,
            presence_ttl: Duration::from_secs(60),
            session_check_interval: Duration::from_secs(2),
            tcp_user_timeout: Duration::from_secs(30),
        }
    }
}

/// Origins compare as the browser sends them: scheme, host and port, no trailing slash.
pub fn parse_origins(text: &str) -> Vec<String> {
    text.split(',')
        .map(|origin| origin.trim().trim_end_matches('/').to_ascii_lowercase())
        .filter(|origin| !origin.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised_and_blanks_dropped() {
        assert_eq!(
            parse_origins(" http://Localhost:8080/ ,, https://waypoint.example"),
            ["http://localhost:8080", "https://waypoint.example"]
        );
    }

    #[test]
    fn the_heartbeat_fits_inside_nginx_proxy_timeout() {
        let defaults = SocketSettings::default();
        // nginx/waypoint.conf.template sets proxy_read_timeout 75s.
        assert!(defaults.ping_interval + defaults.pong_timeout < Duration::from_secs(75));
    }
}
