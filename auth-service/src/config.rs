//! auth-service settings, from environment variables (all listed in the README).

use std::path::PathBuf;
use std::time::Duration;

use shared::config::{self, ConfigError, DatabaseSettings, Secret, ServerSettings};

#[derive(Debug, Clone)]
pub struct Settings {
    /// `BIND_ADDR` (default `127.0.0.1:8101`), `METRICS_ADDR`, `OTEL_*`, `WORKERS`, `REDIS_*`,
    /// `WAYPOINT_INTERNAL_TOKEN`.
    pub server: ServerSettings,
    /// `DATABASE_URL` (default `sqlite://data/auth.db`), `DATABASE_POOL_SIZE`.
    pub database: DatabaseSettings,
    pub jwt: JwtSettings,
    pub sessions: SessionSettings,
    pub throttle: ThrottleSettings,
    /// The first admin account, created at first start when both variables are set.
    pub admin: Option<AdminSettings>,
    /// WeChat sign-in; `None` (no `WECHAT_APPID`) turns its routes into 501s.
    pub wechat: Option<WeChatSettings>,
}

#[derive(Debug, Clone)]
pub struct JwtSettings {
    /// `JWT_PRIVATE_KEY`: the RSA private key as PEM (PKCS#8 or PKCS#1). Production.
    pub private_key_pem: Option<Secret>,
    /// `JWT_PRIVATE_KEY_FILE`, default `data/keys/jwt-private.pem`, generated when missing.
    pub private_key_file: PathBuf,
    /// `JWT_ISSUER`, default `waypoint-auth`.
    pub issuer: String,
    /// `JWT_AUDIENCE`, default `waypoint`.
    pub audience: String,
    /// `ACCESS_TOKEN_TTL`, default `15m`.
    pub access_token_ttl: Duration,
}

#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// `SESSION_IDLE_TIMEOUT`, default `30m`: a session unused this long ends.
    pub idle_timeout: Duration,
    /// `SESSION_ABSOLUTE_LIFETIME`, default `7d`: no session lives longer.
    pub absolute_lifetime: Duration,
    /// `SESSION_REFRESH_GRACE`, default `30s`: a refresh token just rotated still gets the
    /// same successor this long, while the successor is unused (a retry after a lost
    /// response is not a replay).
    pub refresh_grace: Duration,
}

#[derive(Debug, Clone)]
pub struct ThrottleSettings {
    /// `LOGIN_MAX_FAILURES_PER_ACCOUNT`, default 5 per window.
    pub max_failures_per_account: u32,
    /// `LOGIN_MAX_FAILURES_PER_IP`, default 20 per window.
    pub max_failures_per_ip: u32,
    /// `LOGIN_FAILURE_WINDOW`, default `15m`.
    pub window: Duration,
}

#[derive(Debug, Clone)]
pub struct AdminSettings {
    /// `WAYPOINT_ADMIN_ACCOUNT`.
    pub account: String,
    /// `WAYPOINT_ADMIN_PASSWORD`.
    pub password: Secret,
    /// `WAYPOINT_ADMIN_EMAIL`, default `<account>@waypoint.local`.
    pub email: String,
}

#[derive(Debug, Clone)]
pub struct WeChatSettings {
    /// `WECHAT_APPID`: the website application's AppID on the WeChat Open Platform.
    pub appid: String,
    /// `WECHAT_SECRET`: its AppSecret (required with the AppID; never logged).
    pub secret: Secret,
    /// `WECHAT_OPEN_BASE`, default `https://open.weixin.qq.com`: the QR connect page.
    pub open_base: String,
    /// `WECHAT_API_BASE`, default `https://api.weixin.qq.com`: code exchange and userinfo.
    pub api_base: String,
    /// `WECHAT_REDIRECT_URI`, default `http://127.0.0.1:8080/v1/auth/oauth/wechat/callback`:
    /// the public URL of the callback, as registered with WeChat. An `https` URI makes the
    /// state cookie `Secure`.
    pub redirect_uri: String,
    /// `WECHAT_TIMEOUT`, default `5s`: the limit on each call to WeChat.
    pub timeout: Duration,
}

