//! chat-service under test: replicas in-process on free ports, sharing one database and
//! one Redis key space, called as the gateway would call them, with a fake rbac/auth
//! directory. Users sign in by getting a session written into Redis the way auth-service
//! writes it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use chat_service::config::{DirectorySettings, SocketSettings};
use chat_service::startup::Stopper;
use chat_service::{Application, Settings};
use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::config::{DatabaseSettings, RedisSettings, ServerSettings};
use shared::db::Db;
use shared::session::NewSession;
pub use shared::testing::error_code;
use shared::testing::{RedisServer, TestDatabase, unique_prefix};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

/// Experts of the fake directory; every other id is a traveller.
pub const EXPERTS: [i64; 3] = [100, 101, 102];
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Options {
    pub replicas: usize,
    pub private_redis: bool,
    pub socket: SocketSettings,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            replicas: 1,
            private_redis: false,
            socket: SocketSettings {
                session_check_interval: Duration::from_millis(100),
                ..SocketSettings::default()
            },
        }
    }
}

pub struct Replica {
    pub url: String,
    pub port: u16,
    /// The replica's `/metrics`.
    pub metrics: String,
    stopper: Option<Stopper>,
}

pub struct TestApp {
    pub http: reqwest::Client,
    pub replicas: Vec<Replica>,
    pub token: String,
    pub redis: RedisSettings,
    pub private_redis: Option<RedisServer>,
    pub directory: FakeDirectory,
    _db: TestDatabase,
    settings: Settings,
}

/// A signed-in user: a session in Redis, as auth-service keeps it.
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub session: String,
}

impl TestApp {
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Self {
        shared::telemetry::init_for_tests();
        let private_redis = options.private_redis.then(RedisServer::start);
        let redis = match &private_redis {
            Some(server) => server.settings_with_prefix(&unique_prefix()),
            None => RedisServer::shared().settings_with_prefix(&unique_prefix()),
        };
        let token = shared::random::token_hex(16);
        let directory = FakeDirectory::start(&token).await;
        let db = TestDatabase::new();
        let settings = Settings {
            server: ServerSettings::local(&redis, &token),
            database: DatabaseSettings::local(&db.url),
            directory: DirectorySettings {
                rbac_service_url: directory.url.clone(),
                auth_service_url: directory.url.clone(),
                cache_ttl: Duration::from_secs(30),
                timeout: Duration::from_secs(2),
            },
            socket: options.socket,
        };
        let mut app = Self {
            http: reqwest::Client::new(),
            replicas: Vec::new(),
            token,
            redis,
            private_redis,
            directory,
            _db: db,
            settings,
        };
        for _ in 0..options.replicas {
            let replica = app.launch("127.0.0.1:0").await;
            app.replicas.push(replica);
        }
        app
    }

    async fn launch(&self, bind_addr: &str) -> Replica {
        let mut settings = self.settings.clone();
        settings.server.bind_addr = bind_addr.to_owned();
        let app = Application::build(settings)
            .await
            .expect("chat-service starts");
        let port = app.port();
        let metrics = format!(
            "http://127.0.0.1:{}/metrics",
            app.metrics_port().expect("a metrics listener")
        );
        let stopper = app.stopper();
        tokio::spawn(app.run_until_stopped());
        let replica = Replica {
            url: format!("http://127.0.0.1:{port}"),
            port,
            metrics,
            stopper: Some(stopper),
        };
        self.until_ready(&replica.url).await;
        replica
    }

    /// Waits (bounded) until replica `i` reaches its database and Redis again.
    pub async fn wait_until_ready(&self, i: usize) {
        self.until_ready(&self.replicas[i].url).await;
    }

