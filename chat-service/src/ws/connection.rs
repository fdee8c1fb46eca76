//! One socket, from the handshake to the close.
//!
//! The handshake registers the socket (the per-user cap and presence in Redis, the hub,
//! the replica's subscription to the user's channel) and reads where each of the user's
//! conversations stands, all before answering 101: once a client sees the upgrade, nothing
//! sent to it can slip past. Then a task on the accepting worker serves the socket: client
//! frames in (rate-limited, size-limited), deliveries from the hub out (in order per
//! conversation), a ping every interval, and a close when the client stops answering, its
//! session ends, it falls behind, or the replica shuts down.
//!
//! A socket never counts a message as sent before it has sent it. When it cannot read what
//! it owes the client from the database (a gap, a `resume`, a catch-up), it closes with
//! 1011 rather than skip ahead: the client reconnects and resumes from what it has.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::HttpResponse;
use actix_ws::{CloseCode, CloseReason, Message, MessageStream, ProtocolError, Session};
use bytestring::ByteString;
use shared::{ApiError, Code};
use tokio::sync::{mpsc, watch};

use super::frames::{ClientFrame, ServerFrame};
use super::hub::{Delivery, Registration, Socket, Stop};
use super::limits::{Admission, RateLimit};
use super::sequencer::{Sequencer, Verdict};
use crate::chat;
use crate::context::ChatContext;
use crate::domain::{ClientMsgId, MessageBody};
use crate::models::{Appended, Conversation, Message as StoredMessage, MessageView};
use crate::presence::Attach;
use crate::tickets::TicketHolder;

/// Messages read from the database per round trip when catching up.
const PAGE: i64 = 200;
/// How long a handshake waits for the replica's subscription to the user's channel.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a closing socket waits for its close frame to be taken.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Application close codes (4000–4999 are the application's).
pub const CLOSE_SESSION_ENDED: u16 = 4401;
pub const CLOSE_HEARTBEAT_TIMEOUT: u16 = 4408;

/// Registers the socket and answers the handshake with `response` (the 101); the
/// connection is served by its own task from then on.
pub async fn accept(
    ctx: Arc<ChatContext>,
    holder: TicketHolder,
    response: HttpResponse,
    session: Session,
    stream: MessageStream,
) -> Result<HttpResponse, ApiError> {
    let settings = ctx.socket_settings();
    let user_id = holder.user_id;
    let registration = ctx.hub().register(user_id, &holder.session_id);
    let socket = registration.socket.clone();
    match register(&ctx, registration).await {
        Ok((task, came_online)) => {
            if came_online {
                let ctx = ctx.clone();
                actix_web::rt::spawn(
                    async move { chat::announce_presence(&ctx, user_id, true).await },
                );
            }
            let stream = stream.max_frame_size(settings.max_frame_bytes);
            actix_web::rt::spawn(task.serve(session, stream));
            tracing::debug!(user_id, socket = socket.id, "socket open");
            Ok(response)
        }
        Err(err) => {
            ctx.hub().unregister(&socket);
            Err(err)
        }
    }
}

/// Everything between the hub registration and the 101.
async fn register(
    ctx: &Arc<ChatContext>,
    registration: Registration,
) -> Result<(SocketTask, bool), ApiError> {
    let Registration {
        socket,
        outbound,
        stop,
        subscribed,
    } = registration;
    let settings = ctx.socket_settings();
    let came_online = match ctx
        .presence()
        .attach(
            socket.user_id,
            &socket.member,
            settings.max_connections_per_user,
        )
        .await?
    {
        Attach::TooMany => {
            return Err(ApiError::new(
                Code::TooManyConnections,
                format!(
                    "You already have {} chat connections open; close one first.",
                    settings.max_connections_per_user
                ),
            )
            .with_retry_after(5));
        }
        Attach::Attached { came_online } => came_online,
    };
    let ready = async {
        tokio::time::timeout(SUBSCRIBE_TIMEOUT, subscribed)
            .await
            .map_err(|_| fanout_unavailable())?
            .map_err(|_| fanout_unavailable())?;
        let user_id = socket.user_id;
        ctx.db()
            .run(move |conn| Ok(Conversation::cursors_for(conn, user_id)?))
            .await
    };
    match ready.await {
        Ok(cursors) => Ok((
            SocketTask {
                ctx: ctx.clone(),
                sending: None,
                socket,
                outbound,
                stop,
                sequencer: Sequencer::new(cursors),
                limit: RateLimit::new(
                    settings.rate_per_second,
                    settings.rate_burst,
                    settings.rate_tolerance,
                    Instant::now(),
                ),
            },
            came_online,
        )),
        Err(err) => {
            let _ = ctx.presence().detach(socket.user_id, &socket.member).await;
            Err(err)
        }
    }
}

