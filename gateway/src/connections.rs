//! Each worker's own kept-alive HTTP/1.1 connections to the services, and the exchange of a
//! request and its answer on one of them.
//!
//! A worker thread serves a request from start to end, so its connections to the services
//! need no shared pool and no hand-off: each replica has a stack of idle connections, a
//! request takes the most recently used one (or opens one), writes its head and body and
//! reads the answer in its own task, and the answer's body ([`ServiceBody`]) puts the
//! connection back once read to its end. hyper's client did the same work in a task of
//! its own per connection, woken through channels twice per request: a fifth of a
//! forwarded request's instructions (`bench/gateway profile`). The wire format is
//! [`crate::wire`]'s.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker, ready};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::Method;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::HeaderName;
use shared::{ApiError, Code};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::fast_map::FastMap;
use crate::wire::{self, Framing, Next, ResponseHead};

/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// An idle connection older than this is closed rather than used: the services keep theirs
/// 75 s ([`shared::server::KEEP_ALIVE`]), so the gateway always closes first and never
/// sends a request on a connection the service is closing.
const IDLE_FOR_AT_MOST: Duration = Duration::from_secs(60);
/// How long the rest of a streamed body is still sent after the service answered early.
const EARLY_ANSWER_GRACE: Duration = Duration::from_secs(1);
/// Bytes read from a service at a time.
const READ_CHUNK: usize = 8 * 1024;

type Idle = Mutex<Vec<(Connection, Instant)>>;

/// One worker's connections, by replica base URL.
pub struct Connections {
    idle: Mutex<FastMap<Arc<str>, Arc<Idle>>>,
    /// How long a service may take to send its answer's head.
    timeout: Duration,
    /// Wakes every exchange in flight, [`LOOKS`] times per `timeout`, to look at its own
    /// deadline ([`Connections::wake_to_look`]): a timer armed per request cost ~500
    /// instructions and, when it was the earliest timer, a wake-up of the runtime's own
    /// driver (a system call on 0.13–0.24 of the requests).
    look: Notify,
}

/// How many times per timeout the exchanges in flight look at their deadlines: a request
/// times out between the timeout and an eighth more.
const LOOKS: u32 = 8;

/// A connection to a service, with what has been read from it and not yet used.
struct Connection {
    stream: TcpStream,
    buf: BytesMut,
    /// Where reads land, zeroed once (reading into uninitialised memory would need
    /// `unsafe`; zeroing a fresh chunk at every read cost more than the copy out of here).
    landing: Box<[u8]>,
}

/// A request's body on its way to a service.
pub enum ToService {
    /// Read whole (and sent again to another replica when needed).
    Whole(Bytes),
    /// The client's, streamed through once: with its length when the client gave one,
    /// else chunked.
    Streamed(Incoming),
}

impl ToService {
    /// The body's length, when known before it is sent; without one it goes chunked.
    fn length(&self) -> Option<u64> {
        match self {
            Self::Whole(bytes) => Some(bytes.len() as u64),
            Self::Streamed(body) => body.size_hint().exact(),
        }
    }

    /// Writes the framing header the request goes with, if any: its length when known
    /// (always for the methods that carry a body), else chunked.
    pub fn write_framing(&self, method: &Method, head: &mut wire::RequestHead) {
        match self.length() {
            Some(0) if !matches!(*method, Method::POST | Method::PUT | Method::PATCH) => {}
            Some(length) => head.content_length(length),
            None => head.header("transfer-encoding", b"chunked"),
        }
    }
}

impl Connections {
    pub fn new(timeout: Duration) -> Self {
        Self {
            idle: Mutex::default(),
            timeout,
            look: Notify::new(),
        }
    }

    /// Wakes the exchanges in flight to look at their deadlines, [`LOOKS`] times per
    /// timeout, for as long as the worker runs (its runtime drops this when it stops).
    pub async fn wake_to_look(&self) {
        let mut looks = crate::idle::looks(self.timeout, LOOKS);
        loop {
            looks.tick().await;
            self.look.notify_waiters();
        }
    }

