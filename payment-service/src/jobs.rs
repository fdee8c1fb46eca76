//! Background work: closing orders past their payment timeout, asking Alipay about
//! pending orders whose notification may be lost, re-sending refunds whose outcome is
//! unknown, and delivering purchase signals to recommend-service.
//!
//! Every step is safe to run on several replicas at once (conditional updates, idempotent
//! Alipay calls, signals idempotent on their reference); a Redis lock per interval only
//! keeps replicas from doing the same calls twice. Tests call [`Jobs::run_once`] with a
//! chosen "now" instead of waiting.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use shared::ApiError;

use crate::closing;
use crate::context::PaymentContext;
use crate::domain::OrderStatus;
use crate::models::{Order, Refund, Signal};

/// How many rows one step takes per run.
const BATCH: i64 = 50;
/// Longest wait between two delivery attempts of a signal.
const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RunReport {
    pub closed: usize,
    pub reconciled: usize,
    pub refunds_resent: usize,
    pub signals_delivered: usize,
}

#[derive(Clone)]
pub struct Jobs {
    ctx: Arc<PaymentContext>,
}

impl Jobs {
    pub fn new(ctx: Arc<PaymentContext>) -> Self {
        Self { ctx }
    }

    /// Every step once, as of `now`, then the outbox measured.
    pub async fn run_once(&self, now: NaiveDateTime) -> RunReport {
        let report = RunReport {
            closed: self.close_expired(now).await,
            reconciled: self.reconcile_pending(now).await,
            refunds_resent: self.resend_refunds(now).await,
            signals_delivered: self.deliver_signals(now).await,
        };
        self.measure_outbox(now).await;
        report
    }

    /// Sets the outbox gauges (depth, age of the oldest signal as of `now`). Every replica
    /// measures, lock or not, so whichever one Prometheus asks knows.
    pub async fn measure_outbox(&self, now: NaiveDateTime) {
        let Some((depth, oldest)) = self.load(Signal::backlog).await else {
            return;
        };
        let age = oldest.map_or(0, |oldest| (now - oldest).num_seconds().max(0));
        self.ctx.outbox_depth.set(depth);
        self.ctx.outbox_age.set(age);
    }

