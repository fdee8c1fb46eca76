use actix_web::{HttpResponse, web};
use shared::ApiError;
use shared::identity::Identity;

use crate::context::AuthContext;
use crate::wechat::accounts;

/// `DELETE /v1/auth/oauth/wechat/link`: unlinks WeChat from the signed-in account, which
/// must have a password to sign in with afterwards.
#[utoipa::path(delete, path = "/v1/auth/oauth/wechat/link", tag = "wechat", security(("bearer" = [])),
    responses((status = 204, description = "Unlinked"),
        (status = 401, description = "Not signed in", body = shared::openapi::ErrorBody),
        (status = 404, description = "No WeChat account is linked", body = shared::openapi::ErrorBody),
        (status = 409, description = "The account has no password (`password_required`)", body = shared::openapi::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = who.user_id))]
pub async fn unlink(ctx: web::Data<AuthContext>, who: Identity) -> Result<HttpResponse, ApiError> {
    accounts::unlink(ctx.db(), who.user_id).await?;
    tracing::info!("WeChat unlinked");
    Ok(HttpResponse::NoContent().finish())
}
