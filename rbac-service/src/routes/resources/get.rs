use actix_web::{HttpResponse, web};
use shared::ApiError;

use crate::context::RbacContext;
use crate::models::Resource;

/// `GET /v1/resources/{id}`
#[utoipa::path(get, path = "/v1/resources/{id}", tag = "rbac", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = Resource), (status = 404, body = shared::openapi::ErrorBody)))]
pub async fn get_resource(
    ctx: web::Data<RbacContext>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let resource = ctx.db().run(move |conn| Resource::find(conn, id)).await?;
    Ok(HttpResponse::Ok().json(resource))
}
