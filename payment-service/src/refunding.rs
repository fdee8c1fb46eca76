//! Refunds, full or partial. A refund is written `pending` before it is sent, under a
//! lock on its order, so pending and succeeded refunds never add up to more than was
//! paid; it is sent with its `out_request_no`, which Alipay never refunds twice, so a
//! retry after an unknown outcome (timeout) is safe and is what the jobs do.

use serde_json::json;
use shared::db::{self, DbConnection};
use shared::{ApiError, Code};

use crate::alipay::Amount;
use crate::closing::alipay_unavailable;
use crate::context::PaymentContext;
use crate::domain::{OrderStatus, OutRequestNo, RefundReason};
use crate::models::refund::{FAILED, PENDING, SUCCEEDED};
use crate::models::{NewRefund, Order, Refund};

pub struct RefundCommand {
    pub order_id: i64,
    /// `None`: everything not yet refunded.
    pub amount_cents: Option<i64>,
    pub out_request_no: OutRequestNo,
    pub reason: Option<RefundReason>,
    pub requested_by: i64,
}

enum Prepared {
    Send(Box<(Refund, Order)>),
    Done,
}

/// Records and sends a refund; returns once Alipay's verified answer is applied.
pub async fn refund(ctx: &PaymentContext, command: RefundCommand) -> Result<(), ApiError> {
    let alipay = ctx.alipay()?;
    let now = shared::time::now();
    let prepared = ctx
        .db()
        .run(move |conn| db::write_transaction(conn, |conn| prepare(conn, &command, now)))
        .await?;
    match prepared {
        Prepared::Done => Ok(()),
        Prepared::Send(pending) => send(ctx, alipay, &pending.0, &pending.1).await,
    }
}

fn prepare(
    conn: &mut DbConnection,
    command: &RefundCommand,
    now: chrono::NaiveDateTime,
) -> Result<Prepared, ApiError> {
    // Locked first, then read: concurrent refunds of one order (and a close or payment
    // racing them) take turns, and every check below is on the row as it is until commit.
    let order = Order::find_locked(conn, command.order_id).map_err(|err| match err {
        diesel::result::Error::NotFound => ApiError::not_found("order"),
        other => ApiError::from(other),
    })?;
    if let Some(existing) = Refund::find_by_out_request_no(conn, command.out_request_no.as_str())? {
        let same = existing.order_id == order.id
            && command
                .amount_cents
                .is_none_or(|cents| cents == existing.amount_cents);
        if !same {
            return Err(ApiError::new(
                Code::OutRequestNoReused,
                "This out_request_no belongs to another refund.",
            ));
        }
        return match existing.status.as_str() {
            SUCCEEDED => Ok(Prepared::Done),
            PENDING => Ok(Prepared::Send(Box::new((existing, order)))),
            _ => Err(ApiError::new(
                Code::RefundFailed,
                "This refund failed; retry with a new out_request_no.",
            )
            .with_details(json!({ "failure": existing.failure }))),
        };
    }
    if order.status() != OrderStatus::Paid {
        return Err(ApiError::new(
            Code::OrderNotRefundable,
            "Only a paid order can be refunded.",
        )
        .with_details(json!({ "status": order.status() })));
    }
    let remaining = order.amount_cents - Refund::committed_cents(conn, order.id)?;
    let amount = match command.amount_cents {
        Some(cents) if cents > remaining => {
            return Err(ApiError::validation(
                "amount_cents",
                format!("exceeds the refundable remainder of {remaining} cents"),
            ));
        }
        Some(cents) => cents,
        None if remaining <= 0 => {
            return Err(ApiError::new(
                Code::NothingToRefund,
                "Everything paid is refunded or being refunded.",
            ));
        }
        None => remaining,
    };
    let refund = Refund::insert(
        conn,
        &NewRefund {
            order_id: order.id,
            out_request_no: command.out_request_no.as_str().to_owned(),
            amount_cents: amount,
            reason: command.reason.as_ref().map(|r| r.as_str().to_owned()),
            status: PENDING.to_owned(),
            requested_by: command.requested_by,
            created_at: now,
        },
    )?;
    Ok(Prepared::Send(Box::new((refund, order))))
}

/// Sends a pending refund to Alipay and applies the verified answer.
pub async fn send(
    ctx: &PaymentContext,
    alipay: &crate::alipay::AlipayClient,
    refund: &Refund,
    order: &Order,
) -> Result<(), ApiError> {
    let amount = Amount::from_cents(refund.amount_cents)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("refund amount out of range")))?;
    let result = alipay
        .refund(
            &order.out_trade_no,
            amount,
            &refund.out_request_no,
            refund.reason.as_deref(),
        )
        .await;
    let (refund_id, order_id, cents) = (refund.id, order.id, refund.amount_cents);
    let now = shared::time::now();
    match result {
        Ok(_) => {
            ctx.db()
                .run(move |conn| {
                    db::write_transaction(conn, |conn| {
                        if Refund::complete(conn, refund_id, SUCCEEDED, None, now)? {
                            Order::add_refund(conn, order_id, cents)?;
                            tracing::info!(order_id, refund_id, cents, "refunded");
                        }
                        Ok(())
                    })
                })
                .await
        }
        Err(err) if !err.is_indeterminate() => {
            let failure = err.to_string();
            tracing::warn!(order_id, refund_id, %failure, "Alipay refused the refund");
            let details =
                json!({ "sub_code": err.sub_code(), "out_request_no": refund.out_request_no });
            ctx.db()
                .run(move |conn| {
                    Refund::complete(conn, refund_id, FAILED, Some(&failure), now)?;
                    Ok(())
                })
                .await?;
            Err(
                ApiError::new(Code::RefundRefused, "Alipay refused the refund.")
                    .with_details(details),
            )
        }
        Err(err) => Err(alipay_unavailable(err).with_details(json!({
            "out_request_no": refund.out_request_no,
            "hint": "the refund stays pending; retry with the same out_request_no",
        }))),
    }
}
