//! Each worker's own kept-alive HTTP/1 connections to the services.
//!
//! A worker thread serves a request from start to end, so its connections to the services
//! need no shared pool and no hand-off: each replica has a stack of idle connections, a request
//! takes the most recently used one (or opens one) and its [`Lease`] puts it back once
//! the answer's body has been read to its end. hyper-util's pooled client did the same
//! with a spawned task per request and a wake-up of the connection's task on another
//! thread: about a quarter of a forwarded request's instructions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use shared::{ApiError, Code};
use tokio::net::TcpStream;

use crate::body::ToService;

/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// An idle connection older than this is closed rather than used: the services keep theirs
/// 75 s ([`shared::server::KEEP_ALIVE`]), so the gateway always closes first and never
/// sends a request on a connection the service is closing.
const IDLE_FOR_AT_MOST: Duration = Duration::from_secs(60);

type Idle = Mutex<Vec<(SendRequest<ToService>, Instant)>>;

/// One worker's connections, by replica base URL.
pub struct Connections {
    idle: Mutex<HashMap<Arc<str>, Arc<Idle>>>,
    /// How long a service may take to send its answer's head.
    timeout: Duration,
}

/// A connection carrying an answer whose body is still being read.
pub struct Lease {
    sender: SendRequest<ToService>,
    home: Arc<Idle>,
}

impl Lease {
    /// The answer has been read: the connection may carry the next request.
    pub fn give_back(self) {
        if !self.sender.is_closed() {
            locked(&self.home).push((self.sender, Instant::now()));
        }
    }
}

impl Connections {
    pub fn new(timeout: Duration) -> Self {
        Self {
            idle: Mutex::default(),
            timeout,
        }
    }

    /// Sends `request` (origin-form URI, `Host` set) to the replica at `base_url`
    /// (`http://host:port`) and waits for the answer's head; the [`Lease`] goes with its
    /// body.
    pub async fn send(
        &self,
        base_url: &Arc<str>,
        mut request: Request<ToService>,
    ) -> Result<(Response<Incoming>, Lease), ApiError> {
        let home = self.home(base_url);
        let sent = async {
            // A kept connection the service closed meanwhile hands the request back
            // unsent; then it goes on a fresh connection.
            while let Some(mut sender) = take_idle(&home) {
                if sender.ready().await.is_err() {
                    continue;
                }
                match sender.try_send_request(request).await {
                    Ok(response) => return Ok((response, sender)),
                    Err(mut err) => match err.take_message() {
                        Some(unsent) => request = unsent,
                        None => return Err(bad_gateway(err.into_error())),
                    },
                }
            }
            // Boxed: rare, and large (a request's future is moved whole into the server's).
            let mut sender = Box::pin(connect(base_url)).await?;
            let response = sender.send_request(request).await.map_err(bad_gateway)?;
            Ok((response, sender))
        };
        let (response, sender) =
            tokio::time::timeout(self.timeout, sent)
                .await
                .map_err(|_| {
                    ApiError::new(Code::UpstreamTimeout, "The service did not answer in time.")
                })??;
        Ok((response, Lease { sender, home }))
    }

    fn home(&self, base_url: &Arc<str>) -> Arc<Idle> {
        let mut idle = locked(&self.idle);
        if let Some(home) = idle.get(base_url) {
            return home.clone();
        }
        idle.entry(base_url.clone()).or_default().clone()
    }
}

/// The most recently used idle connection still worth using.
fn take_idle(home: &Idle) -> Option<SendRequest<ToService>> {
    let mut idle = locked(home);
    while let Some((sender, since)) = idle.pop() {
        if !sender.is_closed() && since.elapsed() < IDLE_FOR_AT_MOST {
            return Some(sender);
        }
    }
    None
}

async fn connect(base_url: &str) -> Result<SendRequest<ToService>, ApiError> {
    let address = base_url.strip_prefix("http://").unwrap_or(base_url);
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
        .await
        .map_err(|_| unavailable(anyhow::anyhow!("connecting to {address} timed out")))?
        .map_err(unavailable)?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(unavailable)?;
    // On this worker's runtime, like the requests that use it.
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::debug!(error = %err, "connection to a service ended");
        }
    });
    Ok(sender)
}

/// Only this worker's thread takes these locks, so they are never contended (they make the
/// worker `Sync`, so that its tasks go on the runtime's own queue rather than a `LocalSet`).
fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn unavailable(err: impl Into<anyhow::Error>) -> ApiError {
    ApiError::new(
        Code::UpstreamUnavailable,
        "The service is unavailable; retry shortly.",
    )
    .with_source(err)
}

fn bad_gateway(err: hyper::Error) -> ApiError {
    ApiError::new(Code::BadGateway, "The service answered badly.").with_source(err)
}
