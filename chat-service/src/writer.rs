//! Group commit for sending messages.
//!
//! Every send of a replica goes through one queue; a writer takes everything waiting (up
//! to a batch), stores it in one transaction and publishes the stored messages in one
//! Redis round trip, in commit order. Under load batches grow and the database sees a few
//! large transactions instead of many small ones competing for its lock (SQLite has a
//! single writer; PostgreSQL pays a commit each). At rest a batch is one message and costs
//! what a plain transaction would.
//!
//! A batch locks conversation rows in id order, so writers on several replicas cannot
//! deadlock on PostgreSQL. When a statement fails (on PostgreSQL that aborts the
//! transaction) the batch is stored again one message per transaction, so one bad send
//! never costs the others theirs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};

use diesel::result::Error as DieselError;
use prometheus_client::metrics::counter::Counter;
use shared::db::{Backend, Db, DbConnection, write_transaction};
use shared::tasks::Tasks;
use shared::{ApiError, Code};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::domain::{ClientMsgId, MessageBody};
use crate::models::{Appended, Conversation, Message, MessageView, Side};
use crate::ws::fanout::Fanout;
use crate::ws::frames::ServerFrame;

/// Most messages stored in one transaction.
const MAX_BATCH: usize = 256;
/// Sends waiting for a writer before senders wait for room.
const QUEUE: usize = 4_096;
/// Conversations whose participants a writer remembers (they never change).
const PARTICIPANTS_CACHED: usize = 100_000;

pub type Stored = Result<Appended, ApiError>;

struct Request {
    sender: i64,
    conversation_id: i64,
    body: MessageBody,
    key: Option<ClientMsgId>,
}

struct Job {
    request: Request,
    reply: oneshot::Sender<Stored>,
}

/// conversation → (traveller, expert).
type Participants = Arc<StdMutex<HashMap<i64, (i64, i64)>>>;

#[derive(Clone)]
pub struct MessageWriter {
    queue: mpsc::Sender<Job>,
}

impl MessageWriter {
    /// Starts the writers under `tasks`: one on SQLite (it has one writer anyway), two on
    /// PostgreSQL. A writer that fails is restarted on the same queue; the message it held
    /// is answered 503 (never stored half: its transaction did not commit).
    pub fn start(db: Db, fanout: Fanout, tasks: &Tasks, stored: Counter) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let jobs = Arc::new(Mutex::new(jobs));
        let participants: Participants = Arc::default();
        let writers = match db.backend() {
            Backend::Sqlite => 1,
            Backend::Postgres => 2,
        };
        for _ in 0..writers {
            let (db, fanout, jobs, participants, stored) = (
                db.clone(),
                fanout.clone(),
                jobs.clone(),
                participants.clone(),
                stored.clone(),
            );
            tasks.supervise("message-writer", move || {
                run(
                    db.clone(),
                    fanout.clone(),
                    jobs.clone(),
                    participants.clone(),
                    stored.clone(),
                )
            });
        }
        Self { queue }
    }

    /// Stores a message from `sender` and publishes it to both participants; `Ok` once it
    /// is committed.
    pub async fn append(
        &self,
        sender: i64,
        conversation_id: i64,
        body: MessageBody,
        key: Option<ClientMsgId>,
    ) -> Stored {
        let (reply, stored) = oneshot::channel();
        let request = Request {
            sender,
            conversation_id,
            body,
            key,
        };
        let job = Job { request, reply };
        self.queue.send(job).await.map_err(|_| stopped())?;
        stored.await.map_err(|_| stopped())?
    }
}

fn stopped() -> ApiError {
    ApiError::new(
        Code::ChatUnavailable,
        "The chat is shutting down; retry shortly.",
    )
}

async fn run(
    db: Db,
    fanout: Fanout,
    jobs: Arc<Mutex<mpsc::Receiver<Job>>>,
    participants: Participants,
    stored: Counter,
) {
    loop {
        let mut batch = Vec::new();
        {
            let mut jobs = jobs.lock().await;
            let Some(first) = jobs.recv().await else {
                return;
            };
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
        }
        let (requests, replies): (Vec<Request>, Vec<_>) =
            batch.into_iter().map(|j| (j.request, j.reply)).unzip();
        let cache = participants.clone();
        let results = db
            .run(move |conn| Ok(store(conn, &requests, &cache)))
            .await
            .unwrap_or_else(|err| {
                (0..replies.len())
                    .map(|_| (Err(copy(&err)), [0, 0]))
                    .collect()
            });
        let new = results
            .iter()
            .filter(|(result, _)| matches!(result, Ok(appended) if !appended.duplicate))
            .count();
        stored.inc_by(new as u64);
        publish(&fanout, &results).await;
        for (reply, (result, _)) in replies.into_iter().zip(results) {
            let _ = reply.send(result);
        }
    }
}

