use actix_web::{HttpResponse, web};
use shared::db;
use shared::{ApiError, Code};

use crate::context::RbacContext;
use crate::models::Resource;
use crate::routes::built_in_conflict;

/// `DELETE /v1/resources/{id}`: the resource and its permissions (and every grant of them).
/// Built-in resources cannot be deleted (409).
#[utoipa::path(delete, path = "/v1/resources/{id}", tag = "rbac", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = shared::openapi::ErrorBody), (status = 409, body = shared::openapi::ErrorBody)))]
pub async fn delete_resource(
    ctx: web::Data<RbacContext>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    ctx.db()
        .run(move |conn| {
            db::write_transaction(conn, |conn| {
                let resource = Resource::find(conn, id)?;
                if resource.built_in {
                    return Err(built_in_conflict(
                        Code::BuiltInResource,
                        &resource.name,
                        "it cannot be deleted",
                    ));
                }
                Resource::delete(conn, id)?;
                Ok(())
            })
        })
        .await?;
    ctx.policy_changed().await;
    Ok(HttpResponse::NoContent().finish())
}
