use actix_web::{HttpResponse, web};
use shared::ApiError;

use crate::context::AuthContext;
use crate::models::{User, UserView};

/// `GET /v1/users/{id}`
#[utoipa::path(get, path = "/v1/users/{id}", tag = "users", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = UserView), (status = 404, body = shared::openapi::ErrorBody)))]
pub async fn get_user(
    ctx: web::Data<AuthContext>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let user = ctx
        .db()
        .run(move |conn| User::find(conn, id).map_err(|_| ApiError::not_found("user")))
        .await?;
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}
