//! What every service's HTTP server is built from, so each `startup.rs` only says what is
//! particular to it.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_http::Request;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{
    AppConfig, ServerHandle, Service, ServiceFactory, ServiceRequest, ServiceResponse,
};
use actix_web::http::ConnectionType;
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpServer, web};
use futures_util::future::BoxFuture;

use crate::config::{Secret, ServerSettings};
use crate::error::{ApiError, Code};
use crate::identity::InternalToken;
use crate::otel::Spans;
use crate::tasks::Tasks;

/// How long an idle keep-alive connection stays open. Longer than the idle timeout of the
/// pools that call us (nginx's upstream keepalive and the gateway's client: 60 s), so the
/// caller always closes first: were we to close first, a request sent on the connection at
/// that moment would fail, and a proxy does not retry a POST (a 502 for the user).
pub const KEEP_ALIVE: Duration = Duration::from_secs(75);

/// A service's app: every request measured (latency by route template, method and
/// status class; in flight), every error in the JSON shape, a span and request id per
/// request (exported when `spans` is on), the internal token required on every path but
/// the health checks, the service's context, metrics, the token, the [`Drain`] and the
/// span export as app data, the shared extractor settings and the JSON 404, then the
/// service's own routes.
pub fn app<T: 'static>(
    context: web::Data<T>,
    metrics: crate::metrics::Metrics,
    internal_token: Secret,
    drain: Drain,
    spans: Spans,
    routes: fn(&mut web::ServiceConfig),
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .wrap(from_fn(require_internal_token))
        .wrap(crate::http::json_error_handlers())
        .wrap(from_fn(edge))
        .app_data(context)
        .app_data(web::Data::new(metrics))
        .app_data(InternalToken::new(internal_token))
        .app_data(drain)
        .app_data(spans)
        .configure(crate::http::configure)
        .configure(routes)
}

/// Paths anyone who reaches a service may call: a load balancer or an orchestrator probes
/// them without Waypoint's secrets.
pub const OPEN_PATHS: [&str; 2] = ["/healthz", "/readyz"];

/// Middleware: nothing but [`OPEN_PATHS`] is served without the internal token. It runs
/// before routing, so a route added tomorrow (or a path that matches none) is covered too;
/// no service trusts whoever reaches its port.
pub async fn require_internal_token(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if OPEN_PATHS.contains(&req.path()) || InternalToken::vouches_for(req.request()) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let refused = ApiError::new(
        Code::InternalTokenRequired,
        "This service answers only Waypoint's gateway and services.",
    );
    Ok(req.error_response(refused).map_into_boxed_body())
}

/// How a replica leaves (SIGTERM, Ctrl-C, or [`Stopper::stop`] in a test): `/readyz`
/// answers 503 at once and every response closes its connection, so balancers and pooled
/// clients move to other replicas; after `grace` the replica says goodbye (chat closes its
/// sockets with 1001), stops accepting connections and lets the requests in flight finish,
/// and everything is over within `timeout` of the grace's end. [`app`] carries it as app
/// data (an app built by hand registers it beside [`while_draining`]); [`serve`] applies
/// its timeout.
#[derive(Clone)]
pub struct Drain {
    draining: Arc<AtomicBool>,
    /// Turns true when the grace is over.
    grace_over: Arc<tokio::sync::watch::Sender<bool>>,
    /// `SHUTDOWN_GRACE`, default 2 s: how long `/readyz` says 503 before the listener closes.
    pub grace: Duration,
    /// `SHUTDOWN_TIMEOUT`, default 10 s: the longest wait after the grace for sockets to
    /// close and requests in flight to finish; whatever is left then is cut.
    pub timeout: Duration,
}

