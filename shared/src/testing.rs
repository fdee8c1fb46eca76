//! Test support: a private `redis-server` on a free loopback port, throwaway databases
//! (SQLite files, or PostgreSQL databases when `TEST_DATABASE_URL` points at a server),
//! and unique key prefixes so tests sharing one Redis never see each other's keys.
//!
//! Tests never touch a developer's Redis or database. Servers are started through a tiny
//! shell wrapper that kills them when the test process's end of a pipe closes, so even a
//! test binary that is killed leaves no server behind.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::{Connection, RunQueryDsl};
use tempfile::TempDir;

use crate::config::RedisSettings;

/// A base URL where a connection is refused at once, for a service that is down. Port 1
/// is privileged and nothing listens there; a port merely found free could be taken by
/// another test's server at any moment.
pub const REFUSING_URL: &str = "http://127.0.0.1:1";

/// A free port held open, so that nothing binding port 0 meanwhile (another test, another
/// service) can take it: for a server whose address must be known before it starts. An
/// in-process server is handed the listener itself ([`ReservedPort::into_listener`]); only
/// a separate process (nginx) needs the port released, just before it binds.
pub struct ReservedPort {
    listener: TcpListener,
    port: u16,
}

impl ReservedPort {
    pub fn new() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("no free port on 127.0.0.1");
        let port = listener.local_addr().expect("a bound port").port();
        Self { listener, port }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The bound listener, for a server that can take one: no moment when the port is free.
    pub fn into_listener(self) -> TcpListener {
        self.listener
    }

    /// Frees the port for the process about to bind it.
    pub fn release(self) -> u16 {
        drop(self.listener);
        self.port
    }
}

impl Default for ReservedPort {
    fn default() -> Self {
        Self::new()
    }
}

/// Asserts DESIGN's JSON error shape (`error.code`, `error.message`, `error.details`) and
/// returns the code.
pub fn error_code(body: &serde_json::Value) -> &str {
    assert!(
        body["error"]["message"].is_string(),
        "not the error shape: {body}"
    );
    assert!(
        body["error"]["details"].is_object(),
        "not the error shape: {body}"
    );
    body["error"]["code"].as_str().expect("error code")
}

/// A key prefix no other test in this process uses.
pub fn unique_prefix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "t{}-{}:",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Starts `program` through a shell that kills it when this process's end of the shell's
/// stdin closes: on drop of the returned child's stdin, or when the test process dies.
pub fn spawn_tied(program: &str, args: &[&str]) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            r#""{program}" "$@" & pid=$!; read _ignored; kill $pid; wait $pid"#
        ))
        .arg("sh")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {program} (is it installed?): {err}"))
}

/// Stops a process started with [`spawn_tied`].
pub fn stop_tied(mut child: Child) {
    drop(child.stdin.take());
    let _ = child.wait();
}

/// A `redis-server` of this test process.
pub struct RedisServer {
    port: u16,
    dir: TempDir,
    wrapper: Option<Child>,
    /// Everything on the command line but the port and the directory.
    args: Vec<String>,
}

impl RedisServer {
    pub fn start() -> Self {
        Self::start_with(|_| Self::data_args(&[]))
    }

    /// A replica of `master` (Sentinel finds it through the master).
    pub fn start_replica_of(master: &RedisServer) -> Self {
        let port = master.port.to_string();
        Self::start_with(|_| Self::data_args(&["--replicaof", "127.0.0.1", &port]))
    }

    /// A data server (no sentinel) that keeps nothing on disk by itself, then `extra`.
    fn data_args(extra: &[&str]) -> Vec<String> {
        [
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ]
        .iter()
        .chain(extra)
        .map(|arg| arg.to_string())
        .collect()
    }

    /// A sentinel watching `master` under `name` with short timeouts, so that a failover
    /// takes seconds: the master is down after 1 s without a reply, and a failover that
    /// stalls is retried after 3 s.
    pub fn start_sentinel(master: &RedisServer, name: &str) -> Self {
        let config = format!(
            "sentinel monitor {name} 127.0.0.1 {port} 2\n\
             sentinel down-after-milliseconds {name} 1000\n\
             sentinel failover-timeout {name} 3000\n",
            port = master.port
        );
        Self::start_with(|dir| {
            // Sentinel rewrites its configuration file, so it lives in the server's dir.
            let file = dir.join("sentinel.conf");
            std::fs::write(&file, &config).expect("write sentinel.conf");
            vec![file.display().to_string(), "--sentinel".into()]
        })
    }

    /// Starts `redis-server` with the arguments `args` makes for its directory.
    fn start_with(args: impl FnOnce(&std::path::Path) -> Vec<String>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir for redis");
        // Held until redis-server is spawned, so no other test's port 0 lands on it first.
        let reservation = ReservedPort::new();
        let mut server = Self {
            port: reservation.port(),
            args: args(dir.path()),
            dir,
            wrapper: None,
        };
        reservation.release();
        server.spawn();
        server
    }

