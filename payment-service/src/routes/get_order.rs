use actix_web::{HttpResponse, web};
use shared::ApiError;
use shared::identity::Identity;

use crate::context::PaymentContext;
use crate::domain::Viewer;
use crate::models::{OrderView, Refund, RefundView, event};

/// `GET /v1/orders/{id}`: the order with its refunds (and, with the `orders-all` scope,
/// its payment events); someone else's order is a 404 without that scope.
#[utoipa::path(get, path = "/v1/orders/{id}", tag = "orders", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, description = "The order", body = OrderView),
        (status = 404, description = "No such order, or not yours", body = shared::openapi::ErrorBody)))]
pub async fn get_order(
    ctx: web::Data<PaymentContext>,
    who: Identity,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let viewer = Viewer::from(&who);
    let order = super::visible_order(&ctx, viewer, id.into_inner()).await?;
    let id = order.id;
    let mut view = detail(&ctx, order).await?;
    if viewer.sees_all {
        let events = ctx
            .db()
            .run(move |conn| Ok(event::for_order(conn, id)?))
            .await?;
        view.events = Some(events);
    }
    Ok(HttpResponse::Ok().json(view))
}

/// The order's view including its refunds.
pub(crate) async fn detail(
    ctx: &PaymentContext,
    order: crate::models::Order,
) -> Result<OrderView, ApiError> {
    let id = order.id;
    let refunds = ctx
        .db()
        .run(move |conn| Ok(Refund::for_order(conn, id)?))
        .await?;
    let mut view = order.view(ctx.orders().payment_timeout);
    view.refunds = Some(refunds.into_iter().map(RefundView::from).collect());
    Ok(view)
}
