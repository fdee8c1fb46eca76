use actix_web::{HttpResponse, web};
use serde::Deserialize;
use shared::ApiError;
use shared::identity::{ClientAddr, Identity};

use crate::context::AuthContext;
use crate::domain::NewPassword;
use crate::models::User;
use crate::passwords;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    old_password: String,
    new_password: String,
}

/// `PUT /v1/auth/password`: needs the current password; ends every other session.
/// Guesses at the old password count against the same throttle as logins.
#[utoipa::path(put, path = "/v1/auth/password", tag = "auth", security(("bearer" = [])), request_body = ChangePasswordRequest,
    responses((status = 204, description = "Changed; other sessions ended"),
        (status = 422, description = "Wrong old password or weak new one", body = shared::openapi::ErrorBody),
        (status = 429, description = "Too many failed attempts", body = shared::openapi::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = who.user_id))]
pub async fn change_password(
    ctx: web::Data<AuthContext>,
    who: Identity,
    ClientAddr(ip): ClientAddr,
    body: shared::json::Json<ChangePasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let ChangePasswordRequest {
        old_password,
        new_password,
    } = body.into_inner();
    let user_id = who.user_id;
    let user = ctx
        .db()
        .run(move |conn| User::find(conn, user_id).map_err(|_| ApiError::not_found("user")))
        .await?;
    let personal = [
        user.account.as_str(),
        user.email.as_deref().unwrap_or(""),
        user.name.as_str(),
    ];
    let new_password = NewPassword::parse(&new_password, &personal)
        .map_err(|e| ApiError::validation("new_password", e))?;

    let reservation = ctx.throttle().reserve(&user.account, ip).await?;
    if !passwords::verify(old_password.clone(), user.password_hash.clone()).await? {
        return Err(ApiError::validation(
            "old_password",
            "is not your current password",
        ));
    }
    ctx.throttle().release(reservation).await;
    if old_password == new_password.expose() {
        return Err(ApiError::validation(
            "new_password",
            "must differ from the current password",
        ));
    }

    let hash = passwords::hash(new_password.expose().to_owned()).await?;
    let now = shared::time::now();
    ctx.db()
        .run(move |conn| Ok(User::set_password(conn, user_id, &hash, now)?))
        .await?;
    let ended = ctx
        .end_sessions(user_id, Some(&who.session_id), "password_changed")
        .await?;
    tracing::info!(ended, "password changed; other sessions ended");
    Ok(HttpResponse::NoContent().finish())
}
