use actix_web::{HttpResponse, web};
use shared::ApiError;
use shared::identity::Identity;

use crate::context::RecommendContext;
use crate::models::{Rating, Trip};

/// `DELETE /v1/ratings/{id}`: removes one of your ratings (another user's is 404).
#[utoipa::path(delete, path = "/v1/ratings/{id}", tag = "ratings", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Rating id")),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such rating of yours", body = shared::openapi::ErrorBody)))]
pub async fn delete_rating(
    ctx: web::Data<RecommendContext>,
    who: Identity,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let user_id = who.user_id;
    let rating = ctx
        .db()
        .run(move |conn| Ok(Rating::find(conn, id)?))
        .await?
        .filter(|r| r.user_id == user_id)
        .ok_or_else(|| ApiError::not_found("rating"))?;
    let trip_id = rating.trip_id;
    ctx.cache()
        .write(trip_id, move |conn| {
            Rating::delete(conn, id)?;
            Ok(((), Some(Trip::refresh_rating(conn, trip_id)?)))
        })
        .await?;
    ctx.recommender().changed().await;
    Ok(HttpResponse::NoContent().finish())
}