    /// The server shared by all tests of this binary (use [`unique_prefix`]).
    pub fn shared() -> &'static RedisServer {
        static SHARED: OnceLock<RedisServer> = OnceLock::new();
        SHARED.get_or_init(RedisServer::start)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Settings for a service using this server under a fresh prefix.
    pub fn settings(&self) -> RedisSettings {
        self.settings_with_prefix(&unique_prefix())
    }

    pub fn settings_with_prefix(&self, prefix: &str) -> RedisSettings {
        RedisSettings {
            url: self.url(),
            timeout: Duration::from_millis(200),
            key_prefix: prefix.to_owned(),
            sentinel: None,
        }
    }

    /// Stops the server (SIGTERM) and waits until its port is closed.
    pub fn stop(&mut self) {
        if let Some(wrapper) = self.wrapper.take() {
            stop_tied(wrapper);
        }
        self.wait_closed();
    }

    /// Kills the server with SIGKILL: no shutdown of any kind, as a crashed host.
    pub fn kill(&mut self) {
        if let Some(mut wrapper) = self.wrapper.take() {
            if let Some(mut stdin) = wrapper.stdin.take() {
                let _ = stdin.write_all(b"KILL\n");
            }
            let _ = wrapper.wait();
        }
        self.wait_closed();
    }

    fn wait_closed(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Starts the server again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Sends one command and returns the raw reply (for test set-up and inspection).
    pub fn command(&self, args: &[&str]) -> String {
        self.try_command(args).expect("a reply from redis")
    }

    fn try_command(&self, args: &[&str]) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(request.as_bytes())?;
        let mut buf = [0u8; 4096];
        let n = stream.read(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    fn spawn(&mut self) {
        let child = Command::new("sh")
            .arg("-c")
            // The signal is what the test writes (KILL), or TERM when its end closes.
            .arg(r#"redis-server "$@" & pid=$!; read sig; kill -s "${sig:-TERM}" $pid; wait $pid"#)
            .arg("sh")
            .args(&self.args)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("redis-server must be installed (apt-get install redis-server)");
        self.wrapper = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // Until redis-server listens, a connection can fail or even reach something
            // else on the port (a reset, a self-connect): keep asking, never give up early.
            if self
                .try_command(&["PING"])
                .is_ok_and(|reply| reply.contains("PONG"))
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A master, one replica and three sentinels watching them (quorum 2), each a real
/// `redis-server` on a free loopback port: Redis Sentinel as production runs it.
pub struct SentinelGroup {
    pub master: RedisServer,
    pub replica: RedisServer,
    pub sentinels: Vec<RedisServer>,
}

impl SentinelGroup {
    /// The name the sentinels know the master by.
    pub const MASTER_NAME: &str = "waypoint-test";

    /// Starts the group and waits until a failover could happen: every sentinel knows the
    /// other two and the replica, and the replica is in sync.
    pub fn start() -> Self {
        let master = RedisServer::start();
        let replica = RedisServer::start_replica_of(&master);
        let sentinels = (0..3)
            .map(|_| RedisServer::start_sentinel(&master, Self::MASTER_NAME))
            .collect();
        let group = Self {
            master,
            replica,
            sentinels,
        };
        // Sentinels find each other through hello messages every 2 s on the master.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !group.ready() {
            assert!(Instant::now() < deadline, "the sentinels did not get ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        group
    }

    fn ready(&self) -> bool {
        let watched = self.sentinels.iter().all(|sentinel| {
            let reply = sentinel.command(&["SENTINEL", "MASTER", Self::MASTER_NAME]);
            let fields = bulk_strings(&reply);
            let field = |name: &str| {
                fields
                    .iter()
                    .position(|f| *f == name)
                    .and_then(|i| fields.get(i + 1).copied())
            };
            field("num-other-sentinels") == Some("2") && field("num-slaves") == Some("1")
        });
        watched
            && self
                .master
                .command(&["INFO", "replication"])
                .contains("state=online")
    }

    /// Settings for a service using the group under a fresh prefix.
    pub fn settings(&self) -> RedisSettings {
        RedisSettings {
            url: "redis://127.0.0.1:1".into(),
            timeout: Duration::from_millis(200),
            key_prefix: unique_prefix(),
            sentinel: Some(crate::config::SentinelSettings {
                addresses: self
                    .sentinels
                    .iter()
                    .map(|sentinel| format!("127.0.0.1:{}", sentinel.port()))
                    .collect(),
                master_name: Self::MASTER_NAME.into(),
                replica_wait: Duration::from_millis(100),
            }),
        }
    }

    /// The port of the master the sentinels name (the first that answers).
    pub fn master_port(&self) -> Option<u16> {
        self.sentinels.iter().find_map(|sentinel| {
            let reply = sentinel
                .try_command(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", Self::MASTER_NAME])
                .ok()?;
            bulk_strings(&reply).get(1)?.parse().ok()
        })
    }
}

/// The strings of a flat RESP reply (an array of bulk strings), for test inspection.
fn bulk_strings(reply: &str) -> Vec<&str> {
    reply
        .split("\r\n")
        .filter(|line| !line.starts_with(['*', '$']))
        .collect()
}

/// A database for one test: a SQLite file in a temp dir, or a fresh PostgreSQL database
/// on the server `TEST_DATABASE_URL` points at, dropped again when this value is.
pub struct TestDatabase {
    pub url: String,
    _dir: Option<TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    pub fn new() -> Self {
        match std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            Some(admin_url) => Self::postgres(admin_url),
            None => {
                let dir = tempfile::tempdir().expect("temp dir for sqlite");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                Self {
                    url,
                    _dir: Some(dir),
                    postgres: None,
                }
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    fn postgres(admin_url: String) -> Self {
        let name = format!("wp_test_{}", crate::random::token_hex(8));
        let mut admin =
            diesel::PgConnection::establish(&admin_url).expect("connect to TEST_DATABASE_URL");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .expect("create a test database");
        let (base, query) = match admin_url.split_once('?') {
            Some((base, query)) => (base, format!("?{query}")),
            None => (admin_url.as_str(), String::new()),
        };
        let server = base
            .rsplit_once('/')
            .map(|(server, _)| server)
            .unwrap_or(base);
        Self {
            url: format!("{server}/{name}{query}"),
            _dir: None,
            postgres: Some((admin_url.clone(), name)),
        }
    }
}

impl Default for TestDatabase {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.postgres
            && let Ok(mut admin) = diesel::PgConnection::establish(admin_url)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin);
        }
    }
}

/// A `/metrics` answer read with a real parser of the exposition format.
pub struct Scraped(prometheus_parse::Scrape);

impl Scraped {
    pub fn parse(text: &str) -> Self {
        let lines = text.lines().map(|l| Ok(l.to_owned()));
        Self(prometheus_parse::Scrape::parse(lines).expect("a valid exposition"))
    }

    /// The sum of `metric`'s samples carrying `labels` (0 when there are none yet).
    pub fn value(&self, metric: &str, labels: &[(&str, &str)]) -> f64 {
        use prometheus_parse::Value;
        self.0
            .samples
            .iter()
            .filter(|s| s.metric == metric)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
                _ => panic!("{metric} is not a plain sample"),
            })
            .sum()
    }

    /// Every sample, for what [`Scraped::value`] does not ask (labels of any value).
    pub fn samples(&self) -> &[prometheus_parse::Sample] {
        &self.0.samples
    }
}

/// A stand-in OpenTelemetry collector on loopback: keeps every span posted to `/v1/traces`
/// (OTLP/HTTP with protobuf, decoded with the protocol's own types) with the
/// `service.name` of the resource it came under.
pub struct OtlpReceiver {
    port: u16,
    spans: std::sync::Arc<std::sync::Mutex<Vec<ReceivedSpan>>>,
}

/// A span as the receiver got it; ids in lower-case hex, `parent` empty for a root.
#[derive(Clone, Debug)]
pub struct ReceivedSpan {
    pub service: String,
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    pub parent: String,
    pub server: bool,
    pub attributes: Vec<(String, String)>,
}

impl ReceivedSpan {
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

impl OtlpReceiver {
    /// Listening, on a runtime of its own (no test's runtime has to drive it).
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("no free port on 127.0.0.1");
        let port = listener.local_addr().expect("a bound port").port();
        let spans: std::sync::Arc<std::sync::Mutex<Vec<ReceivedSpan>>> = std::sync::Arc::default();
        let kept = std::sync::Arc::clone(&spans);
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let kept = actix_web::web::Data::from(kept);
                actix_web::HttpServer::new(move || {
                    actix_web::App::new()
                        .app_data(kept.clone())
                        .route("/v1/traces", actix_web::web::post().to(receive))
                })
                .workers(1)
                .disable_signals()
                .listen(listener)
                .expect("listen")
                .run()
                .await
            })
        });
        Self { port, spans }
    }

