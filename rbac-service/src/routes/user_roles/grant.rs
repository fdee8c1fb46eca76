use actix_web::{HttpResponse, web};
use serde::Deserialize;
use shared::db;
use shared::json::Json;
use shared::{ApiError, Code};

use crate::context::RbacContext;
use crate::models::{Role, UserRoles};
use crate::role_cache;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRole {
    role_id: i64,
}

/// `POST /v1/users/{id}/roles`: in force from the user's next request, on every replica.
#[utoipa::path(post, path = "/v1/users/{id}/roles", tag = "rbac", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = GrantRole,
    responses((status = 201, body = Role), (status = 404, body = shared::openapi::ErrorBody),
        (status = 409, body = shared::openapi::ErrorBody), (status = 422, body = shared::openapi::ErrorBody)))]
pub async fn grant_role(
    ctx: web::Data<RbacContext>,
    id: web::Path<i64>,
    body: Json<GrantRole>,
) -> Result<HttpResponse, ApiError> {
    let user_id = id.into_inner();
    let role_id = body.role_id;
    if !ctx.auth().user_exists(user_id).await? {
        return Err(ApiError::not_found("user"));
    }
    let cache = ctx.roles_cache().clone();
    let (role, roles) = ctx
        .db()
        .run(move |conn| {
            db::write_transaction(conn, |conn| {
                let role = Role::find(conn, role_id)
                    .map_err(|_| ApiError::validation("role_id", "no such role"))?;
                if !UserRoles::grant(conn, user_id, role_id)? {
                    return Err(ApiError::new(
                        Code::AlreadyGranted,
                        "The user already holds this role.",
                    ));
                }
                let roles = UserRoles::load(conn, user_id)?;
                role_cache::fence_before_commit(&cache, &roles)?;
                Ok((role, roles))
            })
        })
        .await?;
    role_cache::publish_or_log(ctx.roles_cache(), &roles).await;
    tracing::info!(user_id, role = %role.name, "role granted");
    Ok(shared::http::created(
        format!("/v1/users/{user_id}/roles/{role_id}"),
        role,
    ))
}