    async fn until_ready(&self, url: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !matches!(
            self.http.get(format!("{url}/readyz")).send().await,
            Ok(r) if r.status() == StatusCode::OK
        ) {
            assert!(Instant::now() < deadline, "replica did not become ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops replica `i` (its sockets get 1001), then starts it again on the same port.
    pub async fn restart(&mut self, i: usize) {
        self.stop(i).await;
        let bind = format!("127.0.0.1:{}", self.replicas[i].port);
        self.replicas[i] = self.launch(&bind).await;
    }

    pub async fn stop(&mut self, i: usize) {
        if let Some(stopper) = self.replicas[i].stopper.take() {
            stopper.stop().await;
        }
    }

    /// Signs `id` in: writes the session record auth-service writes.
    pub fn sign_in(&self, id: i64) -> User {
        let session = shared::random::token_hex(16);
        let new = NewSession {
            user_id: id,
            now_ms: shared::time::now_millis(),
            idle_ms: 1_800_000,
            absolute_lifetime_ms: 86_400_000,
            user_agent: "chat tests",
            ip: "127.0.0.1",
            refresh_secret: "unused",
        };
        let key = self.session_key(&session);
        let mut hset = vec!["HSET".to_owned(), key.clone()];
        for (name, value) in new.fields() {
            hset.extend([name.to_owned(), value]);
        }
        let hset: Vec<&str> = hset.iter().map(String::as_str).collect();
        let reply = self.redis_command(&hset);
        assert!(reply.starts_with(':'), "{reply}");
        self.redis_command(&["PEXPIRE", &key, &new.ttl_ms().to_string()]);
        User { id, session }
    }

    /// Ends the session, as logout (or disabling the user) does.
    pub fn sign_out(&self, user: &User) {
        self.redis_command(&["DEL", &self.session_key(&user.session)]);
    }

    /// The Redis channel the replicas publish `user_id`'s frames on.
    pub fn user_channel(&self, user_id: i64) -> String {
        format!("{}chat:user:{user_id}", self.redis.key_prefix)
    }

    /// A connection pool of the test's own on the replicas' database, to set up (or break)
    /// what the service cannot be asked to.
    pub async fn database(&self) -> Db {
        Db::open(self._db.url.clone(), 2, chat_service::startup::MIGRATIONS)
            .await
            .expect("the test database opens")
    }

    fn session_key(&self, session: &str) -> String {
        format!("{}{}", self.redis.key_prefix, shared::session::key(session))
    }

    pub fn redis_command(&self, args: &[&str]) -> String {
        match &self.private_redis {
            Some(server) => server.command(args),
            None => RedisServer::shared().command(args),
        }
    }

    /// A request to replica `i` as the gateway sends it for `user`.
    pub fn request(
        &self,
        i: usize,
        user: &User,
        method: Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.replicas[i].url))
            .header("x-waypoint-internal", &self.token)
            .header("x-user-id", user.id.to_string())
            .header("x-session-id", &user.session)
            .header(
                "x-user-roles",
                if EXPERTS.contains(&user.id) {
                    "expert"
                } else {
                    "traveller"
                },
            )
    }

    pub async fn call(
        &self,
        i: usize,
        user: &User,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.request(i, user, method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await.expect("request sent")).await
    }

    pub async fn get(&self, i: usize, user: &User, path: &str) -> (StatusCode, Value) {
        self.call(i, user, Method::GET, path, None).await
    }

    pub async fn post(
        &self,
        i: usize,
        user: &User,
        path: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        self.call(i, user, Method::POST, path, Some(body)).await
    }

    /// Opens (or finds) the conversation of `traveller` with `expert`; returns its id.
    pub async fn conversation(&self, traveller: &User, expert: &User) -> i64 {
        let (status, body) = self
            .post(
                0,
                traveller,
                "/v1/chat/conversations",
                json!({ "expert_id": expert.id }),
            )
            .await;
        assert!(
            status == StatusCode::CREATED || status == StatusCode::OK,
            "{status} {body}"
        );
        body["id"].as_i64().unwrap()
    }

    /// Sends a message over REST; returns its id.
    pub async fn send_rest(&self, i: usize, user: &User, conversation: i64, body: &str) -> i64 {
        let (status, message) = self
            .post(
                i,
                user,
                &format!("/v1/chat/conversations/{conversation}/messages"),
                json!({ "body": body }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{message}");
        message["id"].as_i64().unwrap()
    }

    pub async fn ticket(&self, i: usize, user: &User) -> String {
        let (status, body) = self.post(i, user, "/v1/chat/ws-ticket", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["ticket"].as_str().unwrap().to_owned()
    }

    /// A socket of `user` on replica `i`.
    pub async fn connect(&self, i: usize, user: &User) -> Client {
        let ticket = self.ticket(i, user).await;
        match self.handshake(i, Some(&ticket), None).await {
            Ok(client) => client,
            Err((status, body)) => panic!("handshake refused: {status} {body}"),
        }
    }

    /// A handshake with `ticket` (and `Origin`), as the gateway forwards it.
    pub async fn handshake(
        &self,
        i: usize,
        ticket: Option<&str>,
        origin: Option<&str>,
    ) -> Result<Client, (u16, Value)> {
        self.handshake_over(i, ticket, origin, None).await
    }

    /// A handshake over a connection whose receive buffer is `recv_buffer` bytes.
    pub async fn handshake_over(
        &self,
        i: usize,
        ticket: Option<&str>,
        origin: Option<&str>,
        recv_buffer: Option<u32>,
    ) -> Result<Client, (u16, Value)> {
        let query = ticket.map(|t| format!("?ticket={t}")).unwrap_or_default();
        let url = format!("ws://127.0.0.1:{}/v1/chat/ws{query}", self.replicas[i].port);
        let mut request = url.into_client_request().unwrap();
        let headers = request.headers_mut();
        headers.insert("x-waypoint-internal", self.token.parse().unwrap());
        if let Some(origin) = origin {
            headers.insert("origin", origin.parse().unwrap());
        }
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size).unwrap();
        }
        let stream = socket
            .connect(
                format!("127.0.0.1:{}", self.replicas[i].port)
                    .parse()
                    .unwrap(),
            )
            .await
            .unwrap();
        match tokio_tungstenite::client_async(request, stream).await {
            Ok((ws, _)) => Ok(Client {
                ws,
                pending: VecDeque::new(),
            }),
            Err(tungstenite::Error::Http(response)) => {
                let body = response
                    .body()
                    .as_ref()
                    .and_then(|b| serde_json::from_slice(b).ok())
                    .unwrap_or(Value::Null);
                Err((response.status().as_u16(), body))
            }
            Err(err) => panic!("handshake failed: {err}"),
        }
    }

    /// Replica `i`'s metrics now.
    pub async fn scrape(&self, i: usize) -> shared::testing::Scraped {
        let response = self.http.get(&self.replicas[i].metrics).send().await;
        shared::testing::Scraped::parse(&response.unwrap().text().await.unwrap())
    }

    /// Sockets and users open on replica `i`.
    pub async fn stats(&self, i: usize) -> (i64, i64) {
        let response = self
            .http
            .get(format!("{}/internal/chat/stats", self.replicas[i].url))
            .header("x-waypoint-internal", &self.token)
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        (
            body["sockets"].as_i64().unwrap(),
            body["users"].as_i64().unwrap(),
        )
    }

    /// Waits (bounded) until replica `i` has `sockets` sockets open.
    pub async fn wait_for_sockets(&self, i: usize, sockets: i64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.stats(i).await.0 != sockets {
            assert!(
                Instant::now() < deadline,
                "replica {i} never had {sockets} sockets"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

pub async fn read(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A chat socket as a client sees it. Frames skipped while waiting for a frame of some
/// type are kept for whoever asks for their type next.
pub struct Client {
    pub ws: WebSocketStream<TcpStream>,
    pending: VecDeque<Value>,
}

impl Client {
    pub async fn send(&mut self, frame: Value) {
        self.ws
            .send(Message::text(frame.to_string()))
            .await
            .unwrap();
    }

    pub async fn send_text(&mut self, text: String) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    /// The next JSON frame (pings are answered and skipped).
    pub async fn next(&mut self) -> Value {
        match self.pending.pop_front() {
            Some(frame) => frame,
            None => self.read().await,
        }
    }

    async fn read(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(FRAME_TIMEOUT, self.ws.next())
                .await
                .expect("a frame within the timeout")
                .expect("the socket is open")
                .expect("a readable frame");
            match message {
                Message::Text(text) => return serde_json::from_str(&text).unwrap(),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("expected a JSON frame, got {other:?}"),
            }
        }
    }

    /// The next frame of type `kind`; frames of other types stay pending.
    pub async fn next_of(&mut self, kind: &str) -> Value {
        if let Some(i) = self.pending.iter().position(|f| f["type"] == kind) {
            return self.pending.remove(i).unwrap();
        }
        loop {
            let frame = self.read().await;
            if frame["type"] == kind {
                return frame;
            }
            self.pending.push_back(frame);
        }
    }

    /// Sends a message and returns its ack.
    pub async fn say(&mut self, conversation: i64, body: &str, key: &str) -> Value {
        self.send(json!({
            "type": "send", "conversation_id": conversation, "body": body, "client_msg_id": key,
        }))
        .await;
        self.next_of("ack").await
    }

    /// The `message` frames until `n` have arrived (other frames skipped).
    pub async fn messages(&mut self, n: usize) -> Vec<Value> {
        let mut messages = Vec::new();
        while messages.len() < n {
            messages.push(self.next_of("message").await);
        }
        messages
    }

    /// Reads until the server closes; returns the close code and reason.
    pub async fn closed(&mut self) -> (u16, String) {
        self.frames_until_closed().await.1
    }

    /// Reads until the server closes; returns the JSON frames received before the close
    /// (pending ones first), and the close code and reason.
    pub async fn frames_until_closed(&mut self) -> (Vec<Value>, (u16, String)) {
        let mut frames: Vec<Value> = self.pending.drain(..).collect();
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .expect("closed within the timeout");
            let close = match message {
                Some(Ok(Message::Close(Some(frame)))) => {
                    (u16::from(frame.code), frame.reason.to_string())
                }
                Some(Ok(Message::Close(None))) | None => (1005, String::new()),
                Some(Ok(Message::Text(text))) => {
                    frames.push(serde_json::from_str(&text).unwrap());
                    continue;
                }
                Some(Ok(_)) => continue,
                Some(Err(err)) => (0, err.to_string()),
            };
            return (frames, close);
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// rbac-service's and auth-service's internal routes, as far as chat-service uses them.
pub struct FakeDirectory {
    pub url: String,
    experts: Arc<Mutex<Vec<i64>>>,
    down: Arc<Mutex<bool>>,
}

struct DirectoryState {
    token: String,
    experts: Arc<Mutex<Vec<i64>>>,
    down: Arc<Mutex<bool>>,
}

impl FakeDirectory {
    pub async fn start(token: &str) -> Self {
        let experts = Arc::new(Mutex::new(EXPERTS.to_vec()));
        let down = Arc::new(Mutex::new(false));
        let state = web::Data::new(DirectoryState {
            token: token.to_owned(),
            experts: experts.clone(),
            down: down.clone(),
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .route("/internal/roles/expert/users", web::get().to(role_holders))
                .route("/internal/users", web::get().to(profiles))
        })
        .workers(1)
        .disable_signals()
        .bind("127.0.0.1:0")
        .unwrap();
        let port = server.addrs()[0].port();
        tokio::spawn(server.run());
        Self {
            url: format!("http://127.0.0.1:{port}"),
            experts,
            down,
        }
    }

    pub fn grant_expert(&self, user_id: i64) {
        self.experts.lock().unwrap().push(user_id);
    }

    pub fn set_down(&self, down: bool) {
        *self.down.lock().unwrap() = down;
    }
}

fn refused(req: &HttpRequest, state: &DirectoryState) -> Option<HttpResponse> {
    if *state.down.lock().unwrap() {
        return Some(HttpResponse::ServiceUnavailable().finish());
    }
    let token = req
        .headers()
        .get("x-waypoint-internal")
        .and_then(|v| v.to_str().ok());
    (token != Some(state.token.as_str())).then(|| HttpResponse::Forbidden().finish())
}

async fn role_holders(req: HttpRequest, state: web::Data<DirectoryState>) -> HttpResponse {
    if let Some(refused) = refused(&req, &state) {
        return refused;
    }
    let ids = state.experts.lock().unwrap().clone();
    HttpResponse::Ok().json(json!({ "user_ids": ids }))
}

async fn profiles(
    req: HttpRequest,
    state: web::Data<DirectoryState>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    if let Some(refused) = refused(&req, &state) {
        return refused;
    }
    let results: Vec<Value> = query
        .get("ids")
        .map(String::as_str)
        .unwrap_or_default()
        .split(',')
        .filter_map(|id| id.parse::<i64>().ok())
        .map(|id| json!({ "id": id, "account": format!("user{id}"), "name": format!("User {id}") }))
        .collect();
    HttpResponse::Ok().json(json!({ "results": results }))
}
