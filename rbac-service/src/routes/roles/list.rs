use actix_web::{HttpRequest, HttpResponse, web};
use shared::ApiError;
use shared::list::{ListQuery, ListSpec};

use crate::context::RbacContext;
use crate::models::Role;

const SPEC: ListSpec = ListSpec::new(&["id", "name", "created_at"], &["name", "built_in"]);

/// `GET /v1/roles`
#[utoipa::path(get, path = "/v1/roles", tag = "rbac", security(("bearer" = [])),
    params(("name" = Option<String>, Query), ("built_in" = Option<bool>, Query), ("sortby" = Option<String>, Query),
        ("order" = Option<String>, Query), ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, body = shared::list::Page<Role>), (status = 400, body = shared::openapi::ErrorBody)))]
pub async fn list_roles(
    ctx: web::Data<RbacContext>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let list = ListQuery::parse(&SPEC, req.query_string())?;
    let query = list.clone();
    let (count, rows) = ctx.db().run(move |conn| Role::list(conn, &query)).await?;
    Ok(HttpResponse::Ok().json(list.page(req.path(), count, rows)))
}
