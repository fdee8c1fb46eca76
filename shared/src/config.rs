//! Typed configuration from environment variables.
//!
//! Each service declares a `Settings` struct whose `from_env()` reads its variables through
//! these helpers, so a bad value fails start-up with the variable's name in the message.
//! Every variable has a default fit for a laptop; the README lists them all.

use std::fmt;
use std::io::{ErrorKind as IoErrorKind, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// A configuration variable that could not be used, named so the operator can fix it.
#[derive(Debug, thiserror::Error)]
#[error("configuration variable {var}: {message}")]
pub struct ConfigError {
    pub var: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(var: &str, message: impl Into<String>) -> Self {
        Self {
            var: var.to_owned(),
            message: message.into(),
        }
    }
}

/// The raw value of `name`, or `None` when unset or empty.
pub fn raw(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

/// `name` parsed as `T`, or `default` when unset.
pub fn var<T>(name: &str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    Ok(var_opt(name)?.unwrap_or(default))
}

/// `name` parsed as `T`, or `None` when unset.
pub fn var_opt<T>(name: &str) -> Result<Option<T>, ConfigError>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    raw(name)
        .map(|value| {
            value
                .trim()
                .parse()
                .map_err(|err| ConfigError::new(name, format!("{value:?} is not valid: {err}")))
        })
        .transpose()
}

/// A string variable with a default.
pub fn string(name: &str, default: &str) -> String {
    raw(name).unwrap_or_else(|| default.to_owned())
}

/// A duration such as `200ms`, `30s`, `15m`, `2h` or `7d` (a bare number is seconds).
pub fn duration(name: &str, default: Duration) -> Result<Duration, ConfigError> {
    match raw(name) {
        None => Ok(default),
        Some(value) => parse_duration(&value).map_err(|message| ConfigError::new(name, message)),
    }
}

pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{value:?} is not a duration like 200ms, 30s, 15m, 2h or 7d"))?;
    let millis = match unit.trim() {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        other => return Err(format!("unknown duration unit {other:?} in {value:?}")),
    };
    number
        .checked_mul(millis)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("{value:?} is too large"))
}

/// A value that must not be printed: `Debug` and `Display` show `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The directory for local state (SQLite files, generated keys, Redis data).
pub fn data_dir() -> PathBuf {
    PathBuf::from(string("WAYPOINT_DATA_DIR", "data"))
}

/// A secret from `name`, or else from `file`, generating a random one there on first use.
///
/// Local runs need no secrets in the repository: every process started from the same
/// checkout finds the same generated file under `./data/`. Production sets the variable.
pub fn secret_from_env_or_file(name: &str, file: &Path) -> Result<Secret, ConfigError> {
    if let Some(value) = raw(name) {
        return Ok(Secret(value.trim().to_owned()));
    }
    let generated = crate::random::token_hex(32);
    write_once(file, generated.as_bytes())
        .and_then(|_| std::fs::read_to_string(file))
        .map(|value| Secret(value.trim().to_owned()))
        .map_err(|err| ConfigError::new(name, format!("unset, and {}: {err}", file.display())))
}

/// Writes `contents` to `path` unless it already exists, atomically: concurrent starters
/// either create the complete file or find the one another process created.
pub fn write_once(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut temp = tempfile_in(dir)?;
    temp.1.write_all(contents)?;
    temp.1.sync_all()?;
    let result = std::fs::hard_link(&temp.0, path);
    let _ = std::fs::remove_file(&temp.0);
    match result {
        Err(err) if err.kind() != IoErrorKind::AlreadyExists => Err(err),
        _ => Ok(()),
    }
}

fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(format!(".tmp-{}", crate::random::token_hex(8)));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    Ok((path, file))
}

/// Connection settings for the shared Redis.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `REDIS_URL`, default `redis://127.0.0.1:6379`; unused when `sentinel` is set.
    pub url: String,
    /// `REDIS_TIMEOUT` for connecting and for each reply, default `200ms`.
    pub timeout: Duration,
    /// `REDIS_KEY_PREFIX`, default `wp:`; every key and channel starts with it.
    pub key_prefix: String,
    /// Set by `REDIS_SENTINELS`: the master is whichever the sentinels name.
    pub sentinel: Option<SentinelSettings>,
}

/// Where the sentinels are and what they call the master.
#[derive(Debug, Clone)]
pub struct SentinelSettings {
    /// `REDIS_SENTINELS`: `host:port`, comma-separated.
    pub addresses: Vec<String>,
    /// `REDIS_MASTER_NAME`, default `waypoint`.
    pub master_name: String,
    /// `REDIS_REPLICA_WAIT`, default `100ms`, shorter than `REDIS_TIMEOUT`: how long a
    /// session write waits for a replica to acknowledge it (`WAIT 1`); zero does not wait.
    pub replica_wait: Duration,
}

impl RedisSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let timeout = duration("REDIS_TIMEOUT", Duration::from_millis(200))?;
        let sentinel = match raw("REDIS_SENTINELS") {
            None => None,
            Some(list) => Some(SentinelSettings {
                addresses: parse_sentinels(&list)
                    .map_err(|message| ConfigError::new("REDIS_SENTINELS", message))?,
                master_name: string("REDIS_MASTER_NAME", "waypoint"),
                replica_wait: duration("REDIS_REPLICA_WAIT", Duration::from_millis(100))?,
            }),
        };
        // WAIT is one command: its reply must come within the command timeout.
        if sentinel.as_ref().is_some_and(|s| s.replica_wait >= timeout) {
            return Err(ConfigError::new(
                "REDIS_REPLICA_WAIT",
                "must be shorter than REDIS_TIMEOUT",
            ));
        }
        Ok(Self {
            url: string("REDIS_URL", "redis://127.0.0.1:6379"),
            timeout,
            key_prefix: string("REDIS_KEY_PREFIX", "wp:"),
            sentinel,
        })
    }
}

