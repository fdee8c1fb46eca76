//! The gateway's HTTP server: its own HTTP/1.1 for plain requests ([`http1`]), hyper's
//! for the rest of a connection from its first request that is not plain. One
//! single-threaded runtime per worker, each worker accepting from the shared listener and
//! holding its own Redis connection, HTTP clients and connections to the services, so a
//! request is served start to end on one thread with no hand-off. actix-web's layers (its
//! per-request app service, extractors, middleware, payload and body adapters) cost about
//! 38,000 of a signed-in request's ~100,000 instructions; what every server does around a
//! request (ids, trace, span, metrics: [`shared::request`]) is done here as in the
//! services.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::http::request::Parts;
use hyper::server::conn::http1 as hyper_http1;
use hyper::service::service_fn;
use hyper::upgrade::OnUpgrade;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use shared::metrics::Metrics;
use shared::otel::Spans;
use shared::request::RequestScope;
use shared::server::{Drain, Halt, Running};
use tokio::sync::watch;
use tracing::Instrument;

use crate::auth::session::SessionCheck;
use crate::body::{self, Answer};
use crate::client_headers::{ClientHeaders, X_REQUEST_ID};
use crate::connections::Connections;
use crate::proxy::{self, ClientBody};
use crate::startup::GatewayState;
use crate::{docs, handler, http1, idle};

/// What one worker thread holds: the shared state and its own connections.
pub struct Worker {
    pub state: Arc<GatewayState>,
    /// For the gateway's own calls (roles, API descriptions), with the internal token.
    pub client: reqwest::Client,
    /// Forwarded requests' connections.
    pub connections: Connections,
    /// How long a client connection may go with no request in flight.
    pub idle_limit: Duration,
    pub sessions: SessionCheck,
    pub metrics: Metrics,
    pub drain: Drain,
    pub spans: Spans,
}

/// What a request is, besides its head, for the handlers.
pub struct RequestInfo<'a> {
    pub peer: SocketAddr,
    pub request_id: &'a str,
    pub trace: &'a shared::trace::TraceContext,
}

/// A handled request: the answer and the route it took, for the metrics and spans.
pub struct Handled {
    pub answer: Answer,
    /// The policy's resource, a route of the gateway's own, or `None`: no route matched.
    pub route: Option<String>,
}

/// Makes a worker on its own thread (its connections are tied to it).
pub type MakeWorker = Box<dyn FnOnce() -> Worker + Send>;

/// How the workers are told to stop: `Some(graceful)`.
type StopSignal = watch::Receiver<Option<bool>>;

/// Serves on `listener` with one thread per worker until halted (see [`Running`]).
pub fn serve(
    listener: TcpListener,
    workers: Vec<MakeWorker>,
    drain: &Drain,
) -> std::io::Result<Running> {
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let own = listener.try_clone()?;
    let (stop, stop_signal) = watch::channel(None);
    let (finished, mut all_finished) = watch::channel(0usize);
    let finished = Arc::new(finished);
    let count = workers.len();
    for (index, make_worker) in workers.into_iter().enumerate() {
        let listener = listener.try_clone()?;
        let stop_signal = stop_signal.clone();
        let finished = finished.clone();
        std::thread::Builder::new()
            .name(format!("gateway-worker-{index}"))
            .spawn(move || {
                // Counted as finished however the thread ends.
                let _finished = Finished(finished);
                run_worker(listener, make_worker, stop_signal);
            })?;
    }
    let done = async move {
        let _ = all_finished.wait_for(|n| *n >= count).await;
        Ok(())
    };
    let halt = Arc::new(Halting {
        stop,
        finished: finished.subscribe(),
        count,
    });
    Ok(Running::new(port, Box::pin(done), halt, drain, own))
}

struct Finished(Arc<watch::Sender<usize>>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n += 1);
    }
}

struct Halting {
    stop: watch::Sender<Option<bool>>,
    finished: watch::Receiver<usize>,
    count: usize,
}

