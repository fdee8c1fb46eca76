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
}

impl PaymentContext {
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
