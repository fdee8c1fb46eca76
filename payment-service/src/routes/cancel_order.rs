use actix_web::{HttpResponse, web};
use shared::ApiError;
use shared::identity::Identity;

use crate::closing;
use crate::context::PaymentContext;
use crate::domain::{OrderStatus, Viewer};
use crate::models::OrderView;

/// `POST /v1/orders/{id}/cancel`: the owner closes a pending order (and its Alipay trade).
/// If Alipay says it was paid meanwhile, the order becomes paid and this is a 409.
#[utoipa::path(post, path = "/v1/orders/{id}/cancel", tag = "orders", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, description = "Closed", body = OrderView),
        (status = 403, description = "Not the owner", body = shared::openapi::ErrorBody),
        (status = 404, description = "No such order, or not yours", body = shared::openapi::ErrorBody),
        (status = 409, description = "Not pending (`order_not_pending`, `details.status`)", body = shared::openapi::ErrorBody),
        (status = 503, description = "Alipay unavailable; nothing changed", body = shared::openapi::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = who.user_id, order_id = *id))]
pub async fn cancel_order(
    ctx: web::Data<PaymentContext>,
    who: Identity,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let viewer = Viewer::from(&who);
    let order = super::visible_order(&ctx, viewer, id.into_inner()).await?;
    super::require_owner(viewer, &order)?;
    if order.status() != OrderStatus::Pending {
        return Err(super::pay_order::not_pending(order.status()));
    }
    let order = closing::close(&ctx, &order, "cancelled").await?;
    match order.status() {
        OrderStatus::Closed => {
            Ok(HttpResponse::Ok().json(order.view(ctx.orders().payment_timeout)))
        }
        status => Err(super::pay_order::not_pending(status)),
    }
}
