//! The sockets open on this replica, by user, and the hand-off of frames to them.
//!
//! Each socket has its own bounded outbound queue. Delivery never waits: a socket whose
//! queue is full (its client stopped reading) is dropped from the hub and told to stop, so
//! one slow client never holds up the fan-out to anyone else. Registering a user's first
//! socket subscribes this replica to the user's Redis channel, unregistering the last one
//! unsubscribes; both commands are queued under the hub's lock, so the subscriber sees them
//! in the order the hub changed. After the fan-out resubscribes (Redis came back), the hub
//! asks every socket to catch up from the database: what was published meanwhile reached
//! none of them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytestring::ByteString;
use prometheus_client::metrics::counter::Counter;
use tokio::sync::{Notify, mpsc, oneshot, watch};

/// Why the server ends a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The session behind the socket ended (logout, disabled user, expiry).
    SessionEnded,
    /// The client let its outbound queue fill up.
    TooSlow,
    /// This replica is shutting down.
    GoingAway,
}

/// A frame on its way to sockets, serialised once for all of them.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// (conversation, message id) of `message` frames, which sockets keep in order.
    pub sequence: Option<(i64, i64)>,
    /// Shared bytes: cloning for another socket copies nothing.
    pub text: ByteString,
    /// When the frame was published (Unix ms), for the fan-out lag; see `fanout::stamp`.
    pub published_ms: Option<i64>,
}

/// The hub's handle on one socket.
#[derive(Debug)]
pub struct Socket {
    pub id: u64,
    pub user_id: i64,
    pub session_id: String,
    /// `{replica}:{id}`: the socket's name in Redis presence.
    pub member: String,
    outbound: mpsc::Sender<Delivery>,
    stop: watch::Sender<Option<Stop>>,
    /// Set when the client does something (not just heartbeats): its session slides.
    active: AtomicBool,
    /// Raised when the socket may have missed messages and must read them from the database.
    catch_up: Notify,
}

impl Socket {
    pub fn stop(&self, why: Stop) {
        self.stop.send_if_modified(|current| {
            let first = current.is_none();
            if first {
                *current = Some(why);
            }
            first
        });
    }

    pub fn mark_active(&self) {
        self.active.store(true, Ordering::Relaxed);
    }

    /// Resolves once the socket has been asked to catch up from the database (at once if it
    /// was asked while it was busy: the request is kept until taken).
    pub async fn catch_up_requested(&self) {
        self.catch_up.notified().await;
    }
}

/// What a new socket gets from the hub.
pub struct Registration {
    pub socket: Arc<Socket>,
    pub outbound: mpsc::Receiver<Delivery>,
    pub stop: watch::Receiver<Option<Stop>>,
    /// Resolves once this replica is subscribed to the user's channel.
    pub subscribed: oneshot::Receiver<()>,
}

#[derive(Debug)]
pub enum SubscriptionCommand {
    Subscribe(i64, oneshot::Sender<()>),
    Unsubscribe(i64),
}

/// Sessions to check: (session, user, whether any of its sockets was active).
pub type SessionProbes = Vec<(String, i64, bool)>;

pub struct Hub {
    replica: String,
    queue_capacity: usize,
    users: Mutex<HashMap<i64, Vec<Arc<Socket>>>>,
    next_id: AtomicU64,
    subscriptions: mpsc::UnboundedSender<SubscriptionCommand>,
    /// Sockets dropped for a full queue.
    too_slow: Counter,
}

impl Hub {
    pub fn new(
        replica: String,
        queue_capacity: usize,
    ) -> (Self, mpsc::UnboundedReceiver<SubscriptionCommand>) {
        let (subscriptions, commands) = mpsc::unbounded_channel();
        let hub = Self {
            replica,
            queue_capacity: queue_capacity.max(1),
            users: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            subscriptions,
            too_slow: Counter::default(),
        };
        (hub, commands)
    }

    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// How many sockets were dropped for a full queue.
    pub fn too_slow(&self) -> &Counter {
        &self.too_slow
    }

