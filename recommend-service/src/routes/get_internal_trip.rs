//! The internal contract with payment-service (never routed by the gateway).

use actix_web::{HttpResponse, web};
use shared::ApiError;
use shared::identity::InternalCaller;

use crate::context::RecommendContext;
use crate::models::TripSummary;

/// `GET /internal/trips/{id}`: what payment-service needs to price an order.
#[utoipa::path(get, path = "/internal/trips/{id}", tag = "internal",
    params(("id" = i64, Path, description = "Trip id")),
    responses((status = 200, description = "The trip", body = TripSummary),
        (status = 403, description = "Not an internal caller", body = shared::openapi::ErrorBody),
        (status = 404, description = "No such trip", body = shared::openapi::ErrorBody)))]
pub async fn get_internal_trip(
    ctx: web::Data<RecommendContext>,
    _caller: InternalCaller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let trip = ctx
        .cache()
        .get(id.into_inner())
        .await?
        .ok_or_else(|| ApiError::not_found("trip"))?;
    Ok(HttpResponse::Ok().json(TripSummary::from(&trip)))
}
