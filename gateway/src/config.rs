//! Gateway settings, from environment variables (all listed in the README).

use std::time::Duration;

use shared::config::{self, ConfigError, ServerSettings};
use shared::server::KEEP_ALIVE;

use crate::auth::cache::CacheSettings;
use crate::client_ip::TrustedProxies;
use crate::ratelimit::{Rate, RateLimits};
use crate::upstreams::{RouteEntry, parse_routes};

#[derive(Debug, Clone)]
pub struct Settings {
    /// `BIND_ADDR` (default `127.0.0.1:8000`), `METRICS_ADDR`, `OTEL_*`, `WORKERS`, `REDIS_*`,
    /// `WAYPOINT_INTERNAL_TOKEN`.
    pub server: ServerSettings,
    /// Where each service listens (`*_SERVICE_URL`).
    pub services: ServiceUrls,
    /// `GATEWAY_ROUTES` (`pattern=url|url…,…`), default: every service at its `*_SERVICE_URL`.
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
    /// `CLIENT_IDLE_TIMEOUT`, default `75s`: a client connection with no request in flight
    /// (kept alive, or sending a head too slowly) is closed after it, within a quarter more.
    pub client_idle_timeout: Duration,
    /// `TRUSTED_PROXIES`, default none: the addresses and networks of the proxies in front
    /// of the gateway (nginx's), e.g. `127.0.0.1/32,10.0.0.0/8`. `X-Forwarded-For` is
    /// believed only on connections from them, and only as far as their own entries go.
    pub trusted_proxies: TrustedProxies,
    /// `RATE_LIMIT_ANON`, `RATE_LIMIT_USER`, `RATE_LIMIT_LOGIN`, `RATE_LIMIT_WRITE`,
    /// `RATE_LIMIT_SYNC`.
    pub rate_limits: RateLimits,
    /// `POLICY_PUBSUB`, default `on`: reload the policy on rbac-service's messages (`off`
    /// leaves only the once-a-second version check, e.g. to test that path).
    pub policy_pubsub: bool,
    /// `SESSION_CACHE`, `SESSION_CACHE_HEARTBEAT`, `SESSION_CACHE_STALE_AFTER`,
    /// `SESSION_SLIDE_EVERY`: session state held in process.
    pub session_cache: CacheSettings,
    /// `DOCS_DIR`, default `docs`: the API docs page's assets (`npm ci` there installs them).
    pub docs_dir: std::path::PathBuf,
}

/// The base URLs of each service's replicas, separated by `|` or commas.
#[derive(Debug, Clone)]
pub struct ServiceUrls {
    /// `AUTH_SERVICE_URL`, default `http://127.0.0.1:8101` (also the JWKS).
    pub auth: String,
    /// `RBAC_SERVICE_URL`, default `http://127.0.0.1:8102` (also the policy and roles).
    pub rbac: String,
    /// `PAYMENT_SERVICE_URL`, default `http://127.0.0.1:8104`.
    pub payment: String,
    /// `RECOMMEND_SERVICE_URL`, default `http://127.0.0.1:8105`: trips, ratings,
    /// recommendations.
    pub recommend: String,
    /// `CHAT_SERVICE_URL`, default `http://127.0.0.1:8103` (REST and the chat socket).
    pub chat: String,
}

impl ServiceUrls {
    pub fn from_env() -> Self {
        Self {
            auth: config::string("AUTH_SERVICE_URL", "http://127.0.0.1:8101"),
            rbac: config::string("RBAC_SERVICE_URL", "http://127.0.0.1:8102"),
            payment: config::string("PAYMENT_SERVICE_URL", "http://127.0.0.1:8104"),
            recommend: config::string("RECOMMEND_SERVICE_URL", "http://127.0.0.1:8105"),
            chat: config::string("CHAT_SERVICE_URL", "http://127.0.0.1:8103"),
        }
    }
}

