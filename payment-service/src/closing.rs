//! Closing unpaid orders (the owner's cancel, the timeout) and asking Alipay about a
//! trade (reconciliation). A close happens at Alipay first, so the trade can no longer be
//! paid, and only then here; if Alipay says the trade was paid meanwhile, Alipay's
//! verified answer wins and the order becomes paid instead.

use shared::db::{self, DbConnection};
use shared::{ApiError, Code};

use crate::alipay::AlipayError;
use crate::context::PaymentContext;
use crate::models::Order;
use crate::payments::{self, Outcome, TradeReport};

const TRADE_NOT_EXIST: &str = "ACQ.TRADE_NOT_EXIST";

/// Closes `order` (pending) for `reason` (`cancelled`, `timeout`); returns it as it is now.
pub async fn close(
    ctx: &PaymentContext,
    order: &Order,
    reason: &'static str,
) -> Result<Order, ApiError> {
    if let Some(alipay) = ctx.alipay_configured() {
        match alipay.close(&order.out_trade_no).await {
            Ok(()) => {}
            // The buyer never opened the cashier: there is nothing to close at Alipay.
            Err(err) if err.sub_code() == Some(TRADE_NOT_EXIST) => {}
            // Typically ACQ.TRADE_STATUS_ERROR: paid (or closed) at Alipay already.
            Err(err @ AlipayError::Business { .. }) => {
                tracing::info!(order_id = order.id, error = %err, "Alipay refused to close; querying");
                return reconcile(ctx, order).await.map(|(order, _)| order);
            }
            Err(err) => return Err(alipay_unavailable(err)),
        }
    }
    let (id, now) = (order.id, shared::time::now());
    ctx.db()
        .run(move |conn| {
            db::write_transaction(conn, |conn: &mut DbConnection| {
                if Order::mark_closed(conn, id, reason, now)? {
                    tracing::info!(order_id = id, reason, "order closed");
                }
                Ok(Order::find(conn, id)?)
            })
        })
        .await
}

/// Asks Alipay about `order`'s trade and applies the verified answer.
pub async fn reconcile(
    ctx: &PaymentContext,
    order: &Order,
) -> Result<(Order, Option<Outcome>), ApiError> {
    let alipay = ctx.alipay()?;
    let now = shared::time::now();
    let id = order.id;
    let report = match alipay.query(&order.out_trade_no).await {
        Ok(answer) if answer.out_trade_no == order.out_trade_no => TradeReport::from(answer),
        Ok(answer) => {
            return Err(ApiError::internal(anyhow::anyhow!(
                "Alipay answered a query for {} about {}",
                order.out_trade_no,
                answer.out_trade_no
            )));
        }
        Err(err) if err.sub_code() == Some(TRADE_NOT_EXIST) => {
            let order = ctx
                .db()
                .run(move |conn| {
                    Order::record_query(conn, id, now)?;
                    Ok(Order::find(conn, id)?)
                })
                .await?;
            return Ok((order, None));
        }
        Err(err) => return Err(alipay_unavailable(err)),
    };
    ctx.db()
        .run(move |conn| {
            Order::record_query(conn, id, now)?;
            let (order, outcome) = payments::apply(conn, &report, now)?;
            Ok((order, Some(outcome)))
        })
        .await
        .inspect(|(_, outcome)| {
            if let Some(outcome) = *outcome {
                ctx.applied(outcome, "query");
            }
            if *outcome == Some(Outcome::Paid) {
                ctx.wake_outbox();
            }
        })
}

pub fn alipay_unavailable(err: AlipayError) -> ApiError {
    ApiError::new(
        Code::AlipayUnavailable,
        "Alipay is unavailable; retry shortly.",
    )
    .with_source(err)
}
