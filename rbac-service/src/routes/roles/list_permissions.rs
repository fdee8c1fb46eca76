use actix_web::{HttpRequest, HttpResponse, web};
use shared::ApiError;
use shared::list::{ListQuery, ListSpec};

use crate::context::RbacContext;
use crate::models::{Permission, PermissionView, Role};

const SPEC: ListSpec = ListSpec::new(
    &["id", "method", "resource", "category"],
    &["category", "method", "resource"],
);

/// `GET /v1/roles/{id}/permissions`: what the role may call, filterable by category.
#[utoipa::path(get, path = "/v1/roles/{id}/permissions", tag = "rbac", security(("bearer" = [])),
    params(("id" = i64, Path), ("category" = Option<String>, Query), ("method" = Option<String>, Query),
        ("resource" = Option<String>, Query), ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, body = shared::list::Page<PermissionView>), (status = 404, body = shared::openapi::ErrorBody)))]
pub async fn list_role_permissions(
    ctx: web::Data<RbacContext>,
    id: web::Path<i64>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let list = ListQuery::parse(&SPEC, req.query_string())?;
    let query = list.clone();
    let (count, rows) = ctx
        .db()
        .run(move |conn| {
            Role::find(conn, id)?;
            Permission::list(conn, &query, Some(id))
        })
        .await?;
    Ok(HttpResponse::Ok().json(list.page(req.path(), count, rows)))
}