/// Publishes every newly stored message to both participants, in commit order.
async fn publish(fanout: &Fanout, results: &[(Stored, [i64; 2])]) {
    let now_ms = shared::time::now_millis();
    let frames: Vec<([i64; 2], String)> = results
        .iter()
        .filter_map(|(result, participants)| match result {
            Ok(appended) if !appended.duplicate => {
                let view = MessageView::from(appended.message.clone());
                let frame = ServerFrame::Message(&view).to_text();
                Some((*participants, crate::ws::fanout::stamp(&frame, now_ms)))
            }
            _ => None,
        })
        .collect();
    if frames.is_empty() {
        return;
    }
    for attempt in 1..=2 {
        match fanout.publish_many(&frames).await {
            Ok(()) => return,
            // Stored anyway; sockets catch up from the database.
            Err(err) if attempt == 2 => tracing::warn!(error = %err, "fan-out failed"),
            Err(_) => {}
        }
    }
}

/// Stores `requests`: a result and the conversation's participants per request, in
/// request order.
fn store(
    conn: &mut DbConnection,
    requests: &[Request],
    participants: &Participants,
) -> Vec<(Stored, [i64; 2])> {
    let mut order: Vec<usize> = (0..requests.len()).collect();
    order.sort_by_key(|&i| requests[i].conversation_id);
    let mut results: Vec<Option<(Stored, [i64; 2])>> = (0..requests.len()).map(|_| None).collect();
    let together = write_transaction(conn, |conn| {
        for &i in &order {
            results[i] = Some(store_one(conn, &requests[i], participants)?);
        }
        Ok::<_, DieselError>(())
    });
    match together {
        Ok(()) => results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| (Err(ApiError::internal(anyhow::anyhow!("lost"))), [0, 0]))
            })
            .collect(),
        Err(_) if requests.len() > 1 => requests
            .iter()
            .map(|request| alone(conn, request, participants))
            .collect(),
        Err(_) => vec![alone(conn, &requests[0], participants)],
    }
}

/// One request in a transaction of its own. Two sends with the same new `client_msg_id`
/// racing on PostgreSQL: the loser's insert violates the unique index; retried, it finds
/// the winner's message.
fn alone(
    conn: &mut DbConnection,
    request: &Request,
    participants: &Participants,
) -> (Stored, [i64; 2]) {
    let mut attempts = 0;
    loop {
        attempts += 1;
        match write_transaction(conn, |conn| store_one(conn, request, participants)) {
            Ok(stored) => return stored,
            Err(err) if shared::db::is_unique_violation(&err) && attempts < 3 => continue,
            Err(err) => return (Err(err.into()), [0, 0]),
        }
    }
}

/// Stores one message. An `Err` is a failed statement (the transaction is lost); a send
/// that is refused (not a participant) is an `Ok` carrying the refusal.
fn store_one(
    conn: &mut DbConnection,
    request: &Request,
    participants: &Participants,
) -> Result<(Stored, [i64; 2]), DieselError> {
    let id = request.conversation_id;
    let cached = lock(participants).get(&id).copied();
    let (traveller, expert) = match cached {
        Some(pair) => pair,
        None => match Conversation::find(conn, id)? {
            Some(c) => {
                let mut cache = lock(participants);
                if cache.len() >= PARTICIPANTS_CACHED {
                    cache.clear();
                }
                cache.insert(id, (c.traveller_id, c.expert_id));
                (c.traveller_id, c.expert_id)
            }
            None => return Ok((Err(ApiError::not_found("conversation")), [0, 0])),
        },
    };
    let side = if request.sender == traveller {
        Side::Traveller
    } else if request.sender == expert {
        Side::Expert
    } else {
        return Ok((Err(ApiError::not_found("conversation")), [0, 0]));
    };
    let appended = Message::append(
        conn,
        id,
        side,
        request.sender,
        request.body.as_str(),
        request.key.as_ref().map(ClientMsgId::as_str),
    )?;
    Ok((Ok(appended), [traveller, expert]))
}

fn copy(err: &ApiError) -> ApiError {
    ApiError::new(err.code(), err.message().to_owned())
}

/// The cache is valid whatever a panicking holder left: entries are inserted whole.
fn lock<T>(mutex: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
