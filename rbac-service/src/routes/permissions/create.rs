use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use shared::db;
use shared::json::Json;
use shared::{ApiError, Code};

use crate::context::RbacContext;
use crate::domain::Method;
use crate::models::{NewPermission, Permission, PermissionView, Resource};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePermission {
    resource_id: i64,
    /// GET, POST, PUT, PATCH or DELETE
    method: String,
    /// Callable without signing in.
    #[serde(default)]
    is_public: bool,
}

/// `POST /v1/permissions`
#[utoipa::path(post, path = "/v1/permissions", tag = "rbac", security(("bearer" = [])), request_body = CreatePermission,
    responses((status = 201, body = PermissionView), (status = 409, body = shared::openapi::ErrorBody),
        (status = 422, body = shared::openapi::ErrorBody)))]
pub async fn create_permission(
    ctx: web::Data<RbacContext>,
    body: Json<CreatePermission>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let method = Method::parse(&body.method).map_err(|e| ApiError::validation("method", e))?;
    let view = ctx
        .db()
        .run(move |conn| {
            db::write_transaction(conn, |conn| {
                Resource::find(conn, body.resource_id)
                    .map_err(|_| ApiError::validation("resource_id", "no such resource"))?;
                if Permission::find_by(conn, body.resource_id, method.as_str())?.is_some() {
                    return Err(ApiError::new(
                        Code::PermissionExists,
                        "This resource already has a permission for this method.",
                    )
                    .with_details(json!({ "field": "method" })));
                }
                let id = Permission::insert(
                    conn,
                    &NewPermission {
                        resource_id: body.resource_id,
                        method: method.as_str().to_owned(),
                        is_public: body.is_public,
                        built_in: false,
                        created_at: shared::time::now(),
                    },
                )?;
                Permission::view(conn, id)
            })
        })
        .await?;
    ctx.policy_changed().await;
    Ok(shared::http::created(
        format!("/v1/permissions/{}", view.id),
        view,
    ))
}
