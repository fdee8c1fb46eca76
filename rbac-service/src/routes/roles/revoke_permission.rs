use actix_web::{HttpResponse, web};
use shared::db;
use shared::{ApiError, Code};

use crate::context::RbacContext;
use crate::models::{Permission, Role};
use crate::routes::built_in_conflict;
use crate::seed;

/// `DELETE /v1/roles/{id}/permissions/{permission_id}`: super_admin keeps its built-in
/// permissions of the admin API (409), so no one can lock the admins out.
#[utoipa::path(delete, path = "/v1/roles/{id}/permissions/{permission_id}", tag = "rbac", security(("bearer" = [])),
    params(("id" = i64, Path), ("permission_id" = i64, Path)),
    responses((status = 204), (status = 404, body = shared::openapi::ErrorBody), (status = 409, body = shared::openapi::ErrorBody)))]
pub async fn revoke_permission(
    ctx: web::Data<RbacContext>,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (role_id, permission_id) = path.into_inner();
    ctx.db()
        .run(move |conn| {
            db::write_transaction(conn, |conn| {
                let role = Role::find(conn, role_id)?;
                if !Role::revoke(conn, role_id, permission_id)? {
                    return Err(ApiError::not_found("permission of this role"));
                }
                if role.built_in && role.name == seed::SUPER_ADMIN {
                    let permission = Permission::view(conn, permission_id)?;
                    if permission.built_in && seed::ADMIN_API.contains(&&*permission.resource) {
                        // Returning the error rolls the revocation back.
                        return Err(built_in_conflict(
                            Code::BuiltInGrant,
                            &permission.resource,
                            &format!("super_admin keeps its {} permission", permission.method),
                        ));
                    }
                }
                Ok(())
            })
        })
        .await?;
    ctx.policy_changed().await;
    Ok(HttpResponse::NoContent().finish())
}
