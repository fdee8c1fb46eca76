use actix_web::{HttpResponse, web};
use serde::Deserialize;
use shared::db;
use shared::json::Json;
use shared::{ApiError, Code};

use crate::context::RbacContext;
use crate::models::{Permission, PermissionView, Role};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantPermission {
    permission_id: i64,
}

/// `POST /v1/roles/{id}/permissions`: the role may now call that route + method.
#[utoipa::path(post, path = "/v1/roles/{id}/permissions", tag = "rbac", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = GrantPermission,
    responses((status = 201, body = PermissionView), (status = 404, body = shared::openapi::ErrorBody),
        (status = 409, body = shared::openapi::ErrorBody), (status = 422, body = shared::openapi::ErrorBody)))]
pub async fn grant_permission(
    ctx: web::Data<RbacContext>,
    id: web::Path<i64>,
    body: Json<GrantPermission>,
) -> Result<HttpResponse, ApiError> {
    let role_id = id.into_inner();
    let permission_id = body.permission_id;
    let view = ctx
        .db()
        .run(move |conn| {
            db::write_transaction(conn, |conn| {
                Role::find(conn, role_id)?;
                let view = Permission::view(conn, permission_id)
                    .map_err(|_| ApiError::validation("permission_id", "no such permission"))?;
                if !Role::grant(conn, role_id, permission_id)? {
                    return Err(ApiError::new(
                        Code::AlreadyGranted,
                        "The role already holds this permission.",
                    ));
                }
                Ok(view)
            })
        })
        .await?;
    ctx.policy_changed().await;
    Ok(shared::http::created(
        format!("/v1/roles/{role_id}/permissions/{permission_id}"),
        view,
    ))
}
