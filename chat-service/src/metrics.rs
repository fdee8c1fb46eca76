//! chat-service's own signals, beside the common ones: sockets open, messages stored and
//! delivered, how long the fan-out takes, gaps filled, slow sockets dropped, presence.
//!
//! The hub and presence keep their own counters (they exist before any metrics do); they
//! are registered here under their names.

use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use shared::metrics::{Labels, Metrics};

use crate::presence::Presence;
use crate::ws::hub::Hub;

pub struct ChatMetrics {
    stored: Counter,
    delivered: Family<Labels, Counter>,
    lag: Histogram,
    gap_fills: Counter,
}

impl ChatMetrics {
    pub fn new(metrics: &Metrics, hub: &Arc<Hub>, presence: &Presence) -> Self {
        let open = hub.clone();
        metrics.gauge_fn(
            "chat_sockets_open",
            "Chat sockets open on this replica",
            move || open.counts().0 as i64,
        );
        metrics.register(
            "chat_slow_sockets_dropped",
            "Sockets dropped because their client let the outbound queue fill up",
            hub.too_slow().clone(),
        );
        metrics.register(
            "chat_presence_entries",
            "Presence entries this replica holds in Redis (one per socket it announced)",
            presence.entries().clone(),
        );
        let stored = Counter::default();
        metrics.register(
            "chat_messages_stored",
            "Messages committed by this replica's writers (a repeated send not counted)",
            stored.clone(),
        );
        let gap_fills = Counter::default();
        metrics.register(
            "chat_gap_fills",
            "Gaps in a socket's messages (pub/sub lost some) filled from the database",
            gap_fills.clone(),
        );
        Self {
            stored,
            delivered: metrics.counter(
                "chat_messages_delivered",
                "Message frames written to sockets, by way: live (fan-out) or database \
                 (gap fill, resume, catch-up)",
            ),
            lag: metrics.single_histogram(
                "chat_fanout_lag_seconds",
                "From a message's publish (right after its commit, on any replica) to its \
                 frame written to a socket here",
            ),
            gap_fills,
        }
    }

    /// The counter the message writers move.
    pub fn stored(&self) -> Counter {
        self.stored.clone()
    }

    /// A message frame written from the database.
    pub fn delivered_from_database(&self) {
        let labels = vec![("via", "database")];
        self.delivered.get_or_create(&labels).inc();
    }

    /// A message frame written as the fan-out brought it, published at `published_ms`
    /// (absent from a replica that does not stamp).
    pub fn delivered_live(&self, published_ms: Option<i64>) {
        let labels = vec![("via", "live")];
        self.delivered.get_or_create(&labels).inc();
        if let Some(at) = published_ms {
            let lag = (shared::time::now_millis() - at).max(0) as f64 / 1000.0;
            self.lag.observe(lag);
        }
    }

    pub fn gap_filled(&self) {
        self.gap_fills.inc();
    }
}
