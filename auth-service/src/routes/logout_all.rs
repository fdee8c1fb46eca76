use actix_web::{HttpRequest, HttpResponse, web};
use shared::ApiError;
use shared::identity::Identity;

use crate::context::AuthContext;

/// `POST /v1/auth/logout-all`: ends every session of the user, this one included.
#[utoipa::path(post, path = "/v1/auth/logout-all", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Every session ended"), (status = 401, description = "Not signed in", body = shared::openapi::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = who.user_id))]
pub async fn logout_all(
    ctx: web::Data<AuthContext>,
    who: Identity,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let ended = ctx.end_sessions(who.user_id, None, "logout_all").await?;
    tracing::info!(ended, "signed out everywhere");
    Ok(HttpResponse::NoContent()
        .cookie(crate::refresh_cookie::clear(&req))
        .finish())
}