    /// For `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().unwrap().clone()
    }
}

async fn receive(
    kept: actix_web::web::Data<std::sync::Mutex<Vec<ReceivedSpan>>>,
    body: actix_web::web::Bytes,
) -> actix_web::HttpResponse {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
    use prost::Message;
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return actix_web::HttpResponse::BadRequest().finish();
    };
    let text = |value: Option<Value>| match value {
        Some(Value::StringValue(s)) => s,
        Some(Value::IntValue(i)) => i.to_string(),
        other => format!("{other:?}"),
    };
    let mut kept = kept.lock().unwrap();
    for resource_spans in request.resource_spans {
        let service = resource_spans
            .resource
            .into_iter()
            .flat_map(|r| r.attributes)
            .find(|a| a.key == "service.name")
            .map(|a| text(a.value.and_then(|v| v.value)))
            .unwrap_or_default();
        for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
            kept.push(ReceivedSpan {
                service: service.clone(),
                server: span.kind == SpanKind::Server as i32,
                name: span.name,
                trace_id: hex::encode(span.trace_id),
                span_id: hex::encode(span.span_id),
                parent: hex::encode(span.parent_span_id),
                attributes: span
                    .attributes
                    .into_iter()
                    .map(|a| (a.key, text(a.value.and_then(|v| v.value))))
                    .collect(),
            });
        }
    }
    actix_web::HttpResponse::Ok()
        .content_type("application/x-protobuf")
        .finish()
}
