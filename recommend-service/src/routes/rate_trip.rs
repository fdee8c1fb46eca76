use actix_web::{HttpResponse, web};
use serde::Deserialize;
use shared::ApiError;
use shared::identity::Identity;

use crate::context::RecommendContext;
use crate::domain::Score;
use crate::models::{NewRating, Rating, RatingView, Trip};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateRequest {
    trip_id: i64,
    /// 1–5 stars.
    score: i64,
}

/// `POST /v1/ratings`: rates a trip; rating it again replaces the score (200 instead
/// of 201).
#[utoipa::path(post, path = "/v1/ratings", tag = "ratings", security(("bearer" = [])),
    request_body = RateRequest,
    responses((status = 201, description = "Rated", body = RatingView),
        (status = 200, description = "Rating replaced", body = RatingView),
        (status = 401, description = "Not signed in", body = shared::openapi::ErrorBody),
        (status = 422, description = "Invalid score or unknown trip", body = shared::openapi::ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn rate_trip(
    ctx: web::Data<RecommendContext>,
    who: Identity,
    body: shared::json::Json<RateRequest>,
) -> Result<HttpResponse, ApiError> {
    let score = Score::parse(body.score).map_err(|m| ApiError::validation("score", m))?;
    let trip_id = body.trip_id;
    let now = shared::time::now();
    let row = NewRating {
        user_id: who.user_id,
        trip_id,
        score: score.value(),
        created_at: now,
        updated_at: now,
    };
    let (rating, created) = ctx
        .cache()
        .write(trip_id, move |conn| {
            let (rating, created) = Rating::upsert(conn, &row)?;
            let version = Trip::refresh_rating(conn, trip_id)?;
            Ok(((rating, created), Some(version)))
        })
        .await
        .map_err(unknown_trip_is_a_bad_field)?;
    ctx.recommender().changed().await;
    let view = RatingView::from(rating);
    Ok(if created {
        shared::http::created(format!("/v1/ratings/{}", view.id), view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

/// The trip is named in the body, so an unknown one is an invalid field, not a 404.
fn unknown_trip_is_a_bad_field(err: ApiError) -> ApiError {
    if err.kind() == shared::ErrorKind::NotFound {
        ApiError::validation("trip_id", "no such trip")
    } else {
        err
    }
}