fn fanout_unavailable() -> ApiError {
    ApiError::new(
        Code::ChatUnavailable,
        "Live chat is unavailable right now; retry shortly.",
    )
}

/// How serving a socket ended.
enum Ending {
    /// Send this close frame.
    Close(CloseReason),
    /// The client closed: echo its close frame.
    ClosedByClient(Option<CloseReason>),
    /// The connection is gone, or too clogged to take a close frame: just let go.
    Gone,
}

fn close(code: CloseCode, why: &str) -> Ending {
    Ending::Close(CloseReason {
        code,
        description: Some(why.to_owned()),
    })
}

/// The database could not be read for messages this socket owes its client: close (1011),
/// so the client reconnects and resumes, rather than send anything newer past them.
fn unreadable(err: &ApiError) -> Ending {
    tracing::warn!(error = ?err, "socket closed: its messages could not be read");
    close(CloseCode::Error, "internal_error")
}

fn ending_for(stop: Stop) -> Ending {
    match stop {
        Stop::SessionEnded => close(CloseCode::Other(CLOSE_SESSION_ENDED), "session_ended"),
        Stop::GoingAway => close(CloseCode::Away, "server_restarting"),
        Stop::TooSlow => Ending::Gone,
    }
}

/// A `send` being stored: (client_msg_id, conversation, outcome).
type Sending = Pin<Box<dyn Future<Output = (String, i64, Result<Appended, ApiError>)>>>;

struct SocketTask {
    ctx: Arc<ChatContext>,
    /// At most one send in flight: the next client frame is read once it is stored (so a
    /// client's messages keep their order), while deliveries keep flowing meanwhile.
    sending: Option<Sending>,
    socket: Arc<Socket>,
    outbound: mpsc::Receiver<Delivery>,
    stop: watch::Receiver<Option<Stop>>,
    sequencer: Sequencer,
    limit: RateLimit,
}

