use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use shared::{ApiError, Code};

use crate::closing;
use crate::context::PaymentContext;
use crate::domain::OrderStatus;
use crate::models::Order;

#[derive(Serialize, utoipa::ToSchema)]
pub struct ReturnView {
    order_id: i64,
    out_trade_no: String,
    status: OrderStatus,
    amount_cents: i64,
}

/// `GET /v1/payments/alipay/return` (public; the buyer's browser lands here from Alipay).
///
/// Verifies the signed parameters and shows the order's state (HTML for a browser, JSON
/// otherwise). It never marks an order paid by itself: for a pending order it asks
/// Alipay (`alipay.trade.query`) and applies only that verified answer.
#[utoipa::path(get, path = "/v1/payments/alipay/return", tag = "payments",
    responses((status = 200, description = "The order's state", body = ReturnView),
        (status = 400, description = "Not signed by Alipay (`invalid_signature`)", body = shared::openapi::ErrorBody),
        (status = 404, description = "No such order", body = shared::openapi::ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn alipay_return(
    ctx: web::Data<PaymentContext>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let alipay = ctx.alipay()?;
    let params = alipay.verify_return(req.query_string()).map_err(|err| {
        tracing::warn!(reason = err.code(), "return parameters refused");
        ApiError::new(
            Code::InvalidSignature,
            "These parameters are not from Alipay.",
        )
    })?;
    let out_trade_no = params.out_trade_no.clone();
    let order = ctx
        .db()
        .run(move |conn| Ok(Order::find_by_out_trade_no(conn, &out_trade_no)?))
        .await?
        .filter(|order| order.amount_cents == params.total_amount.cents())
        .ok_or_else(|| ApiError::not_found("order"))?;
    let order = if order.status() == OrderStatus::Pending {
        match closing::reconcile(&ctx, &order).await {
            Ok((order, _)) => order,
            Err(err) => {
                tracing::warn!(error = %err, "query on return failed; showing the stored state");
                order
            }
        }
    } else {
        order
    };
    let view = ReturnView {
        order_id: order.id,
        out_trade_no: order.out_trade_no.clone(),
        status: order.status(),
        amount_cents: order.amount_cents,
    };
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html {
        return Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(page(&order, &view)));
    }
    Ok(HttpResponse::Ok().json(view))
}

fn page(order: &Order, view: &ReturnView) -> String {
    let headline = match view.status {
        OrderStatus::Paid => "Payment received",
        OrderStatus::Pending => "Waiting for Alipay's confirmation",
        OrderStatus::Closed => "This order is closed",
        OrderStatus::Refunded => "This order was refunded",
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{headline}</title></head>\
         <body style=\"font-family:sans-serif;max-width:36rem;margin:3rem auto\">\
         <h1>{headline}</h1><p>{subject}</p><p>Order {id} · ¥{yuan}.{fen:02} · status <strong>{status}</strong></p>\
         <p><a href=\"/orders/{id}\">See your order on Waypoint</a></p></body></html>",
        subject = escape(&order.subject),
        id = view.order_id,
        yuan = view.amount_cents / 100,
        fen = view.amount_cents % 100,
        status = view.status,
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
