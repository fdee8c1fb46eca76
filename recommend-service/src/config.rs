//! recommend-service settings, from environment variables (all listed in the README).

use std::time::Duration;

use shared::config::{self, ConfigError, DatabaseSettings, ServerSettings};

use crate::schedule::RebuildRule;

#[derive(Debug, Clone)]
pub struct Settings {
    /// `BIND_ADDR` (default `127.0.0.1:8105`), `METRICS_ADDR`, `OTEL_*`, `WORKERS`, `REDIS_*`,
    /// `WAYPOINT_INTERNAL_TOKEN`.
    pub server: ServerSettings,
    /// `DATABASE_URL` (default `sqlite://data/recommend.db`), `DATABASE_POOL_SIZE`.
    pub database: DatabaseSettings,
    /// `TRIP_CACHE_TTL`, default `10m`: how long a cached trip (or invalidation marker)
    /// lives in Redis.
    pub cache_ttl: Duration,
    /// `MODEL_REFRESH_INTERVAL`, default `2s`: how often this replica checks whether
    /// ratings or signals changed (here or on another replica) and rebuilds its model;
    /// `MODEL_REBUILD_SPACING`, default 9: a rebuild starts no sooner than this many
    /// times the previous one's duration after it ended (fitting ≤ 1/(1+9) of a core).
    pub model_rebuild: RebuildRule,
    /// `RECOMMEND_MIN_PROFILE`, default 3: users with fewer ratings and signals get the
    /// popularity list (cold start).
    pub min_profile: usize,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            server: ServerSettings::from_env("127.0.0.1:8105")?,
            database: DatabaseSettings::from_env("recommend.db")?,
            cache_ttl: config::duration("TRIP_CACHE_TTL", Duration::from_secs(600))?,
            model_rebuild: RebuildRule {
                check_every: config::duration("MODEL_REFRESH_INTERVAL", Duration::from_secs(2))?,
                spacing: config::var("MODEL_REBUILD_SPACING", 9)?,
            },
            min_profile: config::var("RECOMMEND_MIN_PROFILE", 3)?,
        })
    }
}
