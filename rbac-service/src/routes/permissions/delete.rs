use actix_web::{HttpResponse, web};
use shared::db;
use shared::{ApiError, Code};

use crate::context::RbacContext;
use crate::models::Permission;
use crate::routes::built_in_conflict;

/// `DELETE /v1/permissions/{id}`: the permission and every grant of it. Built-in permissions
/// cannot be deleted (409).
#[utoipa::path(delete, path = "/v1/permissions/{id}", tag = "rbac", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = shared::openapi::ErrorBody), (status = 409, body = shared::openapi::ErrorBody)))]
pub async fn delete_permission(
    ctx: web::Data<RbacContext>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    ctx.db()
        .run(move |conn| {
            db::write_transaction(conn, |conn| {
                let permission = Permission::view(conn, id)?;
                if permission.built_in {
                    return Err(built_in_conflict(
                        Code::BuiltInPermission,
                        &permission.resource,
                        &format!("its {} permission cannot be deleted", permission.method),
                    ));
                }
                Permission::delete(conn, id)?;
                Ok(())
            })
        })
        .await?;
    ctx.policy_changed().await;
    Ok(HttpResponse::NoContent().finish())
}
