use actix_web::{HttpResponse, web};
use shared::ApiError;
use shared::db;

use crate::context::RbacContext;
use crate::models::Role;

/// `DELETE /v1/roles/{id}/permissions/{permission_id}`
#[utoipa::path(delete, path = "/v1/roles/{id}/permissions/{permission_id}", tag = "rbac", security(("bearer" = [])),
    params(("id" = i64, Path), ("permission_id" = i64, Path)),
    responses((status = 204), (status = 404, body = shared::openapi::ErrorBody)))]
pub async fn revoke_permission(
    ctx: web::Data<RbacContext>,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (role_id, permission_id) = path.into_inner();
    ctx.db()
        .run(move |conn| {
            db::write_transaction(conn, |conn| {
                Role::find(conn, role_id)?;
                if !Role::revoke(conn, role_id, permission_id)? {
                    return Err(ApiError::not_found("permission of this role"));
                }
                Ok(())
            })
        })
        .await?;
    ctx.policy_changed().await;
    Ok(HttpResponse::NoContent().finish())
}
