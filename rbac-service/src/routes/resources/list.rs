use actix_web::{HttpRequest, HttpResponse, web};
use shared::ApiError;
use shared::list::{ListQuery, ListSpec};

use crate::context::RbacContext;
use crate::models::Resource;

const SPEC: ListSpec = ListSpec::new(
    &["id", "name", "category", "pattern", "created_at"],
    &["category", "name", "is_public"],
);

/// `GET /v1/resources`
#[utoipa::path(get, path = "/v1/resources", tag = "rbac", security(("bearer" = [])),
    params(("category" = Option<String>, Query), ("name" = Option<String>, Query), ("is_public" = Option<bool>, Query),
        ("sortby" = Option<String>, Query), ("order" = Option<String>, Query), ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, body = shared::list::Page<Resource>), (status = 400, body = shared::openapi::ErrorBody)))]
pub async fn list_resources(
    ctx: web::Data<RbacContext>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let list = ListQuery::parse(&SPEC, req.query_string())?;
    let query = list.clone();
    let (count, rows) = ctx
        .db()
        .run(move |conn| Resource::list(conn, &query))
        .await?;
    Ok(HttpResponse::Ok().json(list.page(req.path(), count, rows)))
}