    /// Sends `head` (a whole request head, from [`wire::RequestHead`], with the framing
    /// header of `body`) and `body` to the replica at `base_url` (`http://host:port`) and
    /// reads the answer's head (keeping the headers `keep` keeps); the [`ServiceBody`]
    /// reads the rest.
    pub async fn send(
        &self,
        base_url: &Arc<str>,
        method: &Method,
        head: &[u8],
        mut body: ToService,
        keep: fn(&HeaderName) -> bool,
    ) -> Result<(ResponseHead, ServiceBody), ApiError> {
        let home = self.home(base_url);
        let exchange = async {
            loop {
                let (mut connection, reused) = match take_idle(&home) {
                    Some(connection) => (connection, true),
                    // Boxed: rare, and large (a request's future is moved whole into the
                    // server's).
                    None => (Box::pin(connect(base_url)).await?, false),
                };
                let whole = match connection.write_request(head, &mut body).await {
                    Ok(whole) => whole,
                    // Nothing went out: the service had closed the kept connection
                    // meanwhile; the request goes on a fresh one.
                    Err(Written::Nothing(_)) if reused => continue,
                    Err(Written::Nothing(err) | Written::Part(err)) => return Err(err),
                };
                let mut answer = connection.read_head(method, keep).await?;
                answer.keep_alive &= whole;
                return Ok((connection, answer));
            }
        };
        let deadline = Instant::now() + self.timeout;
        let (connection, mut answer) = {
            let mut exchange = std::pin::pin!(exchange);
            loop {
                // Made before the exchange is polled: a look meanwhile is not missed.
                let look = self.look.notified();
                tokio::select! {
                    biased;
                    done = &mut exchange => break done?,
                    () = look => if Instant::now() >= deadline {
                        return Err(ApiError::new(
                            Code::UpstreamTimeout,
                            "The service did not answer in time.",
                        ));
                    },
                }
            }
        };
        if answer.status == hyper::StatusCode::SWITCHING_PROTOCOLS {
            return Err(bad_gateway(wire::Malformed(
                "a protocol switch nobody asked for",
            )));
        }
        let mut body = ServiceBody {
            framing: std::mem::replace(&mut answer.framing, Framing::Length(0)),
            keep_alive: answer.keep_alive,
            connection: Some(connection),
            home,
        };
        // Nothing to read (`HEAD`, 204, 304, an empty body): the connection is free now
        // (the server never polls a body that is over before it starts).
        if body.framing.is_done() {
            body.finished();
        }
        Ok((answer, body))
    }

    fn home(&self, base_url: &Arc<str>) -> Arc<Idle> {
        let mut idle = locked(&self.idle);
        if let Some(home) = idle.get(base_url) {
            return home.clone();
        }
        idle.entry(base_url.clone()).or_default().clone()
    }
}

/// How far a request got when writing it failed.
enum Written {
    Nothing(ApiError),
    Part(ApiError),
}

impl Written {
    fn part(self) -> Self {
        match self {
            Self::Nothing(err) | Self::Part(err) => Self::Part(err),
        }
    }
}

impl Connection {
    /// Writes the request; `Ok(false)` when the service answered before the body was all
    /// sent (a refusal, say): the rest is sent only while the service takes it within
    /// [`EARLY_ANSWER_GRACE`], and the connection is not kept.
    async fn write_request(&mut self, head: &[u8], body: &mut ToService) -> Result<bool, Written> {
        let chunked = body.length().is_none();
        let incoming = match body {
            ToService::Whole(bytes) => {
                return write_all(&mut self.stream, &[head, bytes])
                    .await
                    .map(|()| true);
            }
            ToService::Streamed(incoming) => incoming,
        };
        write_all(&mut self.stream, &[head]).await?;
        let (reader, mut writer) = self.stream.split();
        let sent = stream_body(&mut writer, incoming, chunked);
        tokio::pin!(sent);
        loop {
            tokio::select! {
                biased;
                sent = &mut sent => return sent.map(|()| true),
                ready = reader.readable() => {
                    ready.map_err(|err| Written::Part(bad_gateway(err)))?;
                    match reader.try_read_buf(&mut self.buf) {
                        Ok(0) => return Err(Written::Part(bad_gateway(wire::Malformed(
                            "the service closed the connection within the request",
                        )))),
                        // An answer before the body is all sent (a refusal). A service
                        // that goes on reading (actix drains what it refused) gets the
                        // rest, so that the client's upload ends cleanly and not in a
                        // reset that can cost it the answer; one that stops reading is
                        // given up on after a grace.
                        Ok(_) => {
                            let _ = tokio::time::timeout(EARLY_ANSWER_GRACE, &mut sent).await;
                            return Ok(false);
                        }
                        // Readiness without data: keep sending.
                        Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                        Err(err) => return Err(Written::Part(bad_gateway(err))),
                    }
                }
            }
        }
    }

    async fn read_head(
        &mut self,
        method: &Method,
        keep: fn(&HeaderName) -> bool,
    ) -> Result<ResponseHead, ApiError> {
        loop {
            if !self.buf.is_empty()
                && let Some(head) =
                    wire::parse_response(&mut self.buf, method, keep).map_err(bad_gateway)?
            {
                return Ok(head);
            }
            let read = std::future::poll_fn(|cx| self.poll_read(cx))
                .await
                .map_err(bad_gateway)?;
            if read == 0 {
                return Err(bad_gateway(wire::Malformed(
                    "the service closed the connection before answering",
                )));
            }
        }
    }

    /// Reads what the socket has onto `buf`; `Ok(0)` at its end. Read through
    /// `AsyncRead`, whose short reads clear the socket's readiness, so that
    /// [`Connection::still_open`] costs no system call on a quiet connection.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let mut read = ReadBuf::new(&mut self.landing);
        ready!(Pin::new(&mut self.stream).poll_read(cx, &mut read))?;
        self.buf.extend_from_slice(read.filled());
        Poll::Ready(Ok(read.filled().len()))
    }

    /// Whether a kept connection can carry a request: the service has not closed it (nor
    /// sent anything unasked).
    fn still_open(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut quiet = Context::from_waker(Waker::noop());
        // Readiness is known without a system call; only a ready socket is read.
        if self.stream.poll_read_ready(&mut quiet).is_pending() {
            return true;
        }
        self.poll_read(&mut quiet).is_pending()
    }
}