impl Halt for Halting {
    fn halt(&self, graceful: bool) -> BoxFuture<'static, ()> {
        self.stop.send_replace(Some(graceful));
        let mut finished = self.finished.clone();
        let count = self.count;
        Box::pin(async move {
            let _ = finished.wait_for(|n| *n >= count).await;
        })
    }
}

fn run_worker(listener: TcpListener, make_worker: MakeWorker, stop: StopSignal) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::error!(error = %err, "a gateway worker could not start its runtime");
            return;
        }
    };
    runtime.block_on(accept_until_stopped(listener, make_worker(), stop));
}

async fn accept_until_stopped(listener: TcpListener, worker: Worker, mut stop: StopSignal) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(err) => {
            tracing::error!(error = %err, "a gateway worker could not listen");
            return;
        }
    };
    let worker = Arc::new(worker);
    tokio::spawn({
        let worker = worker.clone();
        async move { worker.connections.wake_to_look().await }
    });
    let timeout = worker.drain.timeout;
    let connections = open::Connections::default();
    let graceful = loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let guard = connections.enter();
                    let worker = worker.clone();
                    let stop = stop.clone();
                    tokio::spawn(async move {
                        serve_connection(stream, peer, worker, stop).await;
                        drop(guard);
                    });
                }
                // Out of descriptors, or a connection reset while queued: keep accepting.
                Err(err) => {
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = stop.changed() => break stop.borrow().unwrap_or(false),
        }
    };
    drop(listener);
    if graceful {
        // Every connection closes once its request in flight is answered.
        let _ = tokio::time::timeout(timeout, connections.all_closed()).await;
    }
}

async fn serve_connection(
    mut stream: tokio::net::TcpStream,
    peer: SocketAddr,
    worker: Arc<Worker>,
    mut stop: StopSignal,
) {
    let _ = stream.set_nodelay(true);
    let idle_limit = worker.idle_limit;
    let activity = Arc::new(idle::Activity::default());
    let plain = http1::serve(
        &mut stream,
        &activity,
        stop.clone(),
        proxy::BUFFERED_BODY_LIMIT,
        |head, body| worker.serve(head, ClientBody::Whole(body), None, peer),
    );
    let ended = tokio::select! {
        biased;
        ended = plain => ended,
        () = idle::quiet_for(&activity, idle_limit) => return,
        // A halt that is not graceful drops the request in flight; a graceful one lets
        // the plain server answer it first.
        _ = stop.wait_for(|stop| *stop == Some(false)) => return,
    };
    if let http1::Ended::Handover(read) = ended {
        serve_with_hyper(
            http1::Rewind::new(read, stream),
            peer,
            worker,
            activity,
            stop,
        )
        .await;
    }
}

/// Serves the rest of a connection with hyper, from a request that is not plain on.
async fn serve_with_hyper(
    stream: http1::Rewind,
    peer: SocketAddr,
    worker: Arc<Worker>,
    activity: Arc<idle::Activity>,
    mut stop: StopSignal,
) {
    let idle_limit = worker.idle_limit;
    let service = service_fn({
        let activity = activity.clone();
        move |mut req: Request<Incoming>| {
            let in_flight = activity.begin();
            let worker = worker.clone();
            async move {
                // Taken before the head is borrowed: hyper's hold on the connection for a
                // WebSocket handshake (an empty one unless the request asked to switch).
                let upgrade = hyper::upgrade::on(&mut req);
                let (head, body) = req.into_parts();
                let answer = worker
                    .serve(head, ClientBody::Incoming(body), Some(upgrade), peer)
                    .await;
                let answer = body::for_hyper(answer);
                Ok::<_, Infallible>(answer.map(|body| idle::Tracked::new(body, in_flight)))
            }
        }
    });
    // No header-read timeout of hyper's (a timer per request): a connection that is idle,
    // or slow to send a head, for `idle_limit` is closed by `quiet_for` instead.
    let connection = hyper_http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(connection);
    if stop.borrow_and_update().is_none() {
        tokio::select! {
            _ = connection.as_mut() => return,
            () = idle::quiet_for(&activity, idle_limit) => return,
            _ = stop.changed() => {}
        }
    }
    if *stop.borrow() == Some(true) {
        connection.as_mut().graceful_shutdown();
        let _ = connection.await;
    }
}

