use actix_web::{HttpRequest, HttpResponse, web};
use shared::ApiError;
use shared::list::{ListQuery, ListSpec, Order};

use crate::context::AuthContext;
use crate::models::{User, UserView};

const SPEC: ListSpec = ListSpec::new(
    &["id", "account", "created_at", "last_login_at"],
    &["account", "email", "is_disabled"],
)
.sorted_by("created_at", Order::Desc);

/// `GET /v1/users`: accounts, for admins.
#[utoipa::path(get, path = "/v1/users", tag = "users", security(("bearer" = [])),
    params(("account" = Option<String>, Query), ("email" = Option<String>, Query), ("is_disabled" = Option<bool>, Query),
        ("sortby" = Option<String>, Query, description = "id, account, created_at or last_login_at"),
        ("order" = Option<String>, Query), ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, body = shared::list::Page<UserView>), (status = 400, body = shared::openapi::ErrorBody)))]
pub async fn list_users(
    ctx: web::Data<AuthContext>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let list = ListQuery::parse(&SPEC, req.query_string())?;
    let query = list.clone();
    let (count, users) = ctx.db().run(move |conn| User::list(conn, &query)).await?;
    let results: Vec<UserView> = users.into_iter().map(UserView::from).collect();
    Ok(HttpResponse::Ok().json(list.page(req.path(), count, results)))
}
