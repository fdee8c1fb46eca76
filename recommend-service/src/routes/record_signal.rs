use actix_web::{HttpResponse, web};
use serde::Deserialize;
use shared::ApiError;
use shared::identity::InternalCaller;

use crate::context::RecommendContext;
use crate::domain::SignalKind;
use crate::signals;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalRequest {
    user_id: i64,
    trip_id: i64,
    /// `purchase` (also `view` or `favourite`).
    kind: String,
    /// Makes the signal count once, e.g. the order's `out_trade_no`; 1–128 characters.
    reference: String,
}

/// `POST /internal/signals`: records an implicit signal; idempotent on (kind, reference).
#[utoipa::path(post, path = "/internal/signals", tag = "internal", request_body = SignalRequest,
    responses((status = 204, description = "Recorded (or already was)"),
        (status = 403, description = "Not an internal caller", body = shared::openapi::ErrorBody),
        (status = 404, description = "No such trip", body = shared::openapi::ErrorBody),
        (status = 409, description = "Reference used for another user or trip", body = shared::openapi::ErrorBody),
        (status = 422, description = "Invalid fields", body = shared::openapi::ErrorBody)))]
pub async fn record_signal(
    ctx: web::Data<RecommendContext>,
    _caller: InternalCaller,
    body: shared::json::Json<SignalRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let kind = SignalKind::parse(&body.kind);
    let reference = body.reference.trim();
    let bad_reference = reference.is_empty() || reference.chars().count() > 128;
    let mut errors = Vec::new();
    if let Err(message) = &kind {
        errors.push(("kind".to_owned(), message.clone()));
    }
    if bad_reference {
        errors.push((
            "reference".to_owned(),
            "must be 1 to 128 characters".to_owned(),
        ));
    }
    let (Ok(kind), false) = (kind, bad_reference) else {
        return Err(ApiError::validation_fields(errors));
    };
    signals::record(&ctx, body.user_id, body.trip_id, kind, reference.to_owned()).await?;
    Ok(HttpResponse::NoContent().finish())
}
