use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use shared::{ApiError, Code};

use crate::context::AuthContext;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRequest {
    /// The one-time code from the `#wechat_code=…` fragment (valid 60 seconds, once).
    code: String,
}

/// `POST /v1/auth/oauth/wechat/exchange`: the token pair of a finished WeChat sign-in.
#[utoipa::path(post, path = "/v1/auth/oauth/wechat/exchange", tag = "wechat", request_body = ExchangeRequest,
    responses((status = 200, description = "Signed in", body = crate::tokens::TokenPair),
        (status = 401, description = "Unknown, expired or used code", body = shared::openapi::ErrorBody),
        (status = 501, description = "WeChat sign-in is not configured", body = shared::openapi::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn exchange(
    ctx: web::Data<AuthContext>,
    req: HttpRequest,
    body: shared::json::Json<ExchangeRequest>,
) -> Result<HttpResponse, ApiError> {
    let wechat = ctx.wechat()?;
    let invalid = || {
        ApiError::new(
            Code::InvalidExchangeCode,
            "The sign-in code is invalid, expired or already used; sign in again.",
        )
    };
    let handoff = wechat
        .flows()
        .collect(&body.code)
        .await?
        .ok_or_else(invalid)?;
    tracing::Span::current().record("user_id", handoff.user_id);
    // The session may have ended since (logout-all, the account disabled).
    if ctx.sessions().owner(&handoff.session_id).await? != Some(handoff.user_id) {
        return Err(invalid());
    }
    let pair = ctx
        .tokens()
        .pair(handoff.user_id, &handoff.session_id, handoff.refresh_token)?;
    let lifetime = ctx.sessions().absolute_lifetime();
    Ok(crate::refresh_cookie::respond(&req, pair, lifetime))
}
