use actix_web::{HttpResponse, web};
use shared::ApiError;
use shared::identity::Identity;

use crate::context::AuthContext;
use crate::models::{User, UserView};

/// `GET /v1/auth/me`: the signed-in user.
#[utoipa::path(get, path = "/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "The signed-in user", body = UserView),
        (status = 401, description = "Not signed in", body = shared::openapi::ErrorBody)))]
pub async fn get_me(ctx: web::Data<AuthContext>, who: Identity) -> Result<HttpResponse, ApiError> {
    let user_id = who.user_id;
    let user = ctx
        .db()
        .run(move |conn| User::find(conn, user_id).map_err(|_| ApiError::not_found("user")))
        .await?;
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}
