use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use shared::ApiError;

use crate::context::RecommendContext;
use crate::ranking::{self, Recommendation};
use crate::routes::get_recommendations::parse_limit;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimilarQuery {
    limit: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SimilarList {
    pub count: usize,
    pub results: Vec<Recommendation>,
}

/// `GET /v1/trips/{id}/similar`: trips liked by the same travellers (public).
#[utoipa::path(get, path = "/v1/trips/{id}/similar", tag = "trips",
    params(("id" = i64, Path, description = "Trip id"),
        ("limit" = Option<i64>, Query, description = "1–50, default 10")),
    responses((status = 200, description = "Similar trips, most similar first", body = SimilarList),
        (status = 404, description = "No such trip", body = shared::openapi::ErrorBody),
        (status = 422, description = "Invalid limit", body = shared::openapi::ErrorBody)))]
pub async fn similar_trips(
    ctx: web::Data<RecommendContext>,
    id: web::Path<i64>,
    query: web::Query<SimilarQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = parse_limit(query.limit.as_deref())?;
    let trip = ctx
        .cache()
        .get(id.into_inner())
        .await?
        .ok_or_else(|| ApiError::not_found("trip"))?;
    let snapshot = ctx.recommender().snapshot();
    let results = ctx
        .db()
        .run(move |conn| Ok(ranking::similar(conn, &snapshot, &trip, limit)?))
        .await?;
    Ok(HttpResponse::Ok().json(SimilarList {
        count: results.len(),
        results,
    }))
}