    pub fn register(&self, user_id: i64, session_id: &str) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (outbound_tx, outbound) = mpsc::channel(self.queue_capacity);
        let (stop_tx, stop) = watch::channel(None);
        let socket = Arc::new(Socket {
            id,
            user_id,
            session_id: session_id.to_owned(),
            member: format!("{}:{id}", self.replica),
            outbound: outbound_tx,
            stop: stop_tx,
            active: AtomicBool::new(false),
            catch_up: Notify::new(),
        });
        let (done, subscribed) = oneshot::channel();
        let mut users = self.lock();
        users.entry(user_id).or_default().push(socket.clone());
        // Every registration waits for the subscription; the subscriber answers at once
        // when the channel is already subscribed (after any subscription in flight).
        let _ = self
            .subscriptions
            .send(SubscriptionCommand::Subscribe(user_id, done));
        drop(users);
        Registration {
            socket,
            outbound,
            stop,
            subscribed,
        }
    }

    /// Forgets a socket (a no-op if the hub already dropped it).
    pub fn unregister(&self, socket: &Socket) {
        let mut users = self.lock();
        self.remove(&mut users, socket.user_id, socket.id);
    }

    /// Queues `delivery` for every socket of `user_id` here; drops sockets that are full.
    pub fn deliver(&self, user_id: i64, delivery: &Delivery) {
        let mut users = self.lock();
        let Some(sockets) = users.get(&user_id) else {
            return;
        };
        let mut too_slow = Vec::new();
        for socket in sockets {
            match socket.outbound.try_send(delivery.clone()) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => too_slow.push(socket.clone()),
                // The socket's task has ended and is about to unregister.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
        for socket in too_slow {
            tracing::info!(
                user_id,
                socket = socket.id,
                "outbound queue full; disconnecting"
            );
            socket.stop(Stop::TooSlow);
            self.too_slow.inc();
            self.remove(&mut users, user_id, socket.id);
        }
    }

    /// Stops every socket of `session_id` (belonging to `user_id`).
    pub fn stop_session(&self, session_id: &str, user_id: i64, why: Stop) {
        let users = self.lock();
        for socket in users.get(&user_id).into_iter().flatten() {
            if socket.session_id == session_id {
                socket.stop(why);
            }
        }
    }

    pub fn stop_all(&self, why: Stop) {
        for socket in self.lock().values().flatten() {
            socket.stop(why);
        }
    }

    /// Asks every socket here to catch up from the database (once the subscription is back
    /// after Redis went away).
    pub fn catch_up_all(&self) {
        for socket in self.lock().values().flatten() {
            socket.catch_up.notify_one();
        }
    }

    /// Users with a socket here (to resubscribe after Redis reconnects).
    pub fn users(&self) -> Vec<i64> {
        self.lock().keys().copied().collect()
    }

    /// (user, presence member) of every socket here.
    pub fn members(&self) -> Vec<(i64, String)> {
        self.lock()
            .values()
            .flatten()
            .map(|s| (s.user_id, s.member.clone()))
            .collect()
    }

    /// Each session with a socket here, once; clears the activity marks.
    pub fn session_probes(&self) -> SessionProbes {
        let users = self.lock();
        let mut probes: HashMap<&str, (i64, bool)> = HashMap::new();
        for socket in users.values().flatten() {
            let active = socket.active.swap(false, Ordering::Relaxed);
            let entry = probes
                .entry(socket.session_id.as_str())
                .or_insert((socket.user_id, false));
            entry.1 |= active;
        }
        probes
            .into_iter()
            .map(|(sid, (uid, active))| (sid.to_owned(), uid, active))
            .collect()
    }

    /// (sockets, users) open here.
    pub fn counts(&self) -> (usize, usize) {
        let users = self.lock();
        (users.values().map(Vec::len).sum(), users.len())
    }

    fn remove(&self, users: &mut HashMap<i64, Vec<Arc<Socket>>>, user_id: i64, id: u64) {
        let Some(sockets) = users.get_mut(&user_id) else {
            return;
        };
        let before = sockets.len();
        sockets.retain(|s| s.id != id);
        if sockets.is_empty() {
            users.remove(&user_id);
            if before > 0 {
                let _ = self
                    .subscriptions
                    .send(SubscriptionCommand::Unsubscribe(user_id));
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<i64, Vec<Arc<Socket>>>> {
        // The map stays consistent even if a holder panicked: every update is one step.
        self.users
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(text: &str) -> Delivery {
        Delivery {
            sequence: None,
            text: text.into(),
            published_ms: None,
        }
    }

    #[test]
    fn the_first_socket_subscribes_and_the_last_unsubscribes() {
        let (hub, mut commands) = Hub::new("r1".into(), 4);
        let a = hub.register(7, "s1");
        let b = hub.register(7, "s2");
        hub.unregister(&a.socket);
        hub.unregister(&b.socket);
        hub.unregister(&b.socket);
        let mut seen = Vec::new();
        while let Ok(command) = commands.try_recv() {
            seen.push(match command {
                SubscriptionCommand::Subscribe(user, _) => format!("+{user}"),
                SubscriptionCommand::Unsubscribe(user) => format!("-{user}"),
            });
        }
        assert_eq!(seen, ["+7", "+7", "-7"]);
        assert_eq!(hub.counts(), (0, 0));
    }

    #[test]
    fn a_full_queue_stops_only_that_socket() {
        let (hub, _commands) = Hub::new("r1".into(), 2);
        let slow = hub.register(7, "s1");
        let mut fast = hub.register(7, "s2");
        for i in 0..3 {
            hub.deliver(7, &delivery(&format!("{i}")));
            // The fast socket keeps reading.
            assert_eq!(&*fast.outbound.try_recv().unwrap().text, &format!("{i}"));
        }
        assert_eq!(*slow.stop.borrow(), Some(Stop::TooSlow));
        assert_eq!(*fast.stop.borrow(), None);
        assert_eq!(hub.counts(), (1, 1));
        assert_eq!(hub.too_slow().get(), 1);
    }

    #[test]
    fn stopping_a_session_reaches_only_its_sockets() {
        let (hub, _commands) = Hub::new("r1".into(), 2);
        let a = hub.register(7, "s1");
        let b = hub.register(7, "s2");
        hub.stop_session("s1", 7, Stop::SessionEnded);
        assert_eq!(*a.stop.borrow(), Some(Stop::SessionEnded));
        assert_eq!(*b.stop.borrow(), None);
        a.socket.mark_active();
        let mut probes = hub.session_probes();
        probes.sort();
        assert_eq!(probes, [("s1".into(), 7, true), ("s2".into(), 7, false)]);
    }
}