/// Streams the client's body after its head, chunked or as it came (with its length).
async fn stream_body<W: AsyncWrite + Unpin>(
    out: &mut W,
    incoming: &mut Incoming,
    chunked: bool,
) -> Result<(), Written> {
    while let Some(frame) = incoming.frame().await {
        let frame = frame.map_err(|err| {
            Written::Part(
                ApiError::new(Code::BodyReadFailed, "The request body could not be read.")
                    .with_source(err),
            )
        })?;
        let Some(data) = frame.data_ref().filter(|d| !d.is_empty()) else {
            continue;
        };
        if chunked {
            let size = format!("{:x}\r\n", data.len());
            write_all(out, &[size.as_bytes(), data, b"\r\n"]).await
        } else {
            write_all(out, &[data]).await
        }
        .map_err(Written::part)?;
    }
    if chunked {
        write_all(out, &[b"0\r\n\r\n"])
            .await
            .map_err(Written::part)?;
    }
    Ok(())
}

/// Writes all of `parts` (at most three), in as few system calls as the socket allows.
async fn write_all<W: AsyncWrite + Unpin>(out: &mut W, parts: &[&[u8]]) -> Result<(), Written> {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let mut done = 0;
    while done < total {
        let (mut slices, mut count, mut skip) = ([IoSlice::new(&[]); 3], 0, done);
        for part in parts {
            let from = skip.min(part.len());
            skip -= from;
            if from < part.len() {
                slices[count] = IoSlice::new(&part[from..]);
                count += 1;
            }
        }
        let failed = match out.write_vectored(&slices[..count]).await {
            Ok(0) => io::Error::from(io::ErrorKind::WriteZero),
            Ok(written) => {
                done += written;
                continue;
            }
            Err(err) => err,
        };
        let err = bad_gateway(failed);
        return Err(if done == 0 {
            Written::Nothing(err)
        } else {
            Written::Part(err)
        });
    }
    Ok(())
}

/// The most recently used idle connection still worth using.
fn take_idle(home: &Idle) -> Option<Connection> {
    let mut idle = locked(home);
    while let Some((mut connection, since)) = idle.pop() {
        if since.elapsed() < IDLE_FOR_AT_MOST && connection.still_open() {
            return Some(connection);
        }
    }
    None
}

async fn connect(base_url: &str) -> Result<Connection, ApiError> {
    let address = base_url.strip_prefix("http://").unwrap_or(base_url);
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
        .await
        .map_err(|_| unavailable(anyhow::anyhow!("connecting to {address} timed out")))?
        .map_err(unavailable)?;
    let _ = stream.set_nodelay(true);
    Ok(Connection {
        stream,
        buf: BytesMut::new(),
        landing: vec![0; READ_CHUNK].into_boxed_slice(),
    })
}

/// An answer's body, read from its connection as the client takes it; the connection goes
/// back to the worker's idle ones once the body has been read to its end (unless the
/// answer or the service's behaviour rules that out).
pub struct ServiceBody {
    framing: Framing,
    keep_alive: bool,
    connection: Option<Connection>,
    home: Arc<Idle>,
}

impl ServiceBody {
    fn finished(&mut self) {
        if let Some(connection) = self.connection.take()
            // Bytes past the answer's end: the service does not speak HTTP as it says.
            && self.keep_alive
            && connection.buf.is_empty()
        {
            locked(&self.home).push((connection, Instant::now()));
        }
    }
}

impl Body for ServiceBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        loop {
            let Some(connection) = this.connection.as_mut() else {
                return Poll::Ready(None);
            };
            match this.framing.next(&mut connection.buf) {
                Ok(Next::Data(data)) => {
                    if this.framing.is_done() {
                        this.finished();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Ok(Next::End) => {
                    this.finished();
                    return Poll::Ready(None);
                }
                Ok(Next::More) => {}
                Err(err) => {
                    this.connection = None;
                    return Poll::Ready(Some(Err(io::Error::new(io::ErrorKind::InvalidData, err))));
                }
            }
            match ready!(connection.poll_read(cx)) {
                Ok(0) if this.framing == Framing::UntilClose => {
                    this.connection = None;
                    return Poll::Ready(None);
                }
                Ok(0) => {
                    this.connection = None;
                    let cut = io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the service closed the connection within its answer",
                    );
                    return Poll::Ready(Some(Err(cut)));
                }
                Ok(_) => {}
                Err(err) => {
                    this.connection = None;
                    return Poll::Ready(Some(Err(err)));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.connection.is_none() || self.framing.is_done()
    }

    fn size_hint(&self) -> SizeHint {
        match self.framing.remaining() {
            Some(left) => SizeHint::with_exact(left),
            None => SizeHint::default(),
        }
    }
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

fn bad_gateway(err: impl Into<anyhow::Error>) -> ApiError {
    ApiError::new(Code::BadGateway, "The service answered badly.").with_source(err)
}