impl Drain {
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        Ok(Self::new(
            crate::config::duration("SHUTDOWN_GRACE", Duration::from_secs(2))?,
            crate::config::duration("SHUTDOWN_TIMEOUT", Duration::from_secs(10))?,
        ))
    }

    pub fn new(grace: Duration, timeout: Duration) -> Self {
        Self {
            draining: Arc::default(),
            grace_over: Arc::new(tokio::sync::watch::Sender::new(false)),
            grace,
            timeout,
        }
    }

    /// Resolves once the grace is over (never, while the replica is not stopping). What
    /// lives longer than a request (the gateway's WebSocket tunnels) ends then, as
    /// chat-service closes its sockets, instead of holding the stop until the timeout.
    pub async fn grace_over(&self) {
        let mut over = self.grace_over.subscribe();
        let _ = over.wait_for(|over| *over).await;
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// actix's own bound on the requests in flight, for `HttpServer::shutdown_timeout`.
    pub fn timeout_secs(&self) -> u64 {
        self.timeout.as_secs().max(1)
    }
}

/// Middleware: once the app's [`Drain`] has begun, `/readyz` is a 503 and no connection is
/// kept alive.
pub async fn while_draining(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    draining(req, |req| next.call(req)).await
}

/// [`while_draining`] around `inner`, the rest of the request's handling.
async fn draining<B: MessageBody + 'static>(
    req: ServiceRequest,
    inner: impl AsyncFnOnce(ServiceRequest) -> Result<ServiceResponse<B>, actix_web::Error>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let draining = req.app_data::<Drain>().is_some_and(Drain::is_draining);
    let mut res = if draining && req.path() == "/readyz" {
        let unready = crate::http::readiness(&[("draining", false)]);
        req.into_response(unready).map_into_boxed_body()
    } else {
        inner(req).await?.map_into_boxed_body()
    };
    if draining {
        res.response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    Ok(res)
}

/// Middleware: [`crate::metrics::record_request`], [`crate::http::request_context`] and
/// [`while_draining`], in that order, as one layer instead of three (each `from_fn` layer
/// boxes a future and makes a dynamic call per request: a few hundred instructions of a
/// signed-in request's ~100,000 through the gateway). Wrapped last (outermost), around
/// [`crate::http::json_error_handlers`], so that a response the error handlers rebuilt
/// still closes its connection while draining.
pub async fn edge(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    crate::metrics::recording(req, async |req| {
        crate::http::in_context(req, async |req| draining(req, |req| next.call(req)).await).await
    })
    .await
}

/// What a replica does last, before it stops accepting connections (chat: close sockets).
pub type Goodbye = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

/// What stops a server once its drain's grace is over: actix's handle, or the gateway's
/// own server.
pub trait Halt: Send + Sync + 'static {
    /// Stops accepting connections; `graceful`: lets the requests in flight finish, within
    /// the drain's timeout; otherwise cuts them.
    fn halt(&self, graceful: bool) -> BoxFuture<'static, ()>;
}

impl Halt for ServerHandle {
    fn halt(&self, graceful: bool) -> BoxFuture<'static, ()> {
        Box::pin(self.stop(graceful))
    }
}

/// Stops a running server the [`Drain`] way.
#[derive(Clone)]
pub struct Stopper {
    server: Arc<dyn Halt>,
    drain: Drain,
    goodbye: Option<Goodbye>,
    /// The listening socket (a second descriptor of it), until the stop turns new
    /// connections away.
    listener: Arc<std::sync::Mutex<Option<TcpListener>>>,
}

/// How long the accept loop gets to take the connections already queued once new ones
/// are turned away, before the listener closes.
const ACCEPT_QUEUED: Duration = Duration::from_millis(100);

impl Stopper {
    /// An actix server must have been built with `.disable_signals()` (the stop is ours)
    /// and `.shutdown_timeout(drain.timeout_secs())`, as [`serve`] does.
    fn new(server: Arc<dyn Halt>, drain: &Drain, listener: TcpListener) -> Self {
        Self {
            server,
            drain: drain.clone(),
            goodbye: None,
            listener: Arc::new(std::sync::Mutex::new(Some(listener))),
        }
    }

