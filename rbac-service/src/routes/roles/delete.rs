use actix_web::{HttpResponse, web};
use shared::db;
use shared::{ApiError, Code};

use crate::context::RbacContext;
use crate::models::Role;

/// `DELETE /v1/roles/{id}`: built-in roles cannot be deleted (409). Users lose the role
/// at once: the policy no longer knows it.
#[utoipa::path(delete, path = "/v1/roles/{id}", tag = "rbac", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = shared::openapi::ErrorBody), (status = 409, body = shared::openapi::ErrorBody)))]
pub async fn delete_role(
    ctx: web::Data<RbacContext>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    ctx.db()
        .run(move |conn| {
            db::write_transaction(conn, |conn| {
                if Role::find(conn, id)?.built_in {
                    return Err(ApiError::new(
                        Code::BuiltInRole,
                        "A built-in role cannot be deleted.",
                    ));
                }
                Role::delete(conn, id)?;
                Ok(())
            })
        })
        .await?;
    ctx.policy_changed().await;
    Ok(HttpResponse::NoContent().finish())
}
