use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::identity::Identity;
use shared::{ApiError, Code};

use crate::alipay::{Amount, Channel, TradeOrder};
use crate::closing::alipay_unavailable;
use crate::context::PaymentContext;
use crate::domain::{OrderStatus, Viewer};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayRequest {
    /// `page` (desktop cashier, default) or `wap` (mobile web).
    #[serde(default = "page")]
    channel: Channel,
}

fn page() -> Channel {
    Channel::Page
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PayResponse {
    /// The signed Alipay cashier URL; send the buyer's browser there.
    url: String,
}

/// `POST /v1/orders/{id}/pay`: the signed Alipay payment URL of a pending order. Paying
/// there does not mark the order paid here; Alipay's signed notification (or a trade
/// query) does.
#[utoipa::path(post, path = "/v1/orders/{id}/pay", tag = "orders", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = PayRequest,
    responses((status = 200, description = "The payment URL", body = PayResponse),
        (status = 403, description = "Not the owner (`not_order_owner`)", body = shared::openapi::ErrorBody),
        (status = 404, description = "No such order, or not yours", body = shared::openapi::ErrorBody),
        (status = 409, description = "Not pending (`order_not_pending`) or past its payment timeout (`order_expired`)", body = shared::openapi::ErrorBody),
        (status = 503, description = "Payments not configured", body = shared::openapi::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = who.user_id, order_id = *id))]
pub async fn pay_order(
    ctx: web::Data<PaymentContext>,
    who: Identity,
    id: web::Path<i64>,
    body: shared::json::Json<PayRequest>,
) -> Result<HttpResponse, ApiError> {
    let viewer = Viewer::from(&who);
    let order = super::visible_order(&ctx, viewer, id.into_inner()).await?;
    super::require_owner(viewer, &order)?;
    if order.status() != OrderStatus::Pending {
        return Err(not_pending(order.status()));
    }
    let timeout =
        chrono::Duration::from_std(ctx.orders().payment_timeout).map_err(ApiError::internal)?;
    let expires = order.created_at + timeout;
    if shared::time::now() >= expires {
        return Err(ApiError::new(
            Code::OrderExpired,
            "The payment time of this order is over; place a new order.",
        ));
    }
    let alipay = ctx.alipay()?;
    let amount = Amount::from_cents(order.amount_cents)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("order amount out of range")))?;
    let url = alipay
        .pay_url(
            &TradeOrder {
                out_trade_no: &order.out_trade_no,
                total_amount: amount,
                subject: &order.subject,
                time_expire: Some(expires.and_utc()),
            },
            body.channel,
            Utc::now(),
        )
        .map_err(alipay_unavailable)?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(PayResponse { url }))
}

pub(crate) fn not_pending(status: OrderStatus) -> ApiError {
    ApiError::new(Code::OrderNotPending, format!("The order is {status}."))
        .with_details(json!({ "status": status }))
}