    /// Closing a listener resets the connections the kernel has queued but the server has
    /// not accepted yet, with the request a client may already have sent on them: a proxy
    /// cannot retry that safely (nginx answered a POST with 502 in the rolling-restart
    /// bench). So first the listener drops every new SYN (a filter that accepts nothing),
    /// then the queue is taken and served, then the listener closes. A client whose SYN
    /// was dropped retries it after a second and is refused then: an error any client
    /// may retry elsewhere, as nothing was sent.
    async fn turn_new_connections_away(&self) {
        let listener = self
            .listener
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let Some(listener) = listener else { return };
        let reject_all = [socket2::SockFilter::new(0x06, 0, 0, 0)]; // BPF `ret #0`
        if let Err(err) = socket2::SockRef::from(&listener).attach_filter(&reject_all) {
            tracing::warn!(error = %err, "new connections not turned away before the listener closes");
            return;
        }
        // Our descriptor goes now: the socket must close with the server's.
        drop(listener);
        tokio::time::sleep(ACCEPT_QUEUED).await;
    }

    pub fn with_goodbye(mut self, goodbye: Goodbye) -> Self {
        self.goodbye = Some(goodbye);
        self
    }

    pub async fn stop(&self) {
        self.drain.draining.store(true, Ordering::Relaxed);
        tracing::info!(grace = ?self.drain.grace, "draining: /readyz answers 503");
        tokio::time::sleep(self.drain.grace).await;
        self.drain.grace_over.send_replace(true);
        if let Some(goodbye) = &self.goodbye {
            let _ = tokio::time::timeout(self.drain.timeout, goodbye()).await;
        }
        self.turn_new_connections_away().await;
        tracing::info!("draining: listener closed, finishing requests in flight");
        self.server.halt(true).await;
    }
}

/// Stops the server the [`Drain`] way on SIGTERM or Ctrl-C (a binary's `main` calls this).
pub fn stop_on_signal(stopper: Stopper) {
    tokio::spawn(async move {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = terminate => {}
        }
        stopper.stop().await;
    });
}

/// A service started the way every service is: its `routes` in [`app`] on `listener`
/// with `settings.workers` workers, its metrics listener (`METRICS_ADDR`) and span export
/// started, its stop drained (`SHUTDOWN_GRACE`, `SHUTDOWN_TIMEOUT`). The caller adds its
/// background tasks to the [`Running`].
pub fn serve_service<T: Send + Sync + 'static>(
    name: &'static str,
    settings: &ServerSettings,
    listener: TcpListener,
    context: web::Data<T>,
    metrics: crate::metrics::Metrics,
    routes: fn(&mut web::ServiceConfig),
) -> anyhow::Result<Running> {
    let metrics_port = metrics.serve(settings.metrics_addr.as_deref())?;
    let spans = Spans::start(&settings.otlp, name)?;
    let drain = Drain::from_env()?;
    let internal_token = settings.internal_token.clone();
    let (app_drain, app_spans) = (drain.clone(), spans.clone());
    let server = HttpServer::new(move || {
        app(
            context.clone(),
            metrics.clone(),
            internal_token.clone(),
            app_drain.clone(),
            app_spans.clone(),
            routes,
        )
    });
    let running = serve(server, listener, settings.workers, &drain)?
        .with_metrics_port(metrics_port)
        .with_spans(spans);
    tracing::info!(port = running.port(), "{name} listening");
    Ok(running)
}

