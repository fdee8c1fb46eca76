//! Applying Alipay's verified word about a trade to its order, exactly once.
//!
//! Whether it came from a notification or a trade query, a report runs in one write
//! transaction: find the order by `out_trade_no`, compare the amount in integer cents,
//! then a conditional UPDATE on `status = 'pending'`. Of any number of concurrent copies
//! exactly one makes the transition; the others see the new state and are duplicates.
//! The event is recorded in the same transaction, and a payment queues its purchase
//! signal there too, so nothing is half-applied. States never move backwards: a payment
//! reported for a closed order is recorded and flagged for reconciliation, a close
//! reported for a paid order is ignored.

use chrono::NaiveDateTime;
use shared::db::{self, DbConnection};
use shared::{ApiError, Code};

use crate::alipay::{Amount, Notification, TradeQuery, TradeStatus};
use crate::domain::OrderStatus;
use crate::models::event;
use crate::models::{NewPaymentEvent, Order, Signal};

/// Alipay's verified statement about one trade.
#[derive(Debug, Clone)]
pub struct TradeReport {
    pub out_trade_no: String,
    pub trade_no: Option<String>,
    pub trade_status: TradeStatus,
    pub total_amount: Option<Amount>,
    pub notify_id: Option<String>,
    /// `notify` or `query`.
    pub source: &'static str,
}

impl From<Notification> for TradeReport {
    fn from(n: Notification) -> Self {
        Self {
            out_trade_no: n.out_trade_no,
            trade_no: Some(n.trade_no),
            trade_status: n.trade_status,
            total_amount: Some(n.total_amount),
            notify_id: n.notify_id,
            source: "notify",
        }
    }
}

impl From<TradeQuery> for TradeReport {
    fn from(q: TradeQuery) -> Self {
        Self {
            out_trade_no: q.out_trade_no,
            trade_no: q.trade_no,
            trade_status: q.trade_status,
            total_amount: q.total_amount,
            notify_id: None,
            source: "query",
        }
    }
}

/// What a report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// pending → paid (and the purchase signal queued).
    Paid,
    /// pending → closed.
    Closed,
    /// Already applied.
    Duplicate,
    /// Recorded and flagged for an order_admin (e.g. paid after a local close).
    Flagged,
    /// Nothing to do (waiting for payment, or closed after a full refund).
    Ignored,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Paid => "paid",
            Self::Closed => "closed",
            Self::Duplicate => "duplicate",
            Self::Flagged => "flagged",
            Self::Ignored => "ignored",
        }
    }
}

/// Applies `report` in one write transaction. Unknown trades and amount mismatches are
/// refused (`404 unknown_trade`, `409 amount_mismatch`): they change no order, but are
/// recorded as `refused` events (committed, unlike anything else of the report).
pub fn apply(
    conn: &mut DbConnection,
    report: &TradeReport,
    now: NaiveDateTime,
) -> Result<(Order, Outcome), ApiError> {
    db::write_transaction::<_, ApiError, _>(conn, |conn| {
        let order = Order::find_by_out_trade_no(conn, &report.out_trade_no)?;
        let order_id = order.as_ref().map(|order| order.id);
        let applied = match order {
            None => Err(ApiError::new(Code::UnknownTrade, "No such trade.")),
            Some(order) => match check_amount(&order, report) {
                Ok(()) => Ok((transition(conn, &order, report, now)?, order.id)),
                Err(refusal) => Err(refusal),
            },
        };
        NewPaymentEvent {
            order_id,
            out_trade_no: &report.out_trade_no,
            source: report.source,
            trade_status: report.trade_status.as_str(),
            trade_no: report.trade_no.as_deref(),
            amount_cents: report.total_amount.map(Amount::cents),
            notify_id: report.notify_id.as_deref(),
            outcome: applied
                .as_ref()
                .map_or(event::REFUSED, |(outcome, _)| outcome.as_str()),
            reason: applied.as_ref().err().map(|err| err.code().as_str()),
            created_at: now,
        }
        .insert(conn)?;
        // A refusal commits its event and is returned as the error it is.
        Ok(match applied {
            Ok((outcome, id)) => Ok((Order::find(conn, id)?, outcome)),
            Err(refusal) => Err(refusal),
        })
    })?
}

fn check_amount(order: &Order, report: &TradeReport) -> Result<(), ApiError> {
    match report.total_amount {
        Some(amount) if amount.cents() == order.amount_cents => Ok(()),
        // A query about an unpaid trade may carry no amount; a payment must.
        None if !report.trade_status.is_paid() => Ok(()),
        other => {
            tracing::warn!(
                out_trade_no = %order.out_trade_no,
                expected_cents = order.amount_cents,
                reported = ?other.map(Amount::cents),
                "Alipay reported another amount than the order's"
            );
            Err(ApiError::new(
                Code::AmountMismatch,
                "The amount does not match the order.",
            ))
        }
    }
}

fn transition(
    conn: &mut DbConnection,
    order: &Order,
    report: &TradeReport,
    now: NaiveDateTime,
) -> Result<Outcome, ApiError> {
    match report.trade_status {
        status if status.is_paid() => {
            let trade_no = report.trade_no.as_deref().ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!("a paid trade without trade_no"))
            })?;
            if Order::mark_paid(conn, order.id, trade_no, now)? {
                Signal::enqueue(conn, order.user_id, order.trip_id, &order.out_trade_no, now)?;
                tracing::info!(order_id = order.id, source = report.source, "order paid");
                return Ok(Outcome::Paid);
            }
            let current = Order::find(conn, order.id)?;
            match current.status() {
                OrderStatus::Paid | OrderStatus::Refunded
                    if current.trade_no.as_deref() == Some(trade_no) =>
                {
                    Ok(Outcome::Duplicate)
                }
                OrderStatus::Closed => {
                    tracing::error!(
                        order_id = order.id,
                        trade_no,
                        "Alipay reports a payment for a closed order; flagged for reconciliation"
                    );
                    Order::flag(conn, order.id, Some(trade_no))?;
                    Ok(Outcome::Flagged)
                }
                OrderStatus::Paid | OrderStatus::Refunded => {
                    tracing::error!(
                        order_id = order.id,
                        trade_no,
                        paid_as = ?current.trade_no,
                        "Alipay reports a second trade for a paid order; flagged for reconciliation"
                    );
                    Order::flag(conn, order.id, None)?;
                    Ok(Outcome::Flagged)
                }
                OrderStatus::Pending => Err(ApiError::internal(anyhow::anyhow!(
                    "order {} stayed pending under a conditional update",
                    order.id
                ))),
            }
        }
        TradeStatus::TradeClosed => {
            if Order::mark_closed(conn, order.id, "alipay", now)? {
                tracing::info!(order_id = order.id, "order closed by Alipay");
                Ok(Outcome::Closed)
            } else {
                // Closed already, or a paid trade closed by its full refund.
                Ok(Outcome::Ignored)
            }
        }
        _ => Ok(Outcome::Ignored),
    }
}
