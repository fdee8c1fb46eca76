use actix_web::{HttpResponse, web};
use serde::Deserialize;
use shared::ApiError;
use shared::identity::Identity;

use crate::alipay::MAX_CENTS;
use crate::context::PaymentContext;
use crate::domain::{OrderStatus, new_out_trade_no};
use crate::models::{NewOrder, Order, OrderView};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrderRequest {
    trip_id: i64,
    /// Travellers on this order, default 1.
    #[serde(default = "one")]
    quantity: i32,
}

fn one() -> i32 {
    1
}

/// Alipay's limit for `subject`.
const SUBJECT_MAX_CHARS: usize = 256;

/// `POST /v1/orders`: 201 with the order. The amount is the trip's price (from
/// recommend-service) times the quantity; a client never names a price.
#[utoipa::path(post, path = "/v1/orders", tag = "orders", security(("bearer" = [])),
    request_body = CreateOrderRequest,
    responses((status = 201, description = "Ordered; pay with POST /v1/orders/{id}/pay", body = OrderView),
        (status = 409, description = "The trip is not on sale (`trip_not_on_sale`)", body = shared::openapi::ErrorBody),
        (status = 422, description = "Unknown trip or bad quantity", body = shared::openapi::ErrorBody),
        (status = 503, description = "The trip catalogue is unavailable", body = shared::openapi::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = who.user_id))]
pub async fn create_order(
    ctx: web::Data<PaymentContext>,
    who: Identity,
    body: shared::json::Json<CreateOrderRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let max = ctx.orders().max_quantity;
    if body.trip_id <= 0 {
        return Err(ApiError::validation("trip_id", "must be a trip id"));
    }
    if !(1..=max).contains(&body.quantity) {
        return Err(ApiError::validation(
            "quantity",
            format!("must be between 1 and {max}"),
        ));
    }
    let trip = ctx
        .recommend()
        .trip(body.trip_id)
        .await?
        .ok_or_else(|| ApiError::validation("trip_id", "no such trip"))?;
    if trip.status != "on_sale" {
        return Err(ApiError::conflict(
            "trip_not_on_sale",
            "This trip is not on sale.",
        ));
    }
    let amount = trip
        .price_cents
        .checked_mul(i64::from(body.quantity))
        .filter(|cents| (0..=MAX_CENTS).contains(cents))
        .filter(|_| trip.price_cents >= 0)
        .ok_or_else(|| ApiError::validation("quantity", "the order total is out of range"))?;
    let mut subject = if body.quantity > 1 {
        format!("{} ×{}", trip.title, body.quantity)
    } else {
        trip.title.clone()
    };
    if subject.chars().count() > SUBJECT_MAX_CHARS {
        subject = subject.chars().take(SUBJECT_MAX_CHARS).collect();
    }
    let now = shared::time::now();
    let new = NewOrder {
        out_trade_no: new_out_trade_no(now),
        user_id: who.user_id,
        trip_id: trip.id,
        quantity: body.quantity,
        amount_cents: amount,
        subject,
        status: OrderStatus::Pending.as_str().to_owned(),
        created_at: now,
    };
    let order = ctx
        .db()
        .run(move |conn| Ok(Order::insert(conn, &new)?))
        .await?;
    tracing::info!(order_id = order.id, amount_cents = amount, "order created");
    Ok(shared::http::created(
        format!("/v1/orders/{}", order.id),
        order.view(ctx.orders().payment_timeout),
    ))
}
