use actix_web::{HttpRequest, HttpResponse, web};
use shared::ApiError;
use shared::list::{ListQuery, ListSpec};

use crate::context::RbacContext;
use crate::models::{Permission, PermissionView};

pub const SPEC: ListSpec = ListSpec::new(
    &["id", "method", "resource", "category"],
    &["category", "method", "resource", "role"],
);

/// `GET /v1/permissions`: filter by `category`, `method`, `resource` (name) or `role` (name).
#[utoipa::path(get, path = "/v1/permissions", tag = "rbac", security(("bearer" = [])),
    params(("category" = Option<String>, Query), ("method" = Option<String>, Query), ("resource" = Option<String>, Query),
        ("role" = Option<String>, Query), ("sortby" = Option<String>, Query), ("order" = Option<String>, Query),
        ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, body = shared::list::Page<PermissionView>), (status = 400, body = shared::openapi::ErrorBody)))]
pub async fn list_permissions(
    ctx: web::Data<RbacContext>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let list = ListQuery::parse(&SPEC, req.query_string())?;
    let query = list.clone();
    let (count, rows) = ctx
        .db()
        .run(move |conn| Permission::list(conn, &query, None))
        .await?;
    Ok(HttpResponse::Ok().json(list.page(req.path(), count, rows)))
}
