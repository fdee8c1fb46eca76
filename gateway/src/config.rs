//! Gateway settings, from environment variables (all listed in the README).

use std::time::Duration;

use shared::config::{self, ConfigError, RedisSettings, Secret};

use crate::upstreams::{RouteEntry, parse_routes};

#[derive(Debug, Clone)]
pub struct Settings {
    /// `BIND_ADDR`, default `127.0.0.1:8000`.
    pub bind_addr: String,
    /// `WORKERS`: HTTP worker threads, default the number of CPUs.
    pub workers: usize,
    pub redis: RedisSettings,
    /// `WAYPOINT_INTERNAL_TOKEN`, default generated under `data/internal-token`.
    pub internal_token: Secret,
    /// `AUTH_SERVICE_URL`, default `http://127.0.0.1:8101`: where the JWKS comes from.
    pub auth_service_url: String,
    /// `CHAT_SERVICE_URL`, default `http://127.0.0.1:8103`.
    pub chat_service_url: String,
    /// `GATEWAY_ROUTES` (`pattern=url,…`), default: every service at its `*_SERVICE_URL`.
    pub routes: Vec<RouteEntry>,
    /// `JWT_ISSUER`, default `waypoint-auth`.
    pub jwt_issuer: String,
    /// `JWT_AUDIENCE`, default `waypoint`.
    pub jwt_audience: String,
    /// `JWT_LEEWAY`, default `30s`: tolerated clock skew for `exp` and `nbf`.
    pub jwt_leeway: Duration,
    /// `JWKS_REFRESH_INTERVAL`, default `5m`.
    pub jwks_refresh_interval: Duration,
    /// `UPSTREAM_TIMEOUT`, default `30s`.
    pub upstream_timeout: Duration,
    /// `TRUSTED_PROXIES`, default 0: how many proxies in front of the gateway (nginx is
    /// one) append to `X-Forwarded-For`; the client address is read that many hops from
    /// the right, never from a raw header a client could forge.
    pub trusted_proxies: usize,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let auth_service_url = config::string("AUTH_SERVICE_URL", "http://127.0.0.1:8101");
        let chat_service_url = config::string("CHAT_SERVICE_URL", "http://127.0.0.1:8103");
        let routes = match config::raw("GATEWAY_ROUTES") {
            Some(text) => parse_routes(&text)
                .map_err(|err| ConfigError::new("GATEWAY_ROUTES", err.to_string()))?,
            None => default_routes(&auth_service_url, &chat_service_url),
        };
        Ok(Self {
            bind_addr: config::string("BIND_ADDR", "127.0.0.1:8000"),
            workers: config::var(
                "WORKERS",
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )?,
            redis: RedisSettings::from_env()?,
            internal_token: config::internal_token()?,
            auth_service_url,
            chat_service_url,
            routes,
            jwt_issuer: config::string("JWT_ISSUER", shared::token::DEFAULT_ISSUER),
            jwt_audience: config::string("JWT_AUDIENCE", shared::token::DEFAULT_AUDIENCE),
            jwt_leeway: config::duration("JWT_LEEWAY", Duration::from_secs(30))?,
            jwks_refresh_interval: config::duration(
                "JWKS_REFRESH_INTERVAL",
                Duration::from_secs(300),
            )?,
            upstream_timeout: config::duration("UPSTREAM_TIMEOUT", Duration::from_secs(30))?,
            trusted_proxies: config::var("TRUSTED_PROXIES", 0)?,
        })
    }
}

/// The routes of every service, each at its configured URL.
pub fn default_routes(auth: &str, chat: &str) -> Vec<RouteEntry> {
    [
        ("/v1/auth/*", auth),
        ("/v1/users/*", auth),
        ("/v1/chat/*", chat),
    ]
    .into_iter()
    .map(|(pattern, upstream)| RouteEntry {
        pattern: pattern.to_owned(),
        upstream: upstream.to_owned(),
    })
    .collect()
}