/// `host:port,host:port`: every entry needs its port (a sentinel's is not Redis' 6379).
fn parse_sentinels(list: &str) -> Result<Vec<String>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| match entry.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                Ok(entry.to_owned())
            }
            _ => Err(format!("{entry:?} is not host:port")),
        })
        .collect::<Result<Vec<_>, _>>()
        .and_then(|addresses| {
            if addresses.is_empty() {
                Err("no sentinel listed".into())
            } else {
                Ok(addresses)
            }
        })
}

/// What every part reads the same way: where it listens and is scraped, where its spans go,
/// how many workers it runs, its Redis and the internal token.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// `BIND_ADDR`; each part has its own default port.
    pub bind_addr: String,
    /// `METRICS_ADDR`: where Prometheus scrapes this process; unset: no metrics listener.
    pub metrics_addr: Option<String>,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_SERVICE_NAME`: span export, off by default.
    pub otlp: crate::otel::OtlpSettings,
    /// `WORKERS`: HTTP worker threads, default the number of CPUs.
    pub workers: usize,
    pub redis: RedisSettings,
    /// `WAYPOINT_INTERNAL_TOKEN`, default generated under `data/internal-token`.
    pub internal_token: Secret,
}

impl ServerSettings {
    pub fn from_env(default_bind_addr: &str) -> Result<Self, ConfigError> {
        Ok(Self {
            bind_addr: string("BIND_ADDR", default_bind_addr),
            metrics_addr: raw("METRICS_ADDR"),
            otlp: crate::otel::OtlpSettings::from_env(),
            workers: var(
                "WORKERS",
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )?,
            redis: RedisSettings::from_env()?,
            internal_token: internal_token()?,
        })
    }

    /// A test's part: on a free loopback port, metrics on another, one worker, no spans.
    pub fn local(redis: &RedisSettings, internal_token: &str) -> Self {
        Self {
            bind_addr: "127.0.0.1:0".into(),
            metrics_addr: Some("127.0.0.1:0".into()),
            otlp: Default::default(),
            workers: 1,
            redis: redis.clone(),
            internal_token: Secret::new(internal_token),
        }
    }
}

/// Where a service keeps its rows.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `DATABASE_URL`, default a SQLite file under the data directory.
    pub url: String,
    /// `DATABASE_POOL_SIZE`, default 8.
    pub pool_size: u32,
}

impl DatabaseSettings {
    /// `default_file`: the SQLite file under `WAYPOINT_DATA_DIR` used when `DATABASE_URL`
    /// is unset, e.g. `auth.db`.
    pub fn from_env(default_file: &str) -> Result<Self, ConfigError> {
        Ok(Self {
            url: string(
                "DATABASE_URL",
                &format!("sqlite://{}", data_dir().join(default_file).display()),
            ),
            pool_size: var("DATABASE_POOL_SIZE", 8)?,
        })
    }

    /// A test's database: `url`, with a small pool.
    pub fn local(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            pool_size: 4,
        }
    }
}

/// The token the gateway presents to services, which vouches for its identity headers.
pub fn internal_token() -> Result<Secret, ConfigError> {
    secret_from_env_or_file(
        "WAYPOINT_INTERNAL_TOKEN",
        &data_dir().join("internal-token"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_the_documented_units() {
        let cases = [
            ("200ms", 200),
            ("30", 30_000),
            ("30s", 30_000),
            ("15m", 900_000),
            ("2h", 7_200_000),
            ("7d", 604_800_000),
        ];
        for (text, millis) in cases {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(millis)),
                "{text}"
            );
        }
    }

    #[test]
    fn durations_reject_unknown_units_and_garbage() {
        for text in ["10 years", "abc", "-5s", "5w", ""] {
            assert!(parse_duration(text).is_err(), "{text} should be rejected");
        }
    }

    #[test]
    fn sentinel_lists_need_a_port_on_every_entry() {
        assert_eq!(
            parse_sentinels(" 10.0.0.1:26379, sentinel-b:26380 ,"),
            Ok(vec!["10.0.0.1:26379".into(), "sentinel-b:26380".into()])
        );
        for list in [
            ",",
            "10.0.0.1",
            "10.0.0.1:26379,sentinel-b",
            ":26379",
            "host:port",
        ] {
            assert!(parse_sentinels(list).is_err(), "{list} should be rejected");
        }
    }

    #[test]
    fn secrets_never_print_their_value() {
        let secret = Secret::new("hunter2-hunter2");
        assert_eq!(format!("{secret:?} {secret}"), "[redacted] [redacted]");
    }

    #[test]
    fn write_once_keeps_the_first_value() {
        let dir = std::env::temp_dir().join(format!("wp-config-{}", crate::random::token_hex(6)));
        let path = dir.join("token");
        write_once(&path, b"first").unwrap();
        write_once(&path, b"second").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "first");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
