//! What every handler and job of payment-service works with, behind one cloneable handle.

use std::sync::Arc;

use prometheus_client::metrics::gauge::Gauge;
use shared::db::Db;
use shared::redis::Redis;
use shared::{ApiError, Code};
use tokio::sync::Notify;

use crate::alipay::AlipayClient;
use crate::config::OrderSettings;
use crate::recommend::RecommendClient;

pub struct PaymentContext {
    pub(crate) db: Db,
    pub(crate) redis: Redis,
    pub(crate) alipay: Option<AlipayClient>,
    pub(crate) recommend: RecommendClient,
    pub(crate) orders: OrderSettings,
    /// Wakes the outbox worker when a payment queued a signal.
    pub(crate) signals_queued: Arc<Notify>,
    /// The background jobs, reported by `/readyz`.
    pub(crate) tasks: shared::tasks::Tasks,
    /// `payment_orders_total` by transition.
    pub(crate) orders_moved: shared::metrics::CounterFamily,
    /// `payment_notifications_total` by result and reason (outcome when verified).
    pub(crate) notifications: shared::metrics::CounterFamily,
    /// `payment_reconciliation_flags_total` by what reported the trade.
    pub(crate) flags: shared::metrics::CounterFamily,
    /// Undelivered purchase signals, and the age of the oldest, as the jobs last saw them.
    pub(crate) outbox_depth: Gauge,
    pub(crate) outbox_age: Gauge,
}

impl PaymentContext {
    /// Counts a verified notification by its outcome, and the order transition it made.
    pub(crate) fn notified(&self, outcome: crate::payments::Outcome) {
        use crate::payments::Outcome;
        let reason = match outcome {
            Outcome::Paid => "paid",
            Outcome::Closed => "closed",
            Outcome::Duplicate => "duplicate",
            Outcome::Flagged => "flagged",
            Outcome::Ignored => "ignored",
        };
        let labels = vec![("result", "verified"), ("reason", reason)];
        self.notifications.get_or_create(&labels).inc();
        self.applied(outcome, "notification");
    }

    /// Counts what a verified trade report did, whoever brought it (`notification`,
    /// `query`): the order transition it made, or the flag it raised.
    pub(crate) fn applied(&self, outcome: crate::payments::Outcome, source: &'static str) {
        use crate::payments::Outcome;
        let (family, labels) = match outcome {
            Outcome::Paid => (&self.orders_moved, vec![("transition", "paid")]),
            Outcome::Closed => (&self.orders_moved, vec![("transition", "closed")]),
            Outcome::Flagged => (&self.flags, vec![("source", source)]),
            Outcome::Duplicate | Outcome::Ignored => return,
        };
        family.get_or_create(&labels).inc();
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn redis(&self) -> &Redis {
        &self.redis
    }

    pub fn recommend(&self) -> &RecommendClient {
        &self.recommend
    }

    pub fn orders(&self) -> &OrderSettings {
        &self.orders
    }

    /// The Alipay client, or 503 when no Alipay keys are configured.
    pub fn alipay(&self) -> Result<&AlipayClient, ApiError> {
        self.alipay.as_ref().ok_or_else(|| {
            ApiError::new(
                Code::AlipayNotConfigured,
                "Payments are not configured on this server.",
            )
        })
    }

    pub fn alipay_configured(&self) -> Option<&AlipayClient> {
        self.alipay.as_ref()
    }

    pub fn wake_outbox(&self) {
        self.signals_queued.notify_one();
    }
}