    /// Runs forever: every `interval` (on the replica holding the lock), and delivers
    /// signals as soon as a payment queues one.
    pub async fn run_forever(self, interval: Duration) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(interval) => {
                    if self.take_lock(interval).await {
                        let report = self.run_once(shared::time::now()).await;
                        if report != RunReport::default() {
                            tracing::info!(?report, "payment jobs ran");
                        }
                    } else {
                        self.measure_outbox(shared::time::now()).await;
                    }
                }
                () = self.ctx.signals_queued.notified() => {
                    self.deliver_signals(shared::time::now()).await;
                }
            }
        }
    }

    /// One replica per interval; if Redis cannot say, run anyway (every step is safe).
    async fn take_lock(&self, interval: Duration) -> bool {
        let redis = self.ctx.redis();
        let mut cmd = redis::cmd("SET");
        cmd.arg(redis.key("payment:jobs:lock"))
            .arg(shared::random::token_hex(8))
            .arg("NX")
            .arg("PX")
            .arg(interval.as_millis().saturating_sub(100).max(100) as u64);
        match redis.query::<Option<String>>(&cmd).await {
            Ok(taken) => taken.is_some(),
            Err(err) => {
                tracing::warn!(error = %err, "job lock unavailable; running anyway");
                true
            }
        }
    }

    /// Closes pending orders older than the payment timeout (at Alipay, then here).
    pub async fn close_expired(&self, now: NaiveDateTime) -> usize {
        let timeout = chrono::Duration::from_std(self.ctx.orders().payment_timeout)
            .unwrap_or(chrono::Duration::MAX);
        let before = now - timeout;
        let Some(orders) = self
            .load(move |conn| Order::expired(conn, before, BATCH))
            .await
        else {
            return 0;
        };
        let mut closed = 0;
        for order in orders {
            match closing::close(&self.ctx, &order, "timeout").await {
                Ok(order) if order.status == OrderStatus::Closed => closed += 1,
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(order_id = order.id, error = %err, "auto-close failed; will retry")
                }
            }
        }
        closed
    }

    /// Queries Alipay about pending orders older than `reconcile_after`.
    pub async fn reconcile_pending(&self, now: NaiveDateTime) -> usize {
        if self.ctx.alipay_configured().is_none() {
            return 0;
        }
        let after = chrono::Duration::from_std(self.ctx.orders().reconcile_after)
            .unwrap_or(chrono::Duration::MAX);
        let Some(orders) = self
            .load(move |conn| Order::due_for_query(conn, now - after, now - after, BATCH))
            .await
        else {
            return 0;
        };
        let mut changed = 0;
        for order in orders {
            match closing::reconcile(&self.ctx, &order).await {
                Ok((
                    _,
                    Some(crate::payments::Outcome::Paid | crate::payments::Outcome::Closed),
                )) => changed += 1,
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(order_id = order.id, error = %err, "reconciliation failed; will retry")
                }
            }
        }
        changed
    }

    /// Sends refunds again whose outcome stayed unknown for a minute.
    pub async fn resend_refunds(&self, now: NaiveDateTime) -> usize {
        let Some(alipay) = self.ctx.alipay_configured() else {
            return 0;
        };
        let before = now - chrono::Duration::seconds(60);
        let Some(refunds) = self
            .load(move |conn| Refund::stale_pending(conn, before, BATCH))
            .await
        else {
            return 0;
        };
        let mut resent = 0;
        for refund in refunds {
            let order_id = refund.order_id;
            let Some(order) = self.load(move |conn| Order::find(conn, order_id)).await else {
                continue;
            };
            match crate::refunding::send(&self.ctx, alipay, &refund, &order).await {
                Ok(()) => resent += 1,
                Err(err) => {
                    tracing::warn!(refund_id = refund.id, error = %err, "refund still unresolved")
                }
            }
        }
        resent
    }

    /// Delivers due purchase signals; failures back off exponentially, up to 10 minutes.
    pub async fn deliver_signals(&self, now: NaiveDateTime) -> usize {
        let Some(signals) = self.load(move |conn| Signal::due(conn, now, BATCH)).await else {
            return 0;
        };
        let mut delivered = 0;
        for signal in signals {
            let result = self
                .ctx
                .recommend()
                .purchase(signal.user_id, signal.trip_id, &signal.reference)
                .await;
            let id = signal.id;
            let at = shared::time::now();
            let update = match result {
                Ok(()) => {
                    delivered += 1;
                    self.load(move |conn| Signal::delivered(conn, id, at)).await
                }
                Err(error) => {
                    let backoff =
                        Duration::from_secs(1u64 << signal.attempts.clamp(0, 10)).min(MAX_BACKOFF);
                    let next = now.max(at)
                        + chrono::Duration::from_std(backoff).unwrap_or(chrono::Duration::MAX);
                    tracing::warn!(reference = %signal.reference, %error, attempts = signal.attempts + 1, "purchase signal not delivered; will retry");
                    self.load(move |conn| Signal::failed(conn, id, next, &error))
                        .await
                }
            };
            if update.is_none() {
                tracing::warn!(signal_id = id, "could not record the delivery attempt");
            }
        }
        delivered
    }

    async fn load<T, F>(&self, work: F) -> Option<T>
    where
        F: FnOnce(&mut shared::db::DbConnection) -> diesel::QueryResult<T> + Send + 'static,
        T: Send + 'static,
    {
        match self
            .ctx
            .db()
            .run(move |conn| work(conn).map_err(ApiError::from))
            .await
        {
            Ok(value) => Some(value),
            Err(err) => {
                tracing::warn!(error = %err, "payment job: database unavailable");
                None
            }
        }
    }
}