fn rate(name: &str, default: &str) -> Result<Option<Rate>, ConfigError> {
    Rate::parse(&config::string(name, default)).map_err(|err| ConfigError::new(name, err))
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let services = ServiceUrls::from_env();
        let routes = match config::raw("GATEWAY_ROUTES") {
            Some(text) => parse_routes(&text)
                .map_err(|err| ConfigError::new("GATEWAY_ROUTES", err.to_string()))?,
            None => default_routes(&services),
        };
        Ok(Self {
            server: ServerSettings::from_env("127.0.0.1:8000")?,
            services,
            routes,
            jwt_issuer: config::string("JWT_ISSUER", shared::token::DEFAULT_ISSUER),
            jwt_audience: config::string("JWT_AUDIENCE", shared::token::DEFAULT_AUDIENCE),
            jwt_leeway: config::duration("JWT_LEEWAY", Duration::from_secs(30))?,
            jwks_refresh_interval: config::duration(
                "JWKS_REFRESH_INTERVAL",
                Duration::from_secs(300),
            )?,
            upstream_timeout: config::duration("UPSTREAM_TIMEOUT", Duration::from_secs(30))?,
            client_idle_timeout: config::duration("CLIENT_IDLE_TIMEOUT", KEEP_ALIVE)?,
            trusted_proxies: config::var("TRUSTED_PROXIES", TrustedProxies::none())?,
            rate_limits: RateLimits {
                anon: rate("RATE_LIMIT_ANON", "300/min")?,
                user: rate("RATE_LIMIT_USER", "1200/min")?,
                login: rate("RATE_LIMIT_LOGIN", "30/min")?,
                write: rate("RATE_LIMIT_WRITE", "300/min")?,
                sync: rate_limit_sync()?,
            },
            policy_pubsub: !config::string("POLICY_PUBSUB", "on").eq_ignore_ascii_case("off"),
            session_cache: session_cache()?,
            docs_dir: config::var("DOCS_DIR", std::path::PathBuf::from("docs"))?,
        })
    }
}

/// `RATE_LIMIT_SYNC`: a duration, or `off` (every request counted in Redis).
fn rate_limit_sync() -> Result<Option<Duration>, ConfigError> {
    let name = "RATE_LIMIT_SYNC";
    if config::string(name, "").trim().eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let interval = config::duration(name, crate::ratelimit::DEFAULT_SYNC)?;
    if interval.is_zero() {
        return Err(ConfigError::new(
            name,
            "must be positive, or off".to_owned(),
        ));
    }
    Ok(Some(interval))
}

fn session_cache() -> Result<CacheSettings, ConfigError> {
    let default = CacheSettings::default();
    Ok(CacheSettings {
        enabled: !config::string("SESSION_CACHE", "on").eq_ignore_ascii_case("off"),
        heartbeat: config::duration("SESSION_CACHE_HEARTBEAT", default.heartbeat)?,
        stale_after: config::duration("SESSION_CACHE_STALE_AFTER", default.stale_after)?,
        slide_every: config::duration("SESSION_SLIDE_EVERY", default.slide_every)?,
    })
}

/// The routes of every service, each at its configured URL.
pub fn default_routes(urls: &ServiceUrls) -> Vec<RouteEntry> {
    [
        ("/v1/auth/*", &urls.auth),
        ("/v1/users/*", &urls.auth),
        ("/v1/users/{id}/roles", &urls.rbac),
        ("/v1/users/{id}/roles/{role_id}", &urls.rbac),
        ("/v1/resources/*", &urls.rbac),
        ("/v1/permissions/*", &urls.rbac),
        ("/v1/roles/*", &urls.rbac),
        ("/v1/orders/*", &urls.payment),
        ("/v1/payments/*", &urls.payment),
        ("/v1/trips/*", &urls.recommend),
        ("/v1/ratings/*", &urls.recommend),
        ("/v1/recommendations/*", &urls.recommend),
        ("/v1/chat/*", &urls.chat),
    ]
    .into_iter()
    .map(|(pattern, upstream)| RouteEntry {
        pattern: pattern.to_owned(),
        upstream: upstream.clone(),
    })
    .collect()
}
