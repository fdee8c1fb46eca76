use actix_web::{HttpResponse, web};
use shared::ApiError;
use shared::identity::Identity;

use crate::context::AuthContext;

/// `POST /v1/auth/logout`: ends this session, on every replica at once.
#[tracing::instrument(skip_all, fields(user_id = who.user_id))]
pub async fn logout(ctx: web::Data<AuthContext>, who: Identity) -> Result<HttpResponse, ApiError> {
    ctx.sessions().end(who.user_id, &who.session_id).await?;
    Ok(HttpResponse::NoContent().finish())
}
