use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use shared::db;
use shared::identity::Identity;
use shared::{ApiError, Code};

use crate::alipay::MAX_CENTS;
use crate::context::PaymentContext;
use crate::domain::{OrderStatus, new_out_trade_no};
use crate::models::{NewOrder, Order, OrderView, idempotency};

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
///
/// With an `Idempotency-Key`, a repeat of the request (same user, key and body) answers
/// like the first one (201, the same order as it is now, `Idempotent-Replayed: true`)
/// instead of ordering again; the database's unique (user, key) makes concurrent repeats
/// one order too.
#[utoipa::path(post, path = "/v1/orders", tag = "orders", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header,
        description = "1–255 printable ASCII characters; the same key and body from the same user make one order")),
    request_body = CreateOrderRequest,
    responses((status = 201, description = "Ordered (or the order this Idempotency-Key made); pay with POST /v1/orders/{id}/pay", body = OrderView),
        (status = 400, description = "Bad Idempotency-Key header (`invalid_idempotency_key`)", body = shared::openapi::ErrorBody),
        (status = 409, description = "The trip is not on sale (`trip_not_on_sale`)", body = shared::openapi::ErrorBody),
        (status = 422, description = "Unknown trip or bad quantity; or the Idempotency-Key was used with another body (`idempotency_key_reused`)", body = shared::openapi::ErrorBody),
        (status = 503, description = "The trip catalogue is unavailable", body = shared::openapi::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = who.user_id))]
pub async fn create_order(
    ctx: web::Data<PaymentContext>,
    who: Identity,
    req: HttpRequest,
    body: shared::json::Json<CreateOrderRequest>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
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
    if let Some(key) = key.clone() {
        let user_id = who.user_id;
        let earlier = ctx
            .db()
            .run(move |conn| Ok(idempotency::order(conn, user_id, &key)?))
            .await?;
        if let Some(order) = earlier {
            return replay(&ctx, order, &body);
        }
    }
    let trip = ctx
        .recommend()
        .trip(body.trip_id)
        .await?
        .ok_or_else(|| ApiError::validation("trip_id", "no such trip"))?;
    if trip.status != "on_sale" {
        return Err(ApiError::new(
            Code::TripNotOnSale,
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
    let user_id = who.user_id;
    let (order, created) = ctx
        .db()
        .run(move |conn| {
            let made = db::write_transaction(conn, |conn| {
                let order = Order::insert(conn, &new)?;
                if let Some(key) = &key {
                    idempotency::insert(conn, user_id, key, order.id, now)?;
                }
                Ok(order)
            });
            match (made, &key) {
                (Ok(order), _) => Ok((order, true)),
                // A concurrent request with the same key committed first (this one's order
                // was rolled back with its key): answer with that order.
                (Err(err), Some(key)) if db::is_unique_violation(&err) => {
                    match idempotency::order(conn, user_id, key)? {
                        Some(order) => Ok((order, false)),
                        None => Err(err.into()),
                    }
                }
                (Err(err), _) => Err(err.into()),
            }
        })
        .await?;
    if !created {
        return replay(&ctx, order, &body);
    }
    tracing::info!(order_id = order.id, amount_cents = amount, "order created");
    ctx.orders_moved
        .get_or_create(&vec![("transition", "created")])
        .inc();
    Ok(shared::http::created(
        format!("/v1/orders/{}", order.id),
        order.view(ctx.orders().payment_timeout),
    ))
}

/// The header looked up (its name is `shared`'s: the gateway reads it too) and, for the
/// error details, as the API description spells it.
const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static(shared::http::IDEMPOTENCY_KEY);
const IDEMPOTENCY_KEY_SPELLED: &str = "Idempotency-Key";

/// The request's `Idempotency-Key`, if any: one header of 1–255 printable ASCII
/// characters, or a 400 naming the header.
fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let mut values = req.headers().get_all(IDEMPOTENCY_KEY);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let bytes = value.as_bytes();
    let valid = values.next().is_none()
        && (1..=255).contains(&bytes.len())
        && bytes.iter().all(|b| (0x20..=0x7e).contains(b));
    match value.to_str() {
        Ok(key) if valid => Ok(Some(key.to_owned())),
        _ => Err(ApiError::new(
            Code::InvalidIdempotencyKey,
            "The Idempotency-Key header must be given once, as 1 to 255 printable ASCII characters.",
        )
        .with_details(json!({ "header": IDEMPOTENCY_KEY_SPELLED }))),
    }
}

/// The answer to a repeat of the request that made `order` with the same key: the first
/// answer again (201, the order as it is now), or 422 if the key came with another body.
fn replay(
    ctx: &PaymentContext,
    order: Order,
    body: &CreateOrderRequest,
) -> Result<HttpResponse, ApiError> {
    if (order.trip_id, order.quantity) != (body.trip_id, body.quantity) {
        return Err(ApiError::new(
            Code::IdempotencyKeyReused,
            "This Idempotency-Key was used for another order request.",
        )
        .with_details(json!({ "header": IDEMPOTENCY_KEY_SPELLED, "order_id": order.id })));
    }
    tracing::info!(order_id = order.id, "idempotent repeat of an order");
    let mut response = shared::http::created(
        format!("/v1/orders/{}", order.id),
        order.view(ctx.orders().payment_timeout),
    );
    response.headers_mut().insert(
        HeaderName::from_static("idempotent-replayed"),
        HeaderValue::from_static("true"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The name payment-service reads, the one its errors and API description show and the
    /// one the gateway decides retries by are one header.
    #[test]
    fn the_idempotency_key_is_one_header_everywhere_it_is_named() {
        assert!(IDEMPOTENCY_KEY_SPELLED.eq_ignore_ascii_case(shared::http::IDEMPOTENCY_KEY));
        assert_eq!(IDEMPOTENCY_KEY.as_str(), shared::http::IDEMPOTENCY_KEY);
        let doc =
            serde_json::to_value(<crate::openapi::ApiDoc as utoipa::OpenApi>::openapi()).unwrap();
        let documented: Vec<&str> = doc["paths"]["/v1/orders"]["post"]["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "header")
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(documented, [IDEMPOTENCY_KEY_SPELLED]);
    }
}
