//! What the gateway and other services ask rbac-service; never routed by the gateway.

use actix_web::{HttpResponse, web};
use serde_json::json;
use shared::ApiError;
use shared::identity::InternalCaller;
use shared::policy::UserRolesDocument;

use crate::context::RbacContext;
use crate::models::{Role, UserRoles};
use crate::{policy, role_cache};

/// `GET /internal/policy`: the whole policy, stamped with the version it is at least as
/// new as (read before the database, so a change during the read is caught later).
pub async fn get_policy(
    ctx: web::Data<RbacContext>,
    _: InternalCaller,
) -> Result<HttpResponse, ApiError> {
    let version = policy::current_version(ctx.redis()).await?;
    let document = ctx
        .db()
        .run(move |conn| Ok(policy::document(conn, version)?))
        .await?;
    Ok(HttpResponse::Ok().json(document))
}

/// `GET /internal/users/{id}/roles`: a user's role ids; also (re)fills the roles cache.
pub async fn get_user_roles(
    ctx: web::Data<RbacContext>,
    _: InternalCaller,
    user_id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let user_id = user_id.into_inner();
    let roles = ctx
        .db()
        .run(move |conn| Ok(UserRoles::load(conn, user_id)?))
        .await?;
    // Filling the cache is an optimisation; the answer itself comes from the database.
    role_cache::publish_or_log(ctx.roles_cache(), &roles).await;
    Ok(HttpResponse::Ok().json(UserRolesDocument {
        user_id: roles.user_id,
        version: roles.version,
        role_ids: roles.role_ids,
    }))
}

/// `GET /internal/roles/{name}/users`: who holds a role explicitly (e.g. the experts).
pub async fn get_role_members(
    ctx: web::Data<RbacContext>,
    _: InternalCaller,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let user_ids = ctx
        .db()
        .run(move |conn| {
            let role =
                Role::find_by_name(conn, &name)?.ok_or_else(|| ApiError::not_found("role"))?;
            Ok(UserRoles::holders(conn, role.id)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "user_ids": user_ids })))
}
