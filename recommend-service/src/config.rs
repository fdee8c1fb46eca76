//! recommend-service settings, from environment variables (all listed in the README).

use std::time::Duration;

use shared::config::{self, ConfigError, RedisSettings, Secret};

use crate::schedule::RebuildRule;

#[derive(Debug, Clone)]
pub struct Settings {
    /// `BIND_ADDR`, default `127.0.0.1:8105`.
    pub bind_addr: String,
    /// Where Prometheus scrapes this process (`METRICS_ADDR`); unset: no metrics listener.
    pub metrics_addr: Option<String>,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_SERVICE_NAME`: span export, off by default.
    pub otlp: shared::otel::OtlpSettings,
    /// `WORKERS`: HTTP worker threads, default the number of CPUs.
    pub workers: usize,
    /// `DATABASE_URL`, default `sqlite://data/recommend.db`.
    pub database_url: String,
    /// `DATABASE_POOL_SIZE`, default 8.
    pub database_pool_size: u32,
    pub redis: RedisSettings,
    /// `WAYPOINT_INTERNAL_TOKEN`, default generated under `data/internal-token`.
    pub internal_token: Secret,
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
        let data = config::data_dir();
        Ok(Self {
            bind_addr: config::string("BIND_ADDR", "127.0.0.1:8105"),
            metrics_addr: config::raw("METRICS_ADDR"),
            otlp: shared::otel::OtlpSettings::from_env(),
            workers: config::var(
                "WORKERS",
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )?,
            database_url: config::string(
                "DATABASE_URL",
                &format!("sqlite://{}", data.join("recommend.db").display()),
            ),
            database_pool_size: config::var("DATABASE_POOL_SIZE", 8)?,
            redis: RedisSettings::from_env()?,
            internal_token: config::internal_token()?,
            cache_ttl: config::duration("TRIP_CACHE_TTL", Duration::from_secs(600))?,
            model_rebuild: RebuildRule {
                check_every: config::duration("MODEL_REFRESH_INTERVAL", Duration::from_secs(2))?,
                spacing: config::var("MODEL_REBUILD_SPACING", 9)?,
            },
            min_profile: config::var("RECOMMEND_MIN_PROFILE", 3)?,
        })
    }
}
