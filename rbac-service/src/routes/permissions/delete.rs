use actix_web::{HttpResponse, web};
use shared::ApiError;

use crate::context::RbacContext;
use crate::models::Permission;

/// `DELETE /v1/permissions/{id}`: the permission and every grant of it.
#[utoipa::path(delete, path = "/v1/permissions/{id}", tag = "rbac", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = shared::openapi::ErrorBody)))]
pub async fn delete_permission(
    ctx: web::Data<RbacContext>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let deleted = ctx
        .db()
        .run(move |conn| Ok(Permission::delete(conn, id)?))
        .await?;
    if deleted == 0 {
        return Err(ApiError::not_found("permission"));
    }
    ctx.policy_changed().await;
    Ok(HttpResponse::NoContent().finish())
}
