use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use shared::ApiError;
use shared::identity::Identity;

use crate::context::RecommendContext;
use crate::engine::AutoChoice;
use crate::ranking::{self, Recommendation, Source};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecommendationQuery {
    limit: Option<String>,
    strategy: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RecommendationList {
    /// The ranking used before any popular fill-up: item, user, ease, rp3 or popular.
    pub strategy: Source,
    /// The model version the list came from (0 before the first build).
    pub model_version: u64,
    /// What that model's `auto` serves and by how much it won on held-out data.
    pub model_auto: AutoChoice,
    pub count: usize,
    pub results: Vec<Recommendation>,
}

pub const MAX_LIMIT: usize = 50;

/// `GET /v1/recommendations`: trips the signed-in traveller may like.
#[utoipa::path(get, path = "/v1/recommendations", tag = "recommendations", security(("bearer" = [])),
    params(("limit" = Option<i64>, Query, description = "1–50, default 10"),
        ("strategy" = Option<String>, Query, description = "item, user, popular or auto (default)")),
    responses((status = 200, description = "Recommendations, best first", body = RecommendationList),
        (status = 401, description = "Not signed in", body = shared::openapi::ErrorBody),
        (status = 422, description = "Invalid limit or strategy", body = shared::openapi::ErrorBody)))]
pub async fn get_recommendations(
    ctx: web::Data<RecommendContext>,
    who: Identity,
    query: web::Query<RecommendationQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = parse_limit(query.limit.as_deref())?;
    let requested = Source::parse(query.strategy.as_deref().unwrap_or("auto"))
        .map_err(|m| ApiError::validation("strategy", m))?;
    let snapshot = ctx.recommender().snapshot();
    let (model_version, model_auto) = (snapshot.version, snapshot.auto.clone());
    let (user_id, min_profile) = (who.user_id, ctx.min_profile());
    let (strategy, results) = ctx
        .db()
        .run(move |conn| {
            Ok(ranking::for_user(
                conn,
                &snapshot,
                user_id,
                requested,
                limit,
                min_profile,
            )?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(RecommendationList {
        strategy,
        model_version,
        model_auto,
        count: results.len(),
        results,
    }))
}

/// `limit` from the query: 1–[`MAX_LIMIT`], default 10.
pub fn parse_limit(raw: Option<&str>) -> Result<usize, ApiError> {
    let Some(raw) = raw else { return Ok(10) };
    match raw.parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(ApiError::validation(
            "limit",
            format!("must be a whole number from 1 to {MAX_LIMIT}"),
        )),
    }
}