/// Serves on `listener` the way every part does: `workers` workers, connections kept
/// alive for [`KEEP_ALIVE`], no signal handling of actix's own (the binary's `main` turns
/// SIGTERM into the [`Drain`] way through [`stop_on_signal`]), and the drain's bound on the
/// requests in flight. The apps must carry `drain` as app data (see [`app`]).
pub fn serve<F, I, S, B>(
    server: HttpServer<F, I, S, B>,
    listener: TcpListener,
    workers: usize,
    drain: &Drain,
) -> std::io::Result<Running>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: actix_service::IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<actix_web::dev::Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let own = listener.try_clone()?;
    let port = listener.local_addr()?.port();
    let server = server
        .workers(workers)
        .keep_alive(KEEP_ALIVE)
        .disable_signals()
        .shutdown_timeout(drain.timeout_secs())
        .listen(listener)?
        .run();
    let handle = Arc::new(server.handle());
    Ok(Running::new(port, Box::pin(server), handle, drain, own))
}

/// A part's server once started ([`serve`]): where it listens, how to stop it, and what
/// ends with it.
pub struct Running {
    port: u16,
    metrics_port: Option<u16>,
    /// Resolves when the server has stopped.
    server: BoxFuture<'static, std::io::Result<()>>,
    halt: Arc<dyn Halt>,
    stopper: Stopper,
    /// Flushed once the server has stopped.
    spans: Spans,
    /// The part's background loops, ended once the server has stopped.
    tasks: Tasks,
}

impl Running {
    /// A server listening on `port` (`listener` is a second descriptor of its socket, for
    /// the drained stop), done when `server` resolves, stopped through `halt`.
    pub fn new(
        port: u16,
        server: BoxFuture<'static, std::io::Result<()>>,
        halt: Arc<dyn Halt>,
        drain: &Drain,
        listener: TcpListener,
    ) -> Self {
        Self {
            port,
            metrics_port: None,
            server,
            stopper: Stopper::new(halt.clone(), drain, listener),
            halt,
            spans: Spans::default(),
            tasks: Tasks::default(),
        }
    }

    /// Where `/metrics` answers, when `METRICS_ADDR` is set.
    pub fn with_metrics_port(mut self, metrics_port: Option<u16>) -> Self {
        self.metrics_port = metrics_port;
        self
    }

    pub fn with_spans(mut self, spans: Spans) -> Self {
        self.spans = spans;
        self
    }

    pub fn with_tasks(mut self, tasks: Tasks) -> Self {
        self.tasks = tasks;
        self
    }

    /// What the drained stop does last before the listener closes (see [`Stopper`]).
    pub fn with_goodbye(mut self, goodbye: Goodbye) -> Self {
        self.stopper = self.stopper.with_goodbye(goodbye);
        self
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where `/metrics` answers, when `METRICS_ADDR` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    /// Stops the server at once, without the drain (tests take a part down with it).
    pub fn halt(&self) -> Arc<dyn Halt> {
        self.halt.clone()
    }

    /// Stops this replica the drained way (what SIGTERM does; see [`Drain`]).
    pub fn stopper(&self) -> Stopper {
        self.stopper.clone()
    }

    /// Serves until stopped; then ends the background loops and flushes the spans.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.tasks.abort_all();
        self.spans.shutdown().await;
        result
    }
}

/// The listener on `addr` (a service's `BIND_ADDR`), named in the error when it is taken.
pub fn bind(addr: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).map_err(|err| anyhow::anyhow!("binding BIND_ADDR={addr}: {err}"))
}

#[cfg(test)]
mod tests {
    use actix_web::http::{Method, StatusCode};
    use actix_web::{HttpResponse, test, web};

    use crate::config::Secret;
    use crate::identity::names::INTERNAL_TOKEN;

    fn routes(cfg: &mut web::ServiceConfig) {
        cfg.route("/healthz", web::get().to(crate::http::healthz))
            .route(
                "/readyz",
                web::get().to(|| async { crate::http::readiness(&[("redis", false)]) }),
            )
            .route("/v1/things", web::post().to(HttpResponse::Created));
    }

