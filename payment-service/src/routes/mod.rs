//! The route table of payment-service.

use actix_web::web;
use diesel::OptionalExtension;
use shared::{ApiError, Code};

use crate::context::PaymentContext;
use crate::domain::Viewer;
use crate::models::Order;
use crate::openapi::ApiDoc;

pub mod alipay_notify;
pub mod alipay_return;
pub mod cancel_order;
pub mod create_order;
pub mod get_order;
mod health;
pub mod list_orders;
pub mod pay_order;
pub mod refund_order;

pub fn config(cfg: &mut web::ServiceConfig) {
    shared::openapi::serve(cfg, <ApiDoc as utoipa::OpenApi>::openapi());
    cfg.route("/healthz", web::get().to(shared::http::healthz))
        .route("/readyz", web::get().to(health::readyz));
    ApiDoc::routes(cfg);
}

/// The order `id` if `viewer` may see it; another traveller's order is a 404, exactly
/// like a missing one, so ids reveal nothing.
pub(crate) async fn visible_order(
    ctx: &PaymentContext,
    viewer: Viewer,
    id: i64,
) -> Result<Order, ApiError> {
    let order = ctx
        .db()
        .run(move |conn| Ok(Order::find(conn, id).optional()?))
        .await?;
    order
        .filter(|order| viewer.sees(order.user_id))
        .ok_or_else(|| ApiError::not_found("order"))
}

/// The owner alone may pay for or cancel an order (an admin who is not the owner: 403).
pub(crate) fn require_owner(viewer: Viewer, order: &Order) -> Result<(), ApiError> {
    if viewer.user_id == order.user_id {
        Ok(())
    } else {
        Err(ApiError::new(
            Code::NotOrderOwner,
            "Only the traveller who placed the order can do this.",
        ))
    }
}