impl WeChatSettings {
    /// `None` when `WECHAT_APPID` is unset; an error when it is set but unusable.
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        let Some(appid) = config::raw("WECHAT_APPID") else {
            return Ok(None);
        };
        let secret = config::raw("WECHAT_SECRET")
            .ok_or_else(|| ConfigError::new("WECHAT_SECRET", "must be set with WECHAT_APPID"))?;
        let url = |name: &str, default: &str| -> Result<String, ConfigError> {
            let value = config::string(name, default);
            let value = value.trim().trim_end_matches('/').to_owned();
            if value.starts_with("https://") || value.starts_with("http://") {
                Ok(value)
            } else {
                Err(ConfigError::new(
                    name,
                    format!("{value:?} is not an http(s) URL"),
                ))
            }
        };
        Ok(Some(Self {
            appid: appid.trim().to_owned(),
            secret: Secret::new(secret.trim()),
            open_base: url("WECHAT_OPEN_BASE", "https://open.weixin.qq.com")?,
            api_base: url("WECHAT_API_BASE", "https://api.weixin.qq.com")?,
            redirect_uri: url(
                "WECHAT_REDIRECT_URI",
                "http://127.0.0.1:8080/v1/auth/oauth/wechat/callback",
            )?,
            timeout: config::duration("WECHAT_TIMEOUT", Duration::from_secs(5))?,
        }))
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let data = config::data_dir();
        let admin = match (
            config::raw("WAYPOINT_ADMIN_ACCOUNT"),
            config::raw("WAYPOINT_ADMIN_PASSWORD"),
        ) {
            (Some(account), Some(password)) => Some(AdminSettings {
                email: config::string("WAYPOINT_ADMIN_EMAIL", &format!("{account}@waypoint.local")),
                account,
                password: Secret::new(password),
            }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "WAYPOINT_ADMIN_PASSWORD",
                    "must be set with WAYPOINT_ADMIN_ACCOUNT",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "WAYPOINT_ADMIN_ACCOUNT",
                    "must be set with WAYPOINT_ADMIN_PASSWORD",
                ));
            }
        };
        Ok(Self {
            server: ServerSettings::from_env("127.0.0.1:8101")?,
            database: DatabaseSettings::from_env("auth.db")?,
            jwt: JwtSettings {
                private_key_pem: config::raw("JWT_PRIVATE_KEY").map(Secret::new),
                private_key_file: config::var(
                    "JWT_PRIVATE_KEY_FILE",
                    data.join("keys").join("jwt-private.pem"),
                )?,
                issuer: config::string("JWT_ISSUER", shared::token::DEFAULT_ISSUER),
                audience: config::string("JWT_AUDIENCE", shared::token::DEFAULT_AUDIENCE),
                access_token_ttl: config::duration(
                    "ACCESS_TOKEN_TTL",
                    Duration::from_secs(15 * 60),
                )?,
            },
            sessions: SessionSettings {
                idle_timeout: config::duration(
                    "SESSION_IDLE_TIMEOUT",
                    Duration::from_secs(30 * 60),
                )?,
                absolute_lifetime: config::duration(
                    "SESSION_ABSOLUTE_LIFETIME",
                    Duration::from_secs(7 * 86_400),
                )?,
                refresh_grace: config::duration("SESSION_REFRESH_GRACE", Duration::from_secs(30))?,
            },
            throttle: ThrottleSettings {
                max_failures_per_account: config::var("LOGIN_MAX_FAILURES_PER_ACCOUNT", 5)?,
                max_failures_per_ip: config::var("LOGIN_MAX_FAILURES_PER_IP", 20)?,
                window: config::duration("LOGIN_FAILURE_WINDOW", Duration::from_secs(15 * 60))?,
            },
            admin,
            wechat: WeChatSettings::from_env()?,
        })
    }
}
