//! Command-line options: `--name value` pairs, each with a default.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Options {
    /// `--replicas`: base URLs of the chat-service replicas, comma-separated.
    pub replicas: Vec<String>,
    /// `--pids`: their process ids, for RSS (comma-separated, same order).
    pub pids: Vec<u32>,
    /// `--redis`: the Redis URL the replicas use.
    pub redis: String,
    /// `--prefix`: their `REDIS_KEY_PREFIX`.
    pub prefix: String,
    /// `--token`: their `WAYPOINT_INTERNAL_TOKEN`.
    pub token: String,
    /// `--connections`: sockets to hold (even: one traveller and one expert per pair).
    pub connections: usize,
    /// `--rate`: messages per second sent over all sockets.
    pub rate: f64,
    /// `--warmup` and `--duration`: seconds before and of measuring.
    pub warmup: Duration,
    pub duration: Duration,
    /// `--connect-concurrency`: handshakes in flight while connecting.
    pub connect_concurrency: usize,
    /// `--directory PORT`: only serve the fake directory on this port.
    pub directory_only: Option<u16>,
}

impl Options {
    pub fn from_args(args: impl Iterator<Item = String>) -> anyhow::Result<Self> {
        let mut options = Self {
            replicas: vec!["http://127.0.0.1:8103".into()],
            pids: Vec::new(),
            redis: "redis://127.0.0.1:6379".into(),
            prefix: "wp:".into(),
            token: String::new(),
            connections: 1_000,
            rate: 500.0,
            warmup: Duration::from_secs(5),
            duration: Duration::from_secs(20),
            connect_concurrency: 128,
            directory_only: None,
        };
        let args: Vec<String> = args.collect();
        for pair in args.chunks(2) {
            let [name, value] = pair else {
                anyhow::bail!("{} needs a value", pair[0]);
            };
            let list = || value.split(',').map(str::to_owned).collect::<Vec<_>>();
            match name.as_str() {
                "--replicas" => options.replicas = list(),
                "--pids" => {
                    options.pids = list().iter().map(|p| p.parse()).collect::<Result<_, _>>()?
                }
                "--redis" => options.redis = value.clone(),
                "--prefix" => options.prefix = value.clone(),
                "--token" => options.token = value.clone(),
                "--connections" => options.connections = value.parse()?,
                "--rate" => options.rate = value.parse()?,
                "--warmup" => options.warmup = Duration::from_secs_f64(value.parse()?),
                "--duration" => options.duration = Duration::from_secs_f64(value.parse()?),
                "--connect-concurrency" => options.connect_concurrency = value.parse()?,
                "--directory" => options.directory_only = Some(value.parse()?),
                other => anyhow::bail!("unknown option {other}"),
            }
        }
        anyhow::ensure!(options.connections >= 2, "--connections must be at least 2");
        anyhow::ensure!(!options.replicas.is_empty(), "--replicas is empty");
        Ok(options)
    }

    pub fn pairs(&self) -> usize {
        self.connections / 2
    }
}

/// Traveller `i` (1-based) and their expert.
pub fn traveller_id(i: usize) -> i64 {
    i as i64
}

pub fn expert_id(i: usize) -> i64 {
    1_000_000 + i as i64
}