impl SocketTask {
    async fn serve(mut self, session: Session, stream: MessageStream) {
        let mut io = Io {
            session,
            stop: self.stop.clone(),
        };
        let ending = self.run(&mut io, stream).await;
        let Io { session, .. } = io;
        let reason = match ending {
            Ending::Close(reason) => Some(reason),
            Ending::ClosedByClient(reason) => reason,
            Ending::Gone => None,
        };
        if let Some(reason) = reason {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, session.close(Some(reason))).await;
        }
        self.ctx.hub().unregister(&self.socket);
        let user_id = self.socket.user_id;
        match self
            .ctx
            .presence()
            .detach(user_id, &self.socket.member)
            .await
        {
            Ok(true) => chat::announce_presence(&self.ctx, user_id, false).await,
            Ok(false) => {}
            // The entry expires by itself.
            Err(err) => tracing::warn!(error = %err, user_id, "presence not cleared"),
        }
        tracing::debug!(user_id, socket = self.socket.id, "socket closed");
    }

    async fn run(&mut self, io: &mut Io, mut stream: MessageStream) -> Ending {
        let settings = self.ctx.socket_settings().clone();
        let mut next_ping = Instant::now() + settings.ping_interval;
        let mut pong_deadline: Option<Instant> = None;
        loop {
            let wake = pong_deadline.map_or(next_ping, |deadline| deadline.min(next_ping));
            let sending = self.sending.is_some();
            let socket = self.socket.clone();
            let step = tokio::select! {
                biased;
                _ = self.stop.changed() => Step::Stopped,
                sent = stored(&mut self.sending), if sending => Step::Sent(sent),
                _ = socket.catch_up_requested() => Step::CatchUp,
                delivery = self.outbound.recv() => Step::Outgoing(delivery),
                incoming = stream.recv(), if !sending => Step::Incoming(incoming),
                _ = tokio::time::sleep_until(wake.into()) => Step::Timer,
            };
            let result = match step {
                Step::Stopped => return self.stopped(),
                Step::Sent((key, conversation_id, outcome)) => {
                    self.sending = None;
                    acknowledge(io, &key, conversation_id, outcome).await
                }
                Step::Incoming(None) => return Ending::Gone,
                Step::Incoming(Some(incoming)) => {
                    // Anything from the client shows it is alive.
                    pong_deadline = None;
                    match incoming {
                        Ok(message) => self.on_message(io, message).await,
                        Err(ProtocolError::Overflow) => {
                            Err(close(CloseCode::Size, "frame_too_large"))
                        }
                        Err(_) => Err(close(CloseCode::Protocol, "protocol_error")),
                    }
                }
                Step::Outgoing(None) => return Ending::Gone,
                Step::Outgoing(Some(delivery)) => self.deliver(io, delivery).await,
                Step::CatchUp => self.catch_up(io).await,
                Step::Timer => {
                    let now = Instant::now();
                    if self.sending.is_some() {
                        // Not reading while a send is stored: the wait is ours, not theirs.
                        pong_deadline = pong_deadline.map(|_| now + settings.pong_timeout);
                    }
                    if pong_deadline.is_some_and(|deadline| now >= deadline) {
                        return close(
                            CloseCode::Other(CLOSE_HEARTBEAT_TIMEOUT),
                            "heartbeat_timeout",
                        );
                    }
                    if now >= next_ping {
                        next_ping = now + settings.ping_interval;
                        pong_deadline.get_or_insert(now + settings.pong_timeout);
                        io.send(Message::Ping(Default::default())).await
                    } else {
                        Ok(())
                    }
                }
            };
            if let Err(ending) = result {
                return ending;
            }
        }
    }

    fn stopped(&self) -> Ending {
        match *self.stop.borrow() {
            Some(stop) => ending_for(stop),
            None => Ending::Gone,
        }
    }

    async fn on_message(&mut self, io: &mut Io, message: Message) -> Result<(), Ending> {
        match message {
            Message::Text(text) => self.on_text(io, &text).await,
            Message::Ping(bytes) => io.send(Message::Pong(bytes)).await,
            Message::Pong(_) | Message::Nop => Ok(()),
            Message::Close(reason) => Err(Ending::ClosedByClient(reason)),
            Message::Binary(_) => {
                if !self.admit(io).await? {
                    return Ok(());
                }
                io.error(Code::UnsupportedFrame, "Send JSON text frames.", None)
                    .await
            }
            Message::Continuation(_) => Err(close(
                CloseCode::Unsupported,
                "fragmented_frames_unsupported",
            )),
        }
    }

    /// Applies the rate limit to one client frame: whether to handle it (a refused frame
    /// has been answered with an error).
    async fn admit(&mut self, io: &mut Io) -> Result<bool, Ending> {
        match self.limit.admit(Instant::now()) {
            Admission::Allowed => Ok(true),
            Admission::Refused => {
                io.error(Code::RateLimited, "Too many frames; slow down.", None)
                    .await?;
                Ok(false)
            }
            Admission::Exhausted => Err(close(CloseCode::Policy, "rate_limited")),
        }
    }

    async fn on_text(&mut self, io: &mut Io, text: &str) -> Result<(), Ending> {
        if !self.admit(io).await? {
            return Ok(());
        }
        self.socket.mark_active();
        let frame: ClientFrame = match serde_json::from_str(text) {
            Ok(frame) => frame,
            Err(err) => {
                let message = format!("The frame is not valid: {err}.");
                return io.error(Code::InvalidFrame, &message, None).await;
            }
        };
        match frame {
            ClientFrame::Send {
                conversation_id,
                body,
                client_msg_id,
            } => self.on_send(io, conversation_id, body, client_msg_id).await,
            ClientFrame::Resume {
                conversation_id,
                after,
            } => self.on_resume(io, conversation_id, after).await,
            ClientFrame::Read {
                conversation_id,
                last_read_id,
            } => {
                match chat::mark_read(
                    &self.ctx,
                    self.socket.user_id,
                    conversation_id,
                    last_read_id,
                )
                .await
                {
                    // The `read` frame reaches this socket through the fan-out.
                    Ok(_) => Ok(()),
                    Err(err) => io.api_error(&err, None).await,
                }
            }
        }
    }

    async fn on_send(
        &mut self,
        io: &mut Io,
        conversation_id: i64,
        body: String,
        client_msg_id: String,
    ) -> Result<(), Ending> {
        let key = match ClientMsgId::parse(client_msg_id.clone()) {
            Ok(key) => key,
            Err(why) => {
                let err = ApiError::validation("client_msg_id", why);
                return io.api_error(&err, Some(&client_msg_id)).await;
            }
        };
        let body = match MessageBody::parse(body) {
            Ok(body) => body,
            Err(why) => {
                let err = ApiError::validation("body", why);
                return io.api_error(&err, Some(&client_msg_id)).await;
            }
        };
        let ctx = self.ctx.clone();
        let sender = self.socket.user_id;
        self.sending = Some(Box::pin(async move {
            let outcome = chat::send_message(&ctx, sender, conversation_id, body, Some(key)).await;
            (client_msg_id, conversation_id, outcome)
        }));
        Ok(())
    }

    /// Sends every message after `after` this socket has not sent, oldest first, then
    /// `resumed`.
    async fn on_resume(
        &mut self,
        io: &mut Io,
        conversation_id: i64,
        after: i64,
    ) -> Result<(), Ending> {
        if after < 0 {
            let err = ApiError::validation("after", "must be 0 or more");
            return io.api_error(&err, None).await;
        }
        let user_id = self.socket.user_id;
        let newest = match self
            .ctx
            .db()
            .run(move |conn| Conversation::find_for(conn, conversation_id, user_id))
            .await
        {
            Ok(conversation) => conversation.last_message_id,
            Err(err) if err.kind().status().is_server_error() => return Err(unreadable(&err)),
            Err(err) => return io.api_error(&err, None).await,
        };
        // A client claiming to be ahead of the conversation gets nothing, and changes nothing.
        let after = after.min(newest);
        let plan = self.sequencer.plan_resume(conversation_id, after);
        let mut count = 0;
        if plan.below > plan.after {
            count += self
                .send_range(io, conversation_id, plan.after, Some(plan.below + 1))
                .await?;
        }
        count += self
            .send_range(io, conversation_id, plan.above, None)
            .await?;
        self.sequencer.resumed(conversation_id, after);
        let done = ServerFrame::Resumed {
            conversation_id,
            last_id: self.sequencer.last_sent(conversation_id),
            count,
        };
        io.text(done.to_text()).await
    }

    /// Sends the stored messages with ids in (`after`, `before`), oldest first; ends the
    /// socket (1011) when they cannot be read.
    async fn send_range(
        &mut self,
        io: &mut Io,
        conversation_id: i64,
        mut after: i64,
        before: Option<i64>,
    ) -> Result<usize, Ending> {
        let mut count = 0;
        loop {
            let page = self
                .ctx
                .db()
                .run(move |conn| {
                    Ok(StoredMessage::page(
                        conn,
                        conversation_id,
                        before,
                        Some(after),
                        PAGE,
                    )?)
                })
                .await;
            let page = page.map_err(|err| unreadable(&err))?;
            let full = page.len() as i64 == PAGE;
            for message in page {
                after = message.id;
                let view = MessageView::from(message);
                io.text(ServerFrame::Message(&view).to_text()).await?;
                self.ctx.metrics().delivered_from_database();
                self.sequencer.sent(conversation_id, view.id);
                count += 1;
            }
            if !full {
                return Ok(count);
            }
        }
    }

    /// Sends every stored message of the user's conversations newer than what this socket
    /// has sent (those published while this replica was not subscribed).
    async fn catch_up(&mut self, io: &mut Io) -> Result<(), Ending> {
        let user_id = self.socket.user_id;
        let newest = self
            .ctx
            .db()
            .run(move |conn| Ok(Conversation::cursors_for(conn, user_id)?))
            .await
            .map_err(|err| unreadable(&err))?;
        for (conversation_id, newest) in newest {
            let last = self.sequencer.last_sent(conversation_id);
            if newest > last {
                self.send_range(io, conversation_id, last, Some(newest + 1))
                    .await?;
            }
        }
        Ok(())
    }

    /// Sends a delivery from the hub; `message` frames go out in order, once.
    async fn deliver(&mut self, io: &mut Io, delivery: Delivery) -> Result<(), Ending> {
        let Some((conversation_id, id)) = delivery.sequence else {
            return io.text(delivery.text).await;
        };
        match self.sequencer.check(conversation_id, id) {
            Verdict::Duplicate => return Ok(()),
            Verdict::InOrder => {}
            Verdict::Gap { after, before } => {
                self.send_range(io, conversation_id, after, Some(before))
                    .await?;
                // Ids are dense and committed in order, so the gap is stored by now; if it
                // is not all there, sending this one would skip the rest for good.
                if self.sequencer.last_sent(conversation_id) != before - 1 {
                    tracing::warn!(conversation_id, after, before, "a gap could not be filled");
                    return Err(close(CloseCode::Error, "internal_error"));
                }
                self.ctx.metrics().gap_filled();
            }
        }
        io.text(delivery.text).await?;
        self.ctx.metrics().delivered_live(delivery.published_ms);
        self.sequencer.sent(conversation_id, id);
        Ok(())
    }
}

