use actix_web::{HttpResponse, web};
use serde::Deserialize;
use shared::identity::Identity;
use shared::{ApiError, Code};

use crate::context::PaymentContext;
use crate::domain::{OutRequestNo, RefundReason, Viewer};
use crate::models::OrderView;
use crate::refunding::{self, RefundCommand};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Cents to refund; default everything not yet refunded.
    amount_cents: Option<i64>,
    /// Your idempotency key (1–64 of `A-Z a-z 0-9 _ -`): retrying with the same one never
    /// refunds twice. Generated when absent.
    out_request_no: Option<String>,
    reason: Option<String>,
}

/// `POST /v1/orders/{id}/refund` (order_admin): a full or partial refund through Alipay.
/// The order becomes `refunded` once everything paid is refunded.
#[utoipa::path(post, path = "/v1/orders/{id}/refund", tag = "orders", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = RefundRequest,
    responses((status = 200, description = "Refunded; the order with its refunds", body = OrderView),
        (status = 403, description = "Not an order_admin", body = shared::openapi::ErrorBody),
        (status = 404, description = "No such order", body = shared::openapi::ErrorBody),
        (status = 409, description = "`order_not_refundable`, `nothing_to_refund`, `out_request_no_reused`, `refund_failed`, `refund_refused`", body = shared::openapi::ErrorBody),
        (status = 422, description = "Bad amount (e.g. more than remains)", body = shared::openapi::ErrorBody),
        (status = 503, description = "Alipay unavailable; the refund stays pending, retry with the same out_request_no", body = shared::openapi::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = who.user_id, order_id = *id))]
pub async fn refund_order(
    ctx: web::Data<PaymentContext>,
    who: Identity,
    id: web::Path<i64>,
    body: shared::json::Json<RefundRequest>,
) -> Result<HttpResponse, ApiError> {
    let viewer = Viewer::from(&who);
    if !viewer.is_admin {
        return Err(ApiError::new(
            Code::OrderAdminOnly,
            "Only an order admin can refund.",
        ));
    }
    let body = body.into_inner();
    let mut errors = Vec::new();
    if body.amount_cents.is_some_and(|cents| cents <= 0) {
        errors.push(("amount_cents".to_owned(), "must be positive".to_owned()));
    }
    let out_request_no = match body.out_request_no.as_deref().map(OutRequestNo::parse) {
        None => Some(OutRequestNo::generate()),
        Some(Ok(no)) => Some(no),
        Some(Err(message)) => {
            errors.push(("out_request_no".to_owned(), message));
            None
        }
    };
    let reason = match body.reason.as_deref().map(RefundReason::parse) {
        None => None,
        Some(Ok(reason)) => Some(reason),
        Some(Err(message)) => {
            errors.push(("reason".to_owned(), message));
            None
        }
    };
    let (Some(out_request_no), true) = (out_request_no, errors.is_empty()) else {
        return Err(ApiError::validation_fields(errors));
    };
    let order = super::visible_order(&ctx, viewer, id.into_inner()).await?;
    refunding::refund(
        &ctx,
        RefundCommand {
            order_id: order.id,
            amount_cents: body.amount_cents,
            out_request_no,
            reason,
            requested_by: who.user_id,
        },
    )
    .await?;
    let order = super::visible_order(&ctx, viewer, order.id).await?;
    Ok(HttpResponse::Ok().json(super::get_order::detail(&ctx, order).await?))
}
