use actix_web::{HttpResponse, web};
use shared::ApiError;
use shared::identity::Identity;

use crate::context::RecommendContext;
use crate::models::Trip;

/// `DELETE /v1/trips/{id}`: removes a trip with its ratings and signals.
#[utoipa::path(delete, path = "/v1/trips/{id}", tag = "trips", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Trip id")),
    responses((status = 204, description = "Deleted"),
        (status = 403, description = "Your roles do not allow this route", body = shared::openapi::ErrorBody),
        (status = 404, description = "No such trip", body = shared::openapi::ErrorBody)))]
pub async fn delete_trip(
    ctx: web::Data<RecommendContext>,
    who: Identity,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    ctx.cache()
        .write(id, move |conn| {
            let version = Trip::version(conn, id)?.ok_or_else(|| ApiError::not_found("trip"))?;
            Trip::delete(conn, id)?;
            // Past the last version: no reader may cache the deleted row.
            Ok(((), Some(version + 1)))
        })
        .await?;
    ctx.recommender().changed().await;
    tracing::info!(trip_id = id, user_id = who.user_id, "trip deleted");
    Ok(HttpResponse::NoContent().finish())
}