    #[actix_web::test]
    async fn only_the_health_checks_answer_without_the_internal_token() {
        let app = test::init_service(super::app(
            web::Data::new(()),
            crate::metrics::Metrics::new("test"),
            Secret::new("s3cret"),
            super::Drain::new(Default::default(), Default::default()),
            Default::default(),
            routes,
        ))
        .await;
        let call = |method: Method, path: &str, token: Option<&str>| {
            let mut req = test::TestRequest::default().method(method).uri(path);
            if let Some(token) = token {
                req = req.insert_header((INTERNAL_TOKEN, token));
            }
            req.to_request()
        };

        let healthz = test::call_service(&app, call(Method::GET, "/healthz", None)).await;
        assert_eq!(healthz.status(), StatusCode::OK);
        let readyz = test::call_service(&app, call(Method::GET, "/readyz", None)).await;
        assert_eq!(readyz.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(readyz.headers().get("retry-after").unwrap(), "1");

        // A real route, an unknown one and a wrong method: all refused alike, before
        // routing, with a wrong token as with none.
        for (method, path) in [
            (Method::POST, "/v1/things"),
            (Method::GET, "/v1/things"),
            (Method::DELETE, "/nowhere"),
            (Method::GET, "/healthz/x"),
        ] {
            for token in [None, Some("s3cretX"), Some("")] {
                let res = test::call_service(&app, call(method.clone(), path, token)).await;
                assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
                let body: serde_json::Value = test::read_body_json(res).await;
                assert_eq!(body["error"]["code"], "internal_token_required");
            }
        }
        let res = test::call_service(&app, call(Method::POST, "/v1/things", Some("s3cret"))).await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }

    #[actix_web::test]
    async fn while_draining_error_responses_rebuilt_as_json_close_their_connection_too() {
        use actix_web::http::ConnectionType;

        fn routes(cfg: &mut web::ServiceConfig) {
            cfg.route("/v1/bad", web::get().to(HttpResponse::BadRequest));
        }
        let drain = super::Drain::new(Default::default(), Default::default());
        let app = test::init_service(super::app(
            web::Data::new(()),
            crate::metrics::Metrics::new("test"),
            Secret::new("s3cret"),
            drain.clone(),
            Default::default(),
            routes,
        ))
        .await;
        let call = || {
            test::TestRequest::get()
                .uri("/v1/bad")
                .insert_header((INTERNAL_TOKEN, "s3cret"))
                .to_request()
        };
        let res = test::call_service(&app, call()).await;
        assert_ne!(
            res.response().head().connection_type(),
            ConnectionType::Close
        );

        drain
            .draining
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let res = test::call_service(&app, call()).await;
        assert_eq!(
            res.response().head().connection_type(),
            ConnectionType::Close
        );
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let body: serde_json::Value = test::read_body_json(res).await;
        assert_eq!(body["error"]["code"], "bad_request", "{body}");
    }

    /// One HTTP/1.1 GET on a fresh connection: the status and the whole response.
    async fn get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n{INTERNAL_TOKEN}: s3cret\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut answer = Vec::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(5),
            stream.read_to_end(&mut answer),
        )
        .await??;
        let head = String::from_utf8_lossy(&answer).to_lowercase();
        let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        Ok((status, head))
    }

    /// A service app with `routes` on a free port, served the [`super::serve`] way.
    fn start(
        routes: fn(&mut web::ServiceConfig),
        grace: std::time::Duration,
        workers: usize,
    ) -> (
        u16,
        super::Stopper,
        actix_web::rt::task::JoinHandle<std::io::Result<()>>,
    ) {
        let drain = super::Drain::new(grace, std::time::Duration::from_secs(5));
        let listener = super::bind("127.0.0.1:0").unwrap();
        let app_drain = drain.clone();
        let server = actix_web::HttpServer::new(move || {
            super::app(
                web::Data::new(()),
                crate::metrics::Metrics::new("test"),
                Secret::new("s3cret"),
                app_drain.clone(),
                Default::default(),
                routes,
            )
        });
        let running = super::serve(server, listener, workers, &drain).unwrap();
        let (port, stopper) = (running.port(), running.stopper());
        (
            port,
            stopper,
            actix_web::rt::spawn(running.run_until_stopped()),
        )
    }

    #[actix_web::test]
    async fn a_stopping_replica_turns_unready_then_finishes_what_it_started() {
        use std::time::{Duration, Instant};

        fn routes(cfg: &mut web::ServiceConfig) {
            cfg.route(
                "/readyz",
                web::get().to(|| async { crate::http::readiness(&[("redis", true)]) }),
            )
            .route(
                "/slow",
                web::get().to(|| async {
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                    HttpResponse::Ok().body("done")
                }),
            );
        }
        let (port, stopper, running) = start(routes, Duration::from_millis(500), 1);
        assert_eq!(get(port, "/readyz").await.unwrap().0, 200);

        let slow = actix_web::rt::spawn(get(port, "/slow"));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        let stopping = actix_web::rt::spawn(async move { stopper.stop().await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Still accepting connections, but saying it is leaving.
        let (status, head) = get(port, "/readyz").await.unwrap();
        assert_eq!(status, 503, "{head}");
        assert!(head.contains("\"draining\""), "{head}");

        let (status, head) = slow.await.unwrap().unwrap();
        assert_eq!(status, 200, "the request in flight finished: {head}");
        stopping.await.unwrap();
        running.await.unwrap().unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(500),
            "the grace was kept"
        );
        assert!(
            get(port, "/readyz").await.is_err(),
            "the listener is closed"
        );
    }

    /// What one fresh connection with a POST on it came to while the server stopped.
    enum Attempt {
        Answered,
        /// Refused or never accepted before the request was written: safe to retry.
        NotSent,
        /// Written, then reset or closed unanswered: what a proxy cannot retry.
        Lost(String),
    }

    async fn post_on_a_new_connection(port: u16) -> Attempt {
        use std::time::Duration;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let connect = tokio::net::TcpStream::connect(("127.0.0.1", port));
        let Ok(Ok(mut stream)) = tokio::time::timeout(Duration::from_secs(3), connect).await else {
            return Attempt::NotSent;
        };
        let request = format!(
            "POST /v1/things HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n{INTERNAL_TOKEN}: s3cret\r\n\r\n"
        );
        if let Err(err) = stream.write_all(request.as_bytes()).await {
            return Attempt::Lost(format!("write: {err}"));
        }
        let mut answer = [0u8; 12];
        match tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut answer)).await {
            Ok(Ok(_)) => Attempt::Answered,
            Ok(Err(err)) => Attempt::Lost(err.to_string()),
            Err(_) => Attempt::Lost("no answer in 5 s".into()),
        }
    }

    #[actix_web::test]
    async fn a_request_on_a_connection_made_while_the_listener_closes_is_served_or_never_sent() {
        use std::time::{Duration, Instant};

        let (port, stopper, running) = start(routes, Duration::from_millis(200), 2);
        // Clients opening a connection per request, as nginx does to a draining replica
        // (every answer closes the connection), until the port refuses them.
        let clients: Vec<_> = (0..4)
            .map(|_| {
                actix_web::rt::spawn(async move {
                    let (mut answered, mut lost) = (0, Vec::new());
                    let started = Instant::now();
                    while started.elapsed() < Duration::from_secs(10) && answered < 50_000 {
                        match post_on_a_new_connection(port).await {
                            Attempt::Answered => answered += 1,
                            Attempt::NotSent => break,
                            Attempt::Lost(why) => lost.push(why),
                        }
                    }
                    (answered, lost)
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        stopper.stop().await;
        running.await.unwrap().unwrap();
        for client in clients {
            let (answered, lost) = client.await.unwrap();
            assert!(answered > 0, "the client ran");
            assert!(lost.is_empty(), "{} requests lost: {lost:?}", lost.len());
        }
    }
}
