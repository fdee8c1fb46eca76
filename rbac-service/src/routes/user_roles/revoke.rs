use actix_web::{HttpResponse, web};
use shared::ApiError;
use shared::db;

use crate::context::RbacContext;
use crate::models::user_role::ensure_not_last_super_admin;
use crate::models::{Role, UserRoles};
use crate::role_cache;

/// `DELETE /v1/users/{id}/roles/{role_id}`: the last super_admin keeps the role (409).
#[utoipa::path(delete, path = "/v1/users/{id}/roles/{role_id}", tag = "rbac", security(("bearer" = [])),
    params(("id" = i64, Path), ("role_id" = i64, Path)),
    responses((status = 204), (status = 404, body = shared::openapi::ErrorBody), (status = 409, body = shared::openapi::ErrorBody)))]
pub async fn revoke_role(
    ctx: web::Data<RbacContext>,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (user_id, role_id) = path.into_inner();
    let cache = ctx.roles_cache().clone();
    let roles = ctx
        .db()
        .run(move |conn| {
            db::write_transaction(conn, |conn| {
                let role = Role::find(conn, role_id)?;
                if !UserRoles::load(conn, user_id)?.role_ids.contains(&role_id) {
                    return Err(ApiError::not_found("role of this user"));
                }
                ensure_not_last_super_admin(conn, &role.name, role_id)?;
                UserRoles::revoke(conn, user_id, role_id)?;
                let roles = UserRoles::load(conn, user_id)?;
                role_cache::fence_before_commit(&cache, &roles)?;
                Ok(roles)
            })
        })
        .await?;
    role_cache::publish_or_log(ctx.roles_cache(), &roles).await;
    tracing::info!(user_id, role_id, "role revoked");
    Ok(HttpResponse::NoContent().finish())
}
