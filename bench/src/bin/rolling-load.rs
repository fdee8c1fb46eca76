//! The load of `bench/rolling-restart` (`cargo xtask rolling-restart` starts the stack,
//! runs this, and restarts the processes one at a time): a steady mixed load through
//! nginx — reads, writes with idempotency keys, password logins — and a traveller and an
//! expert chatting over WebSockets, each message numbered so that the receiver counts
//! what was lost or came twice. A socket that closes (1001 from a draining chat-service,
//! or cut by a draining gateway) reconnects through nginx and sends `resume` with the last
//! message id it saw.
//!
//! Environment: `ROLLING_URL` (nginx), `ROLLING_ADMIN_ACCOUNT`, `ROLLING_ADMIN_PASSWORD`.
//! On stdin, one line per event from the launcher: `phase NAME` (a restart of NAME begins:
//! what is sent from now on counts for it), `ready SECONDS` (it is back), `stop`. Prints
//! `load running` once the load has started, and the table at the end; exits 1 if any
//! request failed or any chat message was lost or duplicated.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, ensure};
use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;
use tokio_tungstenite::tungstenite::Message;

/// The load's bounds, whatever happens to the restarts.
const MAX_REQUESTS: usize = 200_000;
const MAX_LOAD_TIME: Duration = Duration::from_secs(15 * 60);
/// Concurrent HTTP clients, each pausing between requests: a steady load, not a flood.
const WORKERS: usize = 4;
const PAUSE: Duration = Duration::from_millis(20);
/// Each side of the chat sends one message per period (the socket limit is 10 frames/s).
const CHAT_PERIOD: Duration = Duration::from_millis(200);
/// After `stop`, how long the chat may take to deliver what is still on its way.
const CHAT_DRAIN: Duration = Duration::from_secs(20);
const PASSWORD: &str = "rolling restart password";

#[derive(Default)]
struct Phase {
    name: String,
    /// Seconds from SIGTERM until the new process was ready.
    took: Option<f64>,
    sent: usize,
    failed: usize,
    chat_sent: usize,
    reconnects: usize,
}

#[derive(Default)]
struct Ledger {
    phases: Vec<Phase>,
    /// Failed requests: (phase, what happened), all kept (there should be none).
    failures: Vec<(usize, String)>,
    /// Chat messages by (sender, number): the phase they were sent in and how often the
    /// peer received them.
    chat: BTreeMap<(usize, u64), (usize, usize)>,
}

struct Load {
    base: String,
    http: reqwest::Client,
    ledger: Mutex<Ledger>,
    phase: AtomicUsize,
    stop: AtomicBool,
    started: Instant,
    /// Requests sent so far, against `MAX_REQUESTS`.
    total: AtomicUsize,
}

impl Load {
    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        // A panicking task leaves counts that are still worth printing.
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn phase(&self) -> usize {
        self.phase.load(Ordering::SeqCst)
    }

    fn running(&self) -> bool {
        !self.stop.load(Ordering::SeqCst)
            && self.started.elapsed() < MAX_LOAD_TIME
            && self.total.load(Ordering::Relaxed) < MAX_REQUESTS
    }

    fn record(&self, phase: usize, failure: Option<String>) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let mut ledger = self.ledger();
        ledger.phases[phase].sent += 1;
        if let Some(failure) = failure {
            ledger.phases[phase].failed += 1;
            ledger.failures.push((phase, failure));
        }
    }

    fn request(
        &self,
        method: &Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request
    }

    /// One request through nginx, counted: a failure unless it answers one of `expected`.
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        idempotency_key: Option<String>,
        body: Option<Value>,
        expected: &[StatusCode],
    ) -> Option<Value> {
        let phase = self.phase();
        let mut request = self.request(&method, path, token, body);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        match request.send().await {
            Ok(response) if expected.contains(&response.status()) => {
                self.record(phase, None);
                Some(response.json().await.unwrap_or(Value::Null))
            }
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                self.record(phase, Some(format!("{method} {path}: {status} {text}")));
                None
            }
            Err(err) => {
                self.record(phase, Some(format!("{method} {path}: no answer: {err}")));
                None
            }
        }
    }
}

