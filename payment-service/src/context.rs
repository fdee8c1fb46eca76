//! What every handler and job of payment-service works with, behind one cloneable handle.

use std::sync::Arc;

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
        if matches!(outcome, Outcome::Paid | Outcome::Closed) {
            let transition = vec![("transition", reason)];
            self.orders_moved.get_or_create(&transition).inc();
        }
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
