use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use shared::identity::ClientAddr;
use shared::{ApiError, Code};

use crate::context::AuthContext;
use crate::domain::ReturnTo;
use crate::wechat::accounts;
use crate::wechat::binding::Binding;
use crate::wechat::state::{Handoff, LinkIntent};

#[derive(Deserialize, utoipa::IntoParams)]
pub struct CallbackQuery {
    /// WeChat's authorization code; absent when the user declined.
    code: Option<String>,
    /// The state `authorize` or `link` issued.
    state: Option<String>,
}

/// `GET /v1/auth/oauth/wechat/callback`: where WeChat sends the browser back.
///
/// The state must be known, unused, unexpired and bound to this browser's cookie (else
/// 400 and nothing happens). Signing in redirects to `return_to#wechat_code=<one-time
/// code>`; linking redirects to `return_to#wechat_linked=1`.
#[utoipa::path(get, path = "/v1/auth/oauth/wechat/callback", tag = "wechat", params(CallbackQuery),
    responses((status = 302, description = "Back to the web page with a one-time code"),
        (status = 400, description = "State missing, unknown, used, expired or from another browser", body = shared::openapi::ErrorBody),
        (status = 401, description = "WeChat refused the code (invalid or already used) or the linking session ended", body = shared::openapi::ErrorBody),
        (status = 403, description = "Access declined in WeChat, or the account is disabled", body = shared::openapi::ErrorBody),
        (status = 409, description = "WeChat account linked elsewhere", body = shared::openapi::ErrorBody),
        (status = 502, description = "WeChat failed or is unreachable", body = shared::openapi::ErrorBody),
        (status = 504, description = "WeChat too slow", body = shared::openapi::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id, linking))]
pub async fn callback(
    ctx: web::Data<AuthContext>,
    req: HttpRequest,
    ClientAddr(ip): ClientAddr,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    let wechat = ctx.wechat()?;
    let Some(state) = query.state.as_deref().filter(|s| !s.is_empty()) else {
        return Err(ApiError::new(
            Code::WechatStateMissing,
            "The callback has no state; start the sign-in again.",
        ));
    };
    let flow = wechat.flows().take(state).await?.ok_or_else(|| {
        ApiError::new(
            Code::WechatStateInvalid,
            "This sign-in has expired or was already used; start it again.",
        )
    })?;
    let same_browser = Binding::from_request(&req).is_some_and(|b| b.matches(&flow.binding));
    if !same_browser {
        tracing::warn!("WeChat callback from a browser that did not start the flow");
        return Err(ApiError::new(
            Code::WechatStateMismatch,
            "This sign-in was started in another browser; start it again here.",
        ));
    }
    let return_to = ReturnTo::parse(&flow.return_to).unwrap_or_else(|_| ReturnTo::root());
    let Some(code) = query.code.as_deref().filter(|c| !c.is_empty()) else {
        return Err(ApiError::new(
            Code::WechatAccessDenied,
            "Sign-in was declined in WeChat; nothing was changed.",
        ));
    };
    let profile = wechat.client().profile(code).await?;

    if let Some(LinkIntent {
        user_id,
        session_id,
    }) = flow.link
    {
        tracing::Span::current().record("linking", true);
        tracing::Span::current().record("user_id", user_id);
        if ctx.sessions().owner(&session_id).await? != Some(user_id) {
            return Err(ApiError::new(
                Code::SessionEnded,
                "Your session ended before WeChat answered; sign in and link again.",
            ));
        }
        accounts::link(ctx.db(), user_id, profile).await?;
        tracing::info!("WeChat linked");
        return Ok(super::redirect(&return_to.with_fragment("wechat_linked=1")).finish());
    }

    let signed_in = accounts::sign_in(ctx.db(), profile).await?;
    let user_id = signed_in.user.id;
    tracing::Span::current().record("user_id", user_id);
    let (session_id, refresh_token) = ctx
        .sessions()
        .create(user_id, super::user_agent(&req), &ip.to_string())
        .await?;
    let code = wechat
        .flows()
        .hand_off(&Handoff {
            user_id,
            session_id,
            refresh_token,
        })
        .await?;
    tracing::info!(created = signed_in.created, "signed in with WeChat");
    Ok(super::redirect(&return_to.with_fragment(&format!("wechat_code={code}"))).finish())
}
