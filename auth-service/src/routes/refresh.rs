use actix_web::{HttpResponse, web};
use serde::Deserialize;
use shared::ApiError;

use crate::context::AuthContext;
use crate::models::User;
use crate::sessions::Refresh;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    refresh_token: String,
}

/// `POST /v1/auth/refresh`: the next token pair; the presented refresh token is spent.
/// Presenting a spent one again ends the session (someone else may hold a copy).
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, description = "The next token pair", body = crate::tokens::TokenPair),
        (status = 401, description = "Invalid, expired or replayed refresh token", body = shared::openapi::ErrorBody),
        (status = 403, description = "Account disabled", body = shared::openapi::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn refresh(
    ctx: web::Data<AuthContext>,
    body: shared::json::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let (user_id, session_id, refresh_token) =
        match ctx.sessions().refresh(&body.refresh_token).await? {
            Refresh::Rotated {
                user_id,
                session_id,
                refresh_token,
            } => (user_id, session_id, refresh_token),
            Refresh::Invalid => {
                return Err(ApiError::unauthorized(
                    "invalid_refresh_token",
                    "The refresh token is invalid or expired.",
                ));
            }
            Refresh::Replayed => {
                return Err(ApiError::unauthorized(
                    "refresh_token_reused",
                    "This refresh token was already used; the session has been ended.",
                ));
            }
        };
    tracing::Span::current().record("user_id", user_id);
    let user = ctx
        .db()
        .run(move |conn| Ok(User::find(conn, user_id)?))
        .await;
    if !matches!(&user, Ok(user) if !user.is_disabled) {
        ctx.sessions().end(user_id, &session_id).await?;
        return Err(ApiError::forbidden(
            "account_disabled",
            "This account is disabled.",
        ));
    }
    let pair = ctx.tokens().pair(user_id, &session_id, refresh_token)?;
    Ok(HttpResponse::Ok()
        .insert_header(super::no_store())
        .json(pair))
}