impl Worker {
    /// What every server does around a request ([`RequestScope`], metrics, the drain's
    /// `Connection: close`), around the gateway's routes.
    async fn serve(
        self: &Arc<Self>,
        head: Parts,
        body: ClientBody,
        upgrade: Option<OnUpgrade>,
        peer: SocketAddr,
    ) -> Answer {
        let timer = self.metrics.request_started();
        let sent = ClientHeaders::pick(&head.headers);
        let scope = RequestScope::begin(
            "gateway",
            Some(&self.spans),
            head.method.as_str(),
            head.uri.path(),
            sent.request_id.map(HeaderValue::as_bytes),
            sent.traceparent.map(HeaderValue::as_bytes),
        );
        let info = RequestInfo {
            peer,
            request_id: &scope.request_id,
            trace: &scope.trace,
        };
        let request = handler::Received {
            head: &head,
            sent: &sent,
            body,
            upgrade,
        };
        let work = self.route(request, &info);
        let handled =
            shared::trace::scope(scope.trace.clone(), work.instrument(scope.span.clone())).await;
        let mut answer = handled.answer;
        answer
            .body_mut()
            .fields
            .push(&X_REQUEST_ID, scope.request_id.as_bytes());
        if self.drain.is_draining() {
            answer
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        let status = answer.status().as_u16();
        let method = head.method.as_str();
        let route = handled.route.unwrap_or_else(|| "unmatched".to_owned());
        scope.finish(method, || route.clone(), status);
        if let Some(timer) = timer {
            timer.finish(route, method, status);
        }
        answer
    }

    /// The gateway's own routes, or the gateway itself.
    async fn route(
        self: &Arc<Self>,
        request: handler::Received<'_>,
        info: &RequestInfo<'_>,
    ) -> Handled {
        let path = request.head.uri.path();
        if path == "/readyz" && self.drain.is_draining() {
            return own("/readyz", body::readiness(&[("draining", false)]));
        }
        if request.head.method == Method::GET {
            match path {
                "/healthz" => {
                    return own(
                        "/healthz",
                        body::json(StatusCode::OK, &shared::http::healthy()),
                    );
                }
                // The gateway's own routes are boxed: rare, with large futures (Redis, HTTP
                // calls), and a request's future is moved whole into the server's.
                "/readyz" => {
                    let answer = Box::pin(handler::readyz(&self.state)).await;
                    return own("/readyz", answer);
                }
                "/v1/openapi.json" => {
                    let answer = Box::pin(docs::openapi(&self.state, &self.client)).await;
                    return own("/v1/openapi.json", answer);
                }
                "/docs" | "/docs/" => return own("/docs", docs::page()),
                _ => {}
            }
            if let Some(file) = path
                .strip_prefix("/docs/assets/")
                .filter(|f| !f.is_empty() && !f.contains('/'))
            {
                let answer = Box::pin(docs::asset(&self.state, file)).await;
                return own("/docs/assets/{file}", answer);
            }
        }
        handler::gateway(self, request, info).await
    }
}

fn own(route: &'static str, answer: Answer) -> Handled {
    Handled {
        answer,
        route: Some(route.to_owned()),
    }
}

/// Counts the connections a worker serves, to wait for the last one to close.
mod open {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::sync::Notify;

    #[derive(Default)]
    pub struct Connections(Arc<(AtomicUsize, Notify)>);

    pub struct Guard(Arc<(AtomicUsize, Notify)>);

    impl Connections {
        pub fn enter(&self) -> Guard {
            self.0.0.fetch_add(1, Ordering::Relaxed);
            Guard(self.0.clone())
        }

        pub async fn all_closed(&self) {
            loop {
                let closed = self.0.1.notified();
                if self.0.0.load(Ordering::Relaxed) == 0 {
                    return;
                }
                closed.await;
            }
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            if self.0.0.fetch_sub(1, Ordering::Relaxed) == 1 {
                self.0.1.notify_waiters();
            }
        }
    }
}
