//! payment-service settings, from environment variables (all listed in the README).

use std::path::{Path, PathBuf};
use std::time::Duration;

use shared::config::{self, ConfigError, DatabaseSettings, Secret, ServerSettings};

#[derive(Debug, Clone)]
pub struct Settings {
    /// `BIND_ADDR` (default `127.0.0.1:8104`), `METRICS_ADDR`, `OTEL_*`, `WORKERS`, `REDIS_*`,
    /// `WAYPOINT_INTERNAL_TOKEN`.
    pub server: ServerSettings,
    /// `DATABASE_URL` (default `sqlite://data/payment.db`), `DATABASE_POOL_SIZE`.
    pub database: DatabaseSettings,
    /// `RECOMMEND_SERVICE_URL`, default `http://127.0.0.1:8105`: trip prices, purchase signals.
    pub recommend_service_url: String,
    pub orders: OrderSettings,
    /// `None` when no Alipay keys are configured: paying then answers 503.
    pub alipay: Option<AlipaySettings>,
}

#[derive(Debug, Clone)]
pub struct OrderSettings {
    /// `ORDER_PAYMENT_TIMEOUT`, default `30m`: an unpaid order closes itself after this.
    pub payment_timeout: Duration,
    /// `ORDER_RECONCILE_AFTER`, default `3m`: a pending order this old is asked about at
    /// Alipay (`alipay.trade.query`), at most once per this interval.
    pub reconcile_after: Duration,
    /// `ORDER_JOBS_INTERVAL`, default `30s`: how often auto-close, reconciliation and the
    /// purchase-signal outbox run.
    pub jobs_interval: Duration,
    /// `ORDER_MAX_QUANTITY`, default 20.
    pub max_quantity: i32,
}

#[derive(Debug, Clone)]
pub struct AlipaySettings {
    /// `ALIPAY_APP_ID`.
    pub app_id: String,
    /// `ALIPAY_SELLER_ID`: the merchant's Alipay user id (2088…).
    pub seller_id: String,
    /// `ALIPAY_APP_PRIVATE_KEY` (PEM, PKCS#8 or PKCS#1), else the file
    /// `ALIPAY_APP_PRIVATE_KEY_FILE` (default `data/alipay/app-private.pem`).
    pub app_private_key_pem: Secret,
    /// `ALIPAY_PUBLIC_KEY` (PEM or bare base64), else the file `ALIPAY_PUBLIC_KEY_FILE`
    /// (default `data/alipay/alipay-public.pem`).
    pub alipay_public_key_pem: String,
    /// `ALIPAY_GATEWAY_URL`, default `http://127.0.0.1:8106/gateway.do` (the fake Alipay of
    /// `cargo xtask up`); the sandbox is `https://openapi-sandbox.dl.alipaydev.com/gateway.do`.
    pub gateway_url: String,
    /// `ALIPAY_NOTIFY_URL`, default `http://127.0.0.1:8080/v1/payments/alipay/notify`.
    pub notify_url: String,
    /// `ALIPAY_RETURN_URL`, default `http://127.0.0.1:8080/v1/payments/alipay/return`.
    pub return_url: String,
    /// `ALIPAY_TIMEOUT`, default `10s`: bound on each call to the gateway.
    pub timeout: Duration,
}

/// Test-only defaults for local runs against the fake Alipay.
pub const DEFAULT_APP_ID: &str = "2021000000000001";
pub const DEFAULT_SELLER_ID: &str = "2088000000000001";

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let data = config::data_dir();
        Ok(Self {
            server: ServerSettings::from_env("127.0.0.1:8104")?,
            database: DatabaseSettings::from_env("payment.db")?,
            recommend_service_url: config::string("RECOMMEND_SERVICE_URL", "http://127.0.0.1:8105"),
            orders: OrderSettings {
                payment_timeout: config::duration(
                    "ORDER_PAYMENT_TIMEOUT",
                    Duration::from_secs(30 * 60),
                )?,
                reconcile_after: config::duration(
                    "ORDER_RECONCILE_AFTER",
                    Duration::from_secs(3 * 60),
                )?,
                jobs_interval: config::duration("ORDER_JOBS_INTERVAL", Duration::from_secs(30))?,
                max_quantity: config::var("ORDER_MAX_QUANTITY", 20)?,
            },
            alipay: AlipaySettings::from_env(&data.join("alipay"))?,
        })
    }
}

impl AlipaySettings {
    fn from_env(key_dir: &Path) -> Result<Option<Self>, ConfigError> {
        let private = key_from_env_or_file(
            "ALIPAY_APP_PRIVATE_KEY",
            "ALIPAY_APP_PRIVATE_KEY_FILE",
            key_dir.join("app-private.pem"),
        )?;
        let public = key_from_env_or_file(
            "ALIPAY_PUBLIC_KEY",
            "ALIPAY_PUBLIC_KEY_FILE",
            key_dir.join("alipay-public.pem"),
        )?;
        let (Some(private), Some(public)) = (private, public) else {
            return Ok(None);
        };
        Ok(Some(Self {
            app_id: config::string("ALIPAY_APP_ID", DEFAULT_APP_ID),
            seller_id: config::string("ALIPAY_SELLER_ID", DEFAULT_SELLER_ID),
            app_private_key_pem: Secret::new(private),
            alipay_public_key_pem: public,
            gateway_url: config::string("ALIPAY_GATEWAY_URL", "http://127.0.0.1:8106/gateway.do"),
            notify_url: config::string(
                "ALIPAY_NOTIFY_URL",
                "http://127.0.0.1:8080/v1/payments/alipay/notify",
            ),
            return_url: config::string(
                "ALIPAY_RETURN_URL",
                "http://127.0.0.1:8080/v1/payments/alipay/return",
            ),
            timeout: config::duration("ALIPAY_TIMEOUT", Duration::from_secs(10))?,
        }))
    }
}

/// A key from variable `var`, else from the file `file_var` names (or `default_file`);
/// `None` when neither is there. A file named explicitly must exist.
fn key_from_env_or_file(
    var: &str,
    file_var: &str,
    default_file: PathBuf,
) -> Result<Option<String>, ConfigError> {
    if let Some(value) = config::raw(var) {
        return Ok(Some(value));
    }
    let explicit = config::raw(file_var);
    let path = explicit.clone().map(PathBuf::from).unwrap_or(default_file);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if explicit.is_none() && err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(ConfigError::new(
            file_var,
            format!("{}: {err}", path.display()),
        )),
    }
}
