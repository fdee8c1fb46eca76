use actix_web::{HttpRequest, HttpResponse, web};
use shared::ApiError;
use shared::list::{ListQuery, ListSpec};

use crate::context::RbacContext;
use crate::models::{Role, UserRoles};

const SPEC: ListSpec = ListSpec::new(&[], &[]);

/// `GET /v1/users/{id}/roles`: the roles a user holds (traveller for users nobody changed).
#[utoipa::path(get, path = "/v1/users/{id}/roles", tag = "rbac", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = shared::list::Page<Role>)))]
pub async fn list_user_roles(
    ctx: web::Data<RbacContext>,
    id: web::Path<i64>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let user_id = id.into_inner();
    let list = ListQuery::parse(&SPEC, req.query_string())?;
    let roles = ctx
        .db()
        .run(move |conn| {
            let held = UserRoles::load(conn, user_id)?;
            let roles: Vec<Role> = Role::all(conn)?
                .into_iter()
                .filter(|r| held.role_ids.contains(&r.id))
                .collect();
            Ok(roles)
        })
        .await?;
    let count = roles.len() as i64;
    let page: Vec<Role> = roles
        .into_iter()
        .skip(list.offset as usize)
        .take(list.limit as usize)
        .collect();
    Ok(HttpResponse::Ok().json(list.page(req.path(), count, page)))
}
