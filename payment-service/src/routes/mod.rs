//! The route table of payment-service.

use actix_web::web;
use shared::http::resource;
use shared::{ApiError, Code};

use crate::context::PaymentContext;
use crate::domain::Viewer;
use crate::models::Order;

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
    shared::openapi::serve(cfg, <crate::openapi::ApiDoc as utoipa::OpenApi>::openapi());
    cfg.route("/healthz", web::get().to(shared::http::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .service(
            web::scope("/v1/orders")
                .service(
                    resource("")
                        .route(web::post().to(create_order::create_order))
                        .route(web::get().to(list_orders::list_orders)),
                )
                .service(resource("/{id}").route(web::get().to(get_order::get_order)))
                .service(resource("/{id}/pay").route(web::post().to(pay_order::pay_order)))
                .service(resource("/{id}/cancel").route(web::post().to(cancel_order::cancel_order)))
                .service(
                    resource("/{id}/refund").route(web::post().to(refund_order::refund_order)),
                ),
        )
        .service(
            web::scope("/v1/payments/alipay")
                .service(resource("/notify").route(web::post().to(alipay_notify::alipay_notify)))
                .service(resource("/return").route(web::get().to(alipay_return::alipay_return))),
        );
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
        .run(move |conn| Ok(Order::find(conn, id).ok()))
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