enum Step {
    Stopped,
    CatchUp,
    Sent((String, i64, Result<Appended, ApiError>)),
    Incoming(Option<Result<Message, ProtocolError>>),
    Outgoing(Option<Delivery>),
    Timer,
}

/// The sending half: every send gives way to a stop, so a socket blocked on a client that
/// does not read still ends when the hub gives up on it.
struct Io {
    session: Session,
    stop: watch::Receiver<Option<Stop>>,
}

impl Io {
    async fn send(&mut self, message: Message) -> Result<(), Ending> {
        let sent = tokio::select! {
            biased;
            _ = self.stop.changed() => None,
            sent = send_message(&mut self.session, message) => Some(sent),
        };
        match sent {
            Some(Ok(())) => Ok(()),
            Some(Err(_)) => Err(Ending::Gone),
            None => Err(match *self.stop.borrow() {
                Some(stop) => ending_for(stop),
                None => Ending::Gone,
            }),
        }
    }

    async fn text(&mut self, text: impl Into<ByteString>) -> Result<(), Ending> {
        self.send(Message::Text(text.into())).await
    }

    async fn error(
        &mut self,
        code: Code,
        message: &str,
        client_msg_id: Option<&str>,
    ) -> Result<(), Ending> {
        let frame = ServerFrame::Error {
            code: code.as_str(),
            message,
            client_msg_id,
        };
        self.text(frame.to_text()).await
    }

