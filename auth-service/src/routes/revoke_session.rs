use actix_web::{HttpResponse, web};
use shared::ApiError;
use shared::identity::Identity;

use crate::context::AuthContext;

/// `DELETE /v1/auth/sessions/{sid}`: ends one of the user's own sessions (another
/// user's session id is simply not found).
#[utoipa::path(delete, path = "/v1/auth/sessions/{sid}", tag = "auth", security(("bearer" = [])),
    params(("sid" = String, Path, description = "Session id")),
    responses((status = 204, description = "Session ended"),
        (status = 404, description = "No such session of yours", body = shared::openapi::ErrorBody)))]
pub async fn revoke_session(
    ctx: web::Data<AuthContext>,
    who: Identity,
    sid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if ctx.end_session(who.user_id, &sid, "revoked").await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found("session"))
    }
}
