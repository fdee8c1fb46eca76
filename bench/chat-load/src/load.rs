//! Setting up users, conversations and sockets, then the measured run.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use shared::session::{self, NewSession};
use tokio::sync::{Semaphore, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::options::{Options, expert_id, traveller_id};
use crate::stats::Stats;

pub struct Report {
    pub connected: usize,
    pub failed_connects: usize,
    pub connect_time: Duration,
    pub server_sockets: Vec<i64>,
    pub window: Duration,
    pub sent: u64,
    pub acked: u64,
    pub delivered: u64,
    pub errors: u64,
    pub closed: u64,
    pub p50: Duration,
    pub p99: Duration,
    pub p999: Duration,
    /// Per replica: (VmRSS, VmHWM) in KiB.
    pub rss: Vec<(u64, u64)>,
}

struct Shared {
    options: Options,
    http: reqwest::Client,
    stats: Stats,
    /// The clock messages carry their send time on.
    base: Instant,
    go: watch::Receiver<bool>,
}

pub async fn run(options: &Options) -> anyhow::Result<Report> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(30))
        .build()?;
    let pairs = options.pairs();
    eprintln!("chat-load: writing {} sessions", pairs * 2);
    write_sessions(options, pairs).await?;
    eprintln!("chat-load: opening {pairs} conversations");
    let conversations = open_conversations(options, &http, pairs).await?;

    let (go_tx, go) = watch::channel(false);
    let shared = Arc::new(Shared {
        options: options.clone(),
        http,
        stats: Stats::new(),
        base: Instant::now(),
        go,
    });
    eprintln!("chat-load: connecting {} sockets", pairs * 2);
    let started = Instant::now();
    let permits = Arc::new(Semaphore::new(options.connect_concurrency));
    for (i, conversation) in conversations.iter().enumerate() {
        let pair = i + 1;
        let replicas = &options.replicas;
        let users = [
            (traveller_id(pair), &replicas[0]),
            (expert_id(pair), &replicas[1 % replicas.len()]),
        ];
        for (user, replica) in users {
            let permit = permits.clone().acquire_owned().await?;
            tokio::spawn(socket(
                shared.clone(),
                user,
                replica.clone(),
                *conversation,
                permit,
            ));
        }
    }
    let total = pairs * 2;
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut last_print = Instant::now();
    loop {
        let connected = shared.stats.connected.load(Ordering::Relaxed);
        let failed = shared.stats.failed_connects.load(Ordering::Relaxed);
        if connected + failed >= total || Instant::now() > deadline {
            break;
        }
        if last_print.elapsed() > Duration::from_secs(2) {
            eprintln!("chat-load: {connected} connected, {failed} failed");
            last_print = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let connect_time = started.elapsed();
    eprintln!(
        "chat-load: {} connected in {:.1}s; sending {} msg/s",
        shared.stats.connected.load(Ordering::Relaxed),
        connect_time.as_secs_f64(),
        options.rate
    );

    go_tx.send(true)?;
    tokio::time::sleep(options.warmup).await;
    shared.stats.measuring.store(true, Ordering::Relaxed);
    let window_start = Instant::now();
    tokio::time::sleep(options.duration).await;
    shared.stats.measuring.store(false, Ordering::Relaxed);
    let window = window_start.elapsed();

    let mut server_sockets = Vec::new();
    for replica in &options.replicas {
        server_sockets.push(server_socket_count(&shared, replica).await.unwrap_or(-1));
    }
    let stats = &shared.stats;
    Ok(Report {
        connected: stats.connected.load(Ordering::Relaxed),
        failed_connects: stats.failed_connects.load(Ordering::Relaxed),
        connect_time,
        server_sockets,
        window,
        sent: stats.sent.load(Ordering::Relaxed),
        acked: stats.acked.load(Ordering::Relaxed),
        delivered: stats.delivered.load(Ordering::Relaxed),
        errors: stats.errors.load(Ordering::Relaxed),
        closed: stats.closed.load(Ordering::Relaxed),
        p50: stats.percentile(0.50),
        p99: stats.percentile(0.99),
        p999: stats.percentile(0.999),
        rss: options.pids.iter().map(|pid| rss(*pid)).collect(),
    })
}

impl Report {
    pub fn print(&self, options: &Options) {
        let secs = self.window.as_secs_f64();
        let mib = |kib: u64| kib as f64 / 1024.0;
        println!(
            "connections held     {} of {} ({} failed to connect, {} closed during the run)",
            self.connected as u64 - self.closed,
            options.connections,
            self.failed_connects,
            self.closed
        );
        println!(
            "  per replica        {:?} (as the replicas count them)",
            self.server_sockets
        );
        println!(
            "  connect time       {:.1} s",
            self.connect_time.as_secs_f64()
        );
        println!("offered rate         {:.0} msg/s", options.rate);
        println!(
            "sent                 {:.0} msg/s ({} acked, {} errors)",
            self.sent as f64 / secs,
            self.acked,
            self.errors
        );
        println!(
            "delivered            {:.0} msg/s over {:.0} s",
            self.delivered as f64 / secs,
            secs
        );
        println!(
            "delivery latency     p50 {:.1} ms   p99 {:.1} ms   p99.9 {:.1} ms",
            ms(self.p50),
            ms(self.p99),
            ms(self.p999)
        );
        for (i, (rss, hwm)) in self.rss.iter().enumerate() {
            println!(
                "replica {} RSS         {:.0} MiB (peak {:.0} MiB)",
                i + 1,
                mib(*rss),
                mib(*hwm)
            );
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Sessions as auth-service writes them ([`shared::session`]), valid for a day.
async fn write_sessions(options: &Options, pairs: usize) -> anyhow::Result<()> {
    let client = redis::Client::open(options.redis.as_str())?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let day = 86_400_000_i64;
    let users: Vec<i64> = (1..=pairs)
        .flat_map(|i| [traveller_id(i), expert_id(i)])
        .collect();
    for chunk in users.chunks(1_000) {
        let mut pipe = redis::pipe();
        for user in chunk {
            let key = format!("{}{}", options.prefix, session::key(session_id(*user)));
            let new = NewSession {
                user_id: *user,
                now_ms: shared::time::now_millis(),
                idle_ms: day,
                absolute_lifetime_ms: day,
                user_agent: "chat-load",
                ip: "127.0.0.1",
                refresh_secret: "unused",
            };
            pipe.hset_multiple(&key, &new.fields())
                .ignore()
                .pexpire(&key, new.ttl_ms())
                .ignore();
        }
        pipe.query_async::<()>(&mut conn).await?;
    }
    Ok(())
}

fn session_id(user: i64) -> String {
    format!("{user:032x}")
}

fn as_gateway(
    request: reqwest::RequestBuilder,
    options: &Options,
    user: i64,
) -> reqwest::RequestBuilder {
    request
        .header("x-waypoint-internal", &options.token)
        .header("x-user-id", user.to_string())
        .header("x-session-id", session_id(user))
}

async fn open_conversations(
    options: &Options,
    http: &reqwest::Client,
    pairs: usize,
) -> anyhow::Result<Vec<i64>> {
    let url = format!("{}/v1/chat/conversations", options.replicas[0]);
    let requests = (1..=pairs).map(|i| {
        let request = as_gateway(http.post(&url), options, traveller_id(i))
            .json(&json!({ "expert_id": expert_id(i) }));
        async move {
            let response = request.send().await?;
            let status = response.status();
            let body: Value = response.json().await?;
            anyhow::ensure!(
                status.is_success(),
                "opening a conversation: {status} {body}"
            );
            body["id"]
                .as_i64()
                .ok_or_else(|| anyhow::anyhow!("no id in {body}"))
        }
    });
    futures_util::stream::iter(requests)
        .buffered(64)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

async fn server_socket_count(shared: &Shared, replica: &str) -> anyhow::Result<i64> {
    let response = shared
        .http
        .get(format!("{replica}/internal/chat/stats"))
        .header("x-waypoint-internal", &shared.options.token)
        .send()
        .await?;
    let body: Value = response.json().await?;
    body["sockets"]
        .as_i64()
        .ok_or_else(|| anyhow::anyhow!("no socket count"))
}

fn rss(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    sender_id: Option<i64>,
    #[serde(borrow)]
    body: Option<Cow<'a, str>>,
}

/// One user's socket: connect, then send at the per-socket rate and time the peer's
/// messages.
async fn socket(
    shared: Arc<Shared>,
    user: i64,
    replica: String,
    conversation: i64,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    let stats = &shared.stats;
    let mut ws = match connect(&shared, user, &replica).await {
        Ok(ws) => ws,
        Err(err) => {
            eprintln!("chat-load: user {user}: {err}");
            stats.failed_connects.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    drop(permit);
    stats.connected.fetch_add(1, Ordering::Relaxed);

    let mut go = shared.go.clone();
    while !*go.borrow() {
        tokio::select! {
            changed = go.changed() => if changed.is_err() { return },
            // Keep reading meanwhile: pings are answered on read.
            frame = ws.next() => if !matches!(frame, Some(Ok(_))) {
                Stats::count(&stats.closed);
                return;
            },
        }
    }
    let options = &shared.options;
    let period = Duration::from_secs_f64(options.connections as f64 / options.rate);
    // Spread the sockets' sends evenly over the period.
    let offset = period.mul_f64((user as u64).wrapping_mul(2_654_435_761) as f64 % 1e6 / 1e6);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut seq = 0_u64;
    loop {
        let step = tokio::select! {
            frame = ws.next() => Some(frame),
            _ = tick.tick() => None,
        };
        match step {
            None => {
                seq += 1;
                let frame = json!({
                    "type": "send",
                    "conversation_id": conversation,
                    "body": shared.base.elapsed().as_nanos().to_string(),
                    "client_msg_id": format!("{user}-{seq}"),
                });
                if ws.send(Message::text(frame.to_string())).await.is_err() {
                    Stats::count(&stats.closed);
                    return;
                }
                if stats.measuring() {
                    Stats::count(&stats.sent);
                }
            }
            Some(Some(Ok(Message::Text(text)))) => on_frame(&shared, user, &text),
            Some(Some(Ok(Message::Close(_)))) | Some(Some(Err(_))) | Some(None) => {
                Stats::count(&stats.closed);
                return;
            }
            Some(Some(Ok(_))) => {}
        }
    }
}

fn on_frame(shared: &Shared, user: i64, text: &str) {
    let stats = &shared.stats;
    let Ok(frame) = serde_json::from_str::<Frame>(text) else {
        return;
    };
    if !stats.measuring() {
        return;
    }
    match frame.kind.as_ref() {
        "ack" => Stats::count(&stats.acked),
        "error" => Stats::count(&stats.errors),
        "message" if frame.sender_id != Some(user) => {
            let sent = frame.body.and_then(|b| b.parse::<u64>().ok());
            if let Some(sent) = sent {
                let now = shared.base.elapsed().as_nanos() as u64;
                stats.record_delivery(Duration::from_nanos(now.saturating_sub(sent)));
            }
        }
        _ => {}
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(shared: &Shared, user: i64, replica: &str) -> anyhow::Result<Socket> {
    let options = &shared.options;
    let response = as_gateway(
        shared.http.post(format!("{replica}/v1/chat/ws-ticket")),
        options,
        user,
    )
    .send()
    .await?;
    anyhow::ensure!(
        response.status().is_success(),
        "ticket: {}",
        response.status()
    );
    let body: Value = response.json().await?;
    let ticket = body["ticket"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no ticket"))?;
    let url = format!(
        "{}/v1/chat/ws?ticket={ticket}",
        replica.replacen("http://", "ws://", 1)
    );
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("x-waypoint-internal", options.token.parse()?);
    let (ws, _) = tokio_tungstenite::connect_async(request).await?;
    Ok(ws)
}
