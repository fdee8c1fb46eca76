use actix_web::{HttpRequest, HttpResponse, web};
use shared::ApiError;
use shared::identity::Identity;

use crate::context::AuthContext;

/// `POST /v1/auth/logout`: ends this session, on every replica at once.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Signed out"), (status = 401, description = "Not signed in", body = shared::openapi::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = who.user_id))]
pub async fn logout(
    ctx: web::Data<AuthContext>,
    who: Identity,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    ctx.end_session(who.user_id, &who.session_id, "logout")
        .await?;
    Ok(HttpResponse::NoContent()
        .cookie(crate::refresh_cookie::clear(&req))
        .finish())
}
