//! rbac-service settings, from environment variables (all listed in the README).

use shared::config::{self, ConfigError, DatabaseSettings, ServerSettings};

#[derive(Debug, Clone)]
pub struct Settings {
    /// `BIND_ADDR` (default `127.0.0.1:8102`), `METRICS_ADDR`, `OTEL_*`, `WORKERS`, `REDIS_*`,
    /// `WAYPOINT_INTERNAL_TOKEN`.
    pub server: ServerSettings,
    /// `DATABASE_URL` (default `sqlite://data/rbac.db`), `DATABASE_POOL_SIZE`.
    pub database: DatabaseSettings,
    /// `AUTH_SERVICE_URL`, default `http://127.0.0.1:8101`.
    pub auth_service_url: String,
    /// `WAYPOINT_ADMIN_ACCOUNT`: granted super_admin once auth-service has created it.
    pub admin_account: Option<String>,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            server: ServerSettings::from_env("127.0.0.1:8102")?,
            database: DatabaseSettings::from_env("rbac.db")?,
            auth_service_url: config::string("AUTH_SERVICE_URL", "http://127.0.0.1:8101"),
            admin_account: config::raw("WAYPOINT_ADMIN_ACCOUNT")
                .map(|a| a.trim().to_ascii_lowercase()),
        })
    }
}
