use actix_web::{HttpResponse, web};
use shared::ApiError;
use shared::identity::InternalCaller;

use crate::context::RecommendContext;
use crate::engine::BuildReport;

/// `POST /internal/model/rebuild`: rebuilds this replica's model now and reports it.
#[utoipa::path(post, path = "/internal/model/rebuild", tag = "internal",
    responses((status = 200, description = "Rebuilt", body = BuildReport),
        (status = 403, description = "Not an internal caller", body = shared::openapi::ErrorBody)))]
pub async fn rebuild_model(
    ctx: web::Data<RecommendContext>,
    _caller: InternalCaller,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(ctx.recommender().rebuild().await?))
}
