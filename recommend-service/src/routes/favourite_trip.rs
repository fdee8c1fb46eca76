use actix_web::{HttpResponse, web};
use shared::ApiError;
use shared::identity::Identity;

use crate::context::RecommendContext;
use crate::domain::SignalKind;
use crate::models::Signal;
use crate::signals;

/// `POST /v1/trips/{id}/favourite`: marks the trip as a favourite (idempotent).
#[utoipa::path(post, path = "/v1/trips/{id}/favourite", tag = "trips", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Trip id")),
    responses((status = 204, description = "A favourite now"),
        (status = 401, description = "Not signed in", body = shared::openapi::ErrorBody),
        (status = 404, description = "No such trip", body = shared::openapi::ErrorBody)))]
pub async fn add_favourite(
    ctx: web::Data<RecommendContext>,
    who: Identity,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let reference = signals::favourite_reference(who.user_id, id);
    signals::record(&ctx, who.user_id, id, SignalKind::Favourite, reference).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /v1/trips/{id}/favourite`: no longer a favourite.
#[utoipa::path(delete, path = "/v1/trips/{id}/favourite", tag = "trips", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Trip id")),
    responses((status = 204, description = "Removed"),
        (status = 404, description = "Not one of your favourites", body = shared::openapi::ErrorBody)))]
pub async fn remove_favourite(
    ctx: web::Data<RecommendContext>,
    who: Identity,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let reference = signals::favourite_reference(who.user_id, id.into_inner());
    let removed = ctx
        .db()
        .run(move |conn| {
            Ok(Signal::remove(
                conn,
                SignalKind::Favourite.as_str(),
                &reference,
            )?)
        })
        .await?;
    if !removed {
        return Err(ApiError::not_found("favourite"));
    }
    ctx.recommender().changed().await;
    Ok(HttpResponse::NoContent().finish())
}
