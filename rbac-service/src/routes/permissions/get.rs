use actix_web::{HttpResponse, web};
use shared::ApiError;

use crate::context::RbacContext;
use crate::models::{Permission, PermissionView};

/// `GET /v1/permissions/{id}`
#[utoipa::path(get, path = "/v1/permissions/{id}", tag = "rbac", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = PermissionView), (status = 404, body = shared::openapi::ErrorBody)))]
pub async fn get_permission(
    ctx: web::Data<RbacContext>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let view = ctx.db().run(move |conn| Permission::view(conn, id)).await?;
    Ok(HttpResponse::Ok().json(view))
}
