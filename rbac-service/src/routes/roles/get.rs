use actix_web::{HttpResponse, web};
use shared::ApiError;

use crate::context::RbacContext;
use crate::models::Role;

/// `GET /v1/roles/{id}`
#[utoipa::path(get, path = "/v1/roles/{id}", tag = "rbac", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = Role), (status = 404, body = shared::openapi::ErrorBody)))]
pub async fn get_role(
    ctx: web::Data<RbacContext>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let role = ctx.db().run(move |conn| Role::find(conn, id)).await?;
    Ok(HttpResponse::Ok().json(role))
}
