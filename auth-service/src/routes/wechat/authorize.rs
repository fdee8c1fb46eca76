use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use shared::ApiError;

use crate::context::AuthContext;
use crate::wechat::binding::Binding;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct AuthorizeQuery {
    /// Where to return after signing in: a path on this site (default `/`).
    return_to: Option<String>,
}

/// `GET /v1/auth/oauth/wechat/authorize`: starts a WeChat sign-in.
///
/// Redirects to WeChat's QR page with a fresh single-use `state` (10 minutes) and sets the
/// cookie that binds it to this browser.
#[utoipa::path(get, path = "/v1/auth/oauth/wechat/authorize", tag = "wechat", params(AuthorizeQuery),
    responses((status = 302, description = "To WeChat's QR connect page"),
        (status = 400, description = "`return_to` is not a path on this site", body = shared::openapi::ErrorBody),
        (status = 501, description = "WeChat sign-in is not configured", body = shared::openapi::ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn authorize(
    ctx: web::Data<AuthContext>,
    req: HttpRequest,
    query: web::Query<AuthorizeQuery>,
) -> Result<HttpResponse, ApiError> {
    let wechat = ctx.wechat()?;
    let return_to = crate::wechat::parse_return_to(query.return_to.as_deref())?;
    let binding = Binding::for_request(&req);
    let state = wechat.flows().begin(&binding, &return_to, None).await?;
    Ok(super::redirect(&wechat.qrconnect_url(&state))
        .cookie(binding.cookie(wechat.secure_cookie()))
        .finish())
}