/// A signed-in user of the load.
struct User {
    id: i64,
    token: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let env = |name: &str| std::env::var(name).with_context(|| format!("{name} is not set"));
    let load = Arc::new(Load {
        base: env("ROLLING_URL")?,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(40))
            .build()?,
        ledger: Mutex::new(Ledger {
            phases: vec![Phase {
                name: "(before)".into(),
                ..Phase::default()
            }],
            ..Ledger::default()
        }),
        phase: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        started: Instant::now(),
        total: AtomicUsize::new(0),
    });
    let admin = login(
        &load,
        &env("ROLLING_ADMIN_ACCOUNT")?,
        &env("ROLLING_ADMIN_PASSWORD")?,
    )
    .await?;
    let traveller = sign_up(&load, "rolling-traveller").await?;
    let expert = sign_up(&load, "rolling-expert").await?;
    make_expert(&load, &admin, expert.id).await?;
    let trips: Vec<i64> = setup(&load, Method::GET, "/v1/trips", None, None).await?["results"]
        .as_array()
        .map(|trips| trips.iter().filter_map(|t| t["id"].as_i64()).collect())
        .unwrap_or_default();
    ensure!(!trips.is_empty(), "no trips to read");
    let conversation = open_conversation(&load, &traveller, &expert).await?;

    let traveller = Arc::new(traveller);
    let mut tasks = Vec::new();
    for worker in 0..WORKERS {
        let (load, traveller, trips) = (load.clone(), traveller.clone(), trips.clone());
        tasks.push(tokio::spawn(async move {
            requests(&load, worker, &traveller, &trips).await
        }));
    }
    let expert = Arc::new(expert);
    let chat: Vec<_> = [(0, &traveller, &expert), (1, &expert, &traveller)]
        .into_iter()
        .map(|(side, me, peer)| {
            let (load, me, peer) = (load.clone(), me.clone(), peer.clone());
            tokio::spawn(async move { chat(&load, side, &me, peer.id, conversation).await })
        })
        .collect();
    println!("load running");

    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while load.running() {
        let line = tokio::select! {
            line = lines.next_line() => line?,
            () = tokio::time::sleep(Duration::from_secs(1)) => continue,
        };
        match line
            .as_deref()
            .map(|l| l.split_once(' ').unwrap_or((l, "")))
        {
            Some(("phase", name)) => {
                let mut ledger = load.ledger();
                ledger.phases.push(Phase {
                    name: name.to_owned(),
                    ..Phase::default()
                });
                load.phase.store(ledger.phases.len() - 1, Ordering::SeqCst);
            }
            Some(("ready", seconds)) => {
                let mut ledger = load.ledger();
                let phase = load.phase();
                ledger.phases[phase].took = seconds.parse().ok();
            }
            Some(("stop", _)) | None => break,
            Some(_) => {}
        }
    }
    load.stop.store(true, Ordering::SeqCst);
    for task in tasks {
        task.await?;
    }
    for side in chat {
        side.await?;
    }
    let ledger = load.ledger();
    if !report(&ledger, load.started.elapsed()) {
        std::process::exit(1);
    }
    Ok(())
}

/// A setup request: it must succeed.
async fn setup(
    load: &Load,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let response = load.request(&method, path, token, body).send().await?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    ensure!(status.is_success(), "{method} {path}: {status} {body}");
    Ok(body)
}

async fn login(load: &Load, account: &str, password: &str) -> anyhow::Result<String> {
    let body = json!({ "account": account, "password": password });
    let answer = setup(load, Method::POST, "/v1/auth/login", None, Some(body)).await?;
    answer["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no access token in {answer}"))
}

async fn sign_up(load: &Load, account: &str) -> anyhow::Result<User> {
    let body = json!({
        "account": account,
        "name": account,
        "email": format!("{account}@waypoint.local"),
        "password": PASSWORD,
    });
    let user = setup(load, Method::POST, "/v1/auth/register", None, Some(body)).await?;
    Ok(User {
        id: user["id"]
            .as_i64()
            .ok_or_else(|| anyhow!("no id in {user}"))?,
        token: login(load, account, PASSWORD).await?,
    })
}

async fn make_expert(load: &Load, admin: &str, user: i64) -> anyhow::Result<()> {
    let roles = setup(
        load,
        Method::GET,
        "/v1/roles?name=expert",
        Some(admin),
        None,
    )
    .await?;
    let role = roles["results"][0]["id"]
        .as_i64()
        .ok_or_else(|| anyhow!("no expert role in {roles}"))?;
    let path = format!("/v1/users/{user}/roles");
    setup(
        load,
        Method::POST,
        &path,
        Some(admin),
        Some(json!({ "role_id": role })),
    )
    .await?;
    Ok(())
}

