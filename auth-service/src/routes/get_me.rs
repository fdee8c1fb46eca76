use actix_web::{HttpResponse, web};
use serde::Serialize;
use shared::ApiError;
use shared::identity::Identity;

use crate::context::AuthContext;
use crate::models::{User, UserView};

/// The signed-in user, with the roles the gateway resolved for this request (so a web UI
/// can show what the user may use; the gateway enforces it regardless).
#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    #[serde(flatten)]
    user: UserView,
    roles: Vec<String>,
    /// Whether a WeChat identity is linked to this account.
    wechat_linked: bool,
}

/// `GET /v1/auth/me`: the signed-in user.
#[utoipa::path(get, path = "/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "The signed-in user", body = Me),
        (status = 401, description = "Not signed in", body = shared::openapi::ErrorBody)))]
pub async fn get_me(ctx: web::Data<AuthContext>, who: Identity) -> Result<HttpResponse, ApiError> {
    let user_id = who.user_id;
    let (user, wechat_linked) = ctx
        .db()
        .run(move |conn| {
            let user = User::find(conn, user_id).map_err(|_| ApiError::not_found("user"))?;
            let linked = crate::models::WeChatIdentity::find_by_user(conn, user_id)?.is_some();
            Ok((user, linked))
        })
        .await?;
    let mut roles = who.roles;
    roles.sort();
    Ok(HttpResponse::Ok().json(Me {
        user: UserView::from(user),
        roles,
        wechat_linked,
    }))
}
