//! rbac-service settings, from environment variables (all listed in the README).

use shared::config::{self, ConfigError, RedisSettings, Secret};

#[derive(Debug, Clone)]
pub struct Settings {
    /// `BIND_ADDR`, default `127.0.0.1:8102`.
    pub bind_addr: String,
    /// Where Prometheus scrapes this process (`METRICS_ADDR`); unset: no metrics listener.
    pub metrics_addr: Option<String>,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_SERVICE_NAME`: span export, off by default.
    pub otlp: shared::otel::OtlpSettings,
    /// `WORKERS`: HTTP worker threads, default the number of CPUs.
    pub workers: usize,
    /// `DATABASE_URL`, default `sqlite://data/rbac.db`.
    pub database_url: String,
    /// `DATABASE_POOL_SIZE`, default 8.
    pub database_pool_size: u32,
    pub redis: RedisSettings,
    /// `WAYPOINT_INTERNAL_TOKEN`, default generated under `data/internal-token`.
    pub internal_token: Secret,
    /// `AUTH_SERVICE_URL`, default `http://127.0.0.1:8101`.
    pub auth_service_url: String,
    /// `WAYPOINT_ADMIN_ACCOUNT`: granted super_admin once auth-service has created it.
    pub admin_account: Option<String>,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let data = config::data_dir();
        Ok(Self {
            bind_addr: config::string("BIND_ADDR", "127.0.0.1:8102"),
            metrics_addr: config::raw("METRICS_ADDR"),
            otlp: shared::otel::OtlpSettings::from_env(),
            workers: config::var(
                "WORKERS",
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )?,
            database_url: config::string(
                "DATABASE_URL",
                &format!("sqlite://{}", data.join("rbac.db").display()),
            ),
            database_pool_size: config::var("DATABASE_POOL_SIZE", 8)?,
            redis: RedisSettings::from_env()?,
            internal_token: config::internal_token()?,
            auth_service_url: config::string("AUTH_SERVICE_URL", "http://127.0.0.1:8101"),
            admin_account: config::raw("WAYPOINT_ADMIN_ACCOUNT")
                .map(|a| a.trim().to_ascii_lowercase()),
        })
    }
}
