use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use shared::ApiError;
use shared::identity::Identity;

use crate::context::AuthContext;
use crate::wechat::binding::Binding;
use crate::wechat::state::LinkIntent;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct LinkQuery {
    /// Where to return once linked: a path on this site (default `/`).
    return_to: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LinkStarted {
    /// WeChat's QR page; open it in this browser (the state is bound to its cookie).
    pub url: String,
}

/// `POST /v1/auth/oauth/wechat/link`: starts linking WeChat to the signed-in account.
///
/// The state is bound to this browser (cookie) and to this user and session; the callback
/// then links the WeChat account instead of signing in, and redirects to `return_to` with
/// `#wechat_linked=1`.
#[utoipa::path(post, path = "/v1/auth/oauth/wechat/link", tag = "wechat", security(("bearer" = [])), params(LinkQuery),
    responses((status = 200, description = "Where to send the browser", body = LinkStarted),
        (status = 400, description = "`return_to` is not a path on this site", body = shared::openapi::ErrorBody),
        (status = 401, description = "Not signed in", body = shared::openapi::ErrorBody),
        (status = 501, description = "WeChat sign-in is not configured", body = shared::openapi::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = who.user_id))]
pub async fn link(
    ctx: web::Data<AuthContext>,
    who: Identity,
    req: HttpRequest,
    query: web::Query<LinkQuery>,
) -> Result<HttpResponse, ApiError> {
    let wechat = ctx.wechat()?;
    let return_to = crate::wechat::parse_return_to(query.return_to.as_deref())?;
    let binding = Binding::for_request(&req);
    let intent = LinkIntent {
        user_id: who.user_id,
        session_id: who.session_id,
    };
    let state = wechat
        .flows()
        .begin(&binding, &return_to, Some(intent))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(crate::routes::no_store())
        .cookie(binding.cookie(wechat.secure_cookie()))
        .json(LinkStarted {
            url: wechat.qrconnect_url(&state),
        }))
}