/// The traveller's conversation with the expert, once chat-service's directory (cached
/// for `CHAT_DIRECTORY_TTL`) knows the new expert.
async fn open_conversation(load: &Load, traveller: &User, expert: &User) -> anyhow::Result<i64> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let body = json!({ "expert_id": expert.id });
        let path = "/v1/chat/conversations";
        match setup(load, Method::POST, path, Some(&traveller.token), Some(body)).await {
            Ok(conversation) => {
                return conversation["id"]
                    .as_i64()
                    .ok_or_else(|| anyhow!("no id in {conversation}"));
            }
            Err(err) if Instant::now() > deadline => return Err(err),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// One HTTP client of the mixed load, until told to stop.
async fn requests(load: &Load, worker: usize, traveller: &User, trips: &[i64]) {
    let token = Some(traveller.token.as_str());
    let mut i = 0;
    while load.running() {
        let trip = trips[i % trips.len()];
        let key = Some(format!("rolling-{worker}-{i}"));
        let (ok, created) = (
            &[StatusCode::OK][..],
            &[StatusCode::CREATED, StatusCode::OK][..],
        );
        match i % 10 {
            0..=2 => {
                load.call(Method::GET, "/v1/trips", None, None, None, ok)
                    .await
            }
            3 | 4 => {
                let path = format!("/v1/trips/{trip}");
                load.call(Method::GET, &path, None, None, None, ok).await
            }
            5 => {
                let path = "/v1/recommendations?limit=5";
                load.call(Method::GET, path, token, None, None, ok).await
            }
            6 => {
                let body = json!({ "trip_id": trip, "quantity": 1 });
                load.call(Method::POST, "/v1/orders", token, key, Some(body), created)
                    .await
            }
            7 => {
                let path = format!("/v1/trips/{trip}/favourite");
                let done = &[StatusCode::OK, StatusCode::CREATED, StatusCode::NO_CONTENT][..];
                load.call(Method::POST, &path, token, key, None, done).await
            }
            8 => {
                let body = json!({ "account": "rolling-traveller", "password": PASSWORD });
                load.call(Method::POST, "/v1/auth/login", None, None, Some(body), ok)
                    .await
            }
            _ => {
                let path = format!("/v1/trips/{trip}");
                load.call(Method::GET, &path, token, None, None, ok).await
            }
        };
        i += 1;
        tokio::time::sleep(PAUSE).await;
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A socket through nginx, with a fresh ticket; a failure counts as a failed request.
async fn connect(load: &Load, me: &User) -> Option<Socket> {
    let path = "/v1/chat/ws-ticket";
    let ticket = load
        .call(
            Method::POST,
            path,
            Some(&me.token),
            None,
            None,
            &[StatusCode::OK],
        )
        .await?;
    let ticket = ticket["ticket"].as_str().unwrap_or_default();
    let url = format!(
        "{}/v1/chat/ws?ticket={ticket}",
        load.base.replacen("http://", "ws://", 1)
    );
    let phase = load.phase();
    match tokio_tungstenite::connect_async(url).await {
        Ok((socket, _)) => {
            load.record(phase, None);
            Some(socket)
        }
        Err(err) => {
            load.record(phase, Some(format!("GET /v1/chat/ws: {err}")));
            None
        }
    }
}

/// One side of the conversation (`side` 0 the traveller, 1 the expert): sends a numbered
/// message every period, counts the peer's, reconnects and resumes when its socket
/// closes. After `stop` it sends nothing new and waits until everything sent was
/// acknowledged and everything the peer sent arrived (at most `CHAT_DRAIN`).
async fn chat(load: &Load, side: usize, me: &User, peer: i64, conversation: i64) {
    let mut next = 1_u64;
    // Sent but not acknowledged: sent again, with the same client_msg_id, on a new socket.
    let mut unacked: BTreeMap<u64, String> = BTreeMap::new();
    let mut last_id = 0_i64;
    let mut drain_until = None;
    let mut tick = tokio::time::interval(CHAT_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    'sockets: loop {
        let Some(mut socket) = connect(load, me).await else {
            if drain_until.is_some_and(|until| Instant::now() > until) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        // On the first socket too: the peer may have sent before this one subscribed.
        let resume = json!({ "type": "resume", "conversation_id": conversation, "after": last_id });
        let _ = socket.send(Message::text(resume.to_string())).await;
        for frame in unacked.values() {
            let _ = socket.send(Message::text(frame.clone())).await;
        }
        loop {
            if drain_until.is_none() && !load.running() {
                drain_until = Some(Instant::now() + CHAT_DRAIN);
            }
            if let Some(until) = drain_until
                && (Instant::now() > until || (unacked.is_empty() && delivered(load, 1 - side)))
            {
                let _ = socket.close(None).await;
                return;
            }
            tokio::select! {
                _ = tick.tick() => {
                    if drain_until.is_some() {
                        continue;
                    }
                    let n = next;
                    next += 1;
                    let frame = json!({
                        "type": "send",
                        "conversation_id": conversation,
                        "body": n.to_string(),
                        "client_msg_id": format!("rolling-{side}-{n}"),
                    })
                    .to_string();
                    let phase = load.phase();
                    {
                        let mut ledger = load.ledger();
                        ledger.phases[phase].chat_sent += 1;
                        ledger.chat.insert((side, n), (phase, 0));
                    }
                    unacked.insert(n, frame.clone());
                    if socket.send(Message::text(frame)).await.is_err() {
                        break;
                    }
                }
                frame = socket.next() => match frame {
                    Some(Ok(Message::Text(text))) => {
                        let Ok(frame) = serde_json::from_str::<Value>(&text) else { continue };
                        match frame["type"].as_str() {
                            Some("ack") => {
                                let n = frame["client_msg_id"].as_str()
                                    .and_then(|id| id.rsplit('-').next())
                                    .and_then(|n| n.parse().ok());
                                if let Some(n) = n {
                                    unacked.remove(&n);
                                }
                            }
                            Some("message") if frame["conversation_id"] == conversation => {
                                last_id = last_id.max(frame["id"].as_i64().unwrap_or(0));
                                let n = frame["body"].as_str().and_then(|b| b.parse::<u64>().ok());
                                if let (Some(n), true) = (n, frame["sender_id"] == peer) {
                                    let mut ledger = load.ledger();
                                    if let Some((_, received)) = ledger.chat.get_mut(&(1 - side, n)) {
                                        *received += 1;
                                    }
                                }
                            }
                            Some("error") => {
                                let phase = load.phase();
                                load.record(phase, Some(format!("chat frame refused: {text}")));
                            }
                            _ => {}
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => {
                        let phase = load.phase();
                        load.ledger().phases[phase].reconnects += 1;
                        continue 'sockets;
                    }
                },
            }
        }
        let phase = load.phase();
        load.ledger().phases[phase].reconnects += 1;
    }
}

/// Whether every message `sender` sent has reached the peer.
fn delivered(load: &Load, sender: usize) -> bool {
    let ledger = load.ledger();
    ledger
        .chat
        .range((sender, 0)..(sender + 1, 0))
        .all(|(_, (_, received))| *received > 0)
}

/// Prints the table; whether nothing failed.
fn report(ledger: &Ledger, elapsed: Duration) -> bool {
    let mut per_phase: HashMap<usize, (usize, usize, usize)> = HashMap::new();
    for (phase, received) in ledger.chat.values() {
        let (got, lost, twice) = per_phase.entry(*phase).or_default();
        match received {
            0 => *lost += 1,
            1 => *got += 1,
            _ => {
                *got += 1;
                *twice += 1;
            }
        }
    }
    println!(
        "\n{:<14} {:>9} {:>9} {:>7} {:>9} {:>9} {:>6} {:>6} {:>10}",
        "restart",
        "ready in",
        "requests",
        "failed",
        "chat sent",
        "received",
        "lost",
        "dup",
        "reconnects"
    );
    let mut totals = (0, 0, 0, 0, 0, 0, 0);
    for (i, phase) in ledger.phases.iter().enumerate() {
        let (got, lost, twice) = per_phase.get(&i).copied().unwrap_or_default();
        let took = phase.took.map_or("-".to_owned(), |s| format!("{s:.1} s"));
        println!(
            "{:<14} {:>9} {:>9} {:>7} {:>9} {:>9} {:>6} {:>6} {:>10}",
            phase.name,
            took,
            phase.sent,
            phase.failed,
            phase.chat_sent,
            got,
            lost,
            twice,
            phase.reconnects
        );
        totals.0 += phase.sent;
        totals.1 += phase.failed;
        totals.2 += phase.chat_sent;
        totals.3 += got;
        totals.4 += lost;
        totals.5 += twice;
        totals.6 += phase.reconnects;
    }
    println!(
        "{:<14} {:>9} {:>9} {:>7} {:>9} {:>9} {:>6} {:>6} {:>10}",
        "total",
        format!("{:.0} s", elapsed.as_secs_f64()),
        totals.0,
        totals.1,
        totals.2,
        totals.3,
        totals.4,
        totals.5,
        totals.6
    );
    for (phase, failure) in &ledger.failures {
        println!("failed during {}: {failure}", ledger.phases[*phase].name);
    }
    totals.1 == 0 && totals.4 == 0 && totals.5 == 0
}
