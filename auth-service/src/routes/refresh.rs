use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use shared::{ApiError, Code};

use crate::context::AuthContext;
use crate::models::User;
use crate::sessions::Refresh;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// Required unless the client keeps it in the `wp_refresh` cookie and says so with
    /// `X-Refresh-Token-Transport: cookie`.
    #[serde(default)]
    refresh_token: Option<String>,
}

/// `POST /v1/auth/refresh`: the next token pair; the presented refresh token is spent.
/// Presenting a spent one again ends the session (someone else may hold a copy).
/// A browser keeps it in the HttpOnly `wp_refresh` cookie instead (see `refresh_cookie`).
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, description = "The next token pair", body = crate::tokens::TokenPair),
        (status = 401, description = "Invalid, expired or replayed refresh token", body = shared::openapi::ErrorBody),
        (status = 403, description = "Account disabled", body = shared::openapi::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn refresh(
    ctx: web::Data<AuthContext>,
    req: HttpRequest,
    body: shared::json::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let presented = match body.into_inner().refresh_token {
        Some(token) => token,
        None if crate::refresh_cookie::wanted(&req) => crate::refresh_cookie::token(&req)
            .ok_or_else(|| {
                ApiError::new(
                    Code::InvalidRefreshToken,
                    "There is no refresh cookie: sign in again.",
                )
            })?,
        None => {
            return Err(ApiError::validation(
                "refresh_token",
                "is required (or send X-Refresh-Token-Transport: cookie with the wp_refresh cookie)",
            ));
        }
    };
    let (user_id, session_id, refresh_token) = match ctx.sessions().refresh(&presented).await? {
        Refresh::Rotated {
            user_id,
            session_id,
            refresh_token,
        } => (user_id, session_id, refresh_token),
        Refresh::Invalid => {
            return Err(ApiError::new(
                Code::InvalidRefreshToken,
                "The refresh token is invalid or expired.",
            ));
        }
        Refresh::Replayed => {
            ctx.metrics().refresh_reused();
            return Err(ApiError::new(
                Code::RefreshTokenReused,
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
        ctx.end_session(user_id, &session_id, "account_disabled")
            .await?;
        return Err(ApiError::new(
            Code::AccountDisabled,
            "This account is disabled.",
        ));
    }
    let pair = ctx.tokens().pair(user_id, &session_id, refresh_token)?;
    let lifetime = ctx.sessions().absolute_lifetime();
    Ok(crate::refresh_cookie::respond(&req, pair, lifetime))
}