    /// An error frame carrying an API error's code and message (5xx details stay in the log).
    async fn api_error(
        &mut self,
        err: &ApiError,
        client_msg_id: Option<&str>,
    ) -> Result<(), Ending> {
        if err.kind().status().is_server_error() {
            tracing::warn!(error = ?err, "socket request failed");
        }
        let message = match err.details().and_then(|d| d.get("fields")) {
            Some(fields) => format!("{} {fields}", err.message()),
            None => err.message().to_owned(),
        };
        self.error(err.code(), &message, client_msg_id).await
    }
}

/// The outcome of the send in flight (never resolves without one).
async fn stored(sending: &mut Option<Sending>) -> (String, i64, Result<Appended, ApiError>) {
    match sending {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}

/// Answers a stored send with `ack`, or a refused one with `error`.
async fn acknowledge(
    io: &mut Io,
    key: &str,
    conversation_id: i64,
    outcome: Result<Appended, ApiError>,
) -> Result<(), Ending> {
    match outcome {
        Ok(appended) => {
            let ack = ServerFrame::Ack {
                client_msg_id: key,
                conversation_id,
                id: appended.message.id,
                created_at: shared::time::rfc3339::format(&appended.message.created_at),
                duplicate: appended.duplicate,
            };
            io.text(ack.to_text()).await
        }
        Err(err) => io.api_error(&err, Some(key)).await,
    }
}

async fn send_message(session: &mut Session, message: Message) -> Result<(), actix_ws::Closed> {
    match message {
        Message::Text(text) => session.text(text).await,
        Message::Ping(bytes) => session.ping(&bytes).await,
        Message::Pong(bytes) => session.pong(&bytes).await,
        Message::Binary(bytes) => session.binary(bytes).await,
        _ => Ok(()),
    }
}
