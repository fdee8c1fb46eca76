use actix_web::{HttpResponse, web};
use serde::Deserialize;
use shared::ApiError;

use crate::accounts::{self, NewAccount};
use crate::context::AuthContext;
use crate::models::UserView;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// 3–32 of `a-z 0-9 _ . -`, starting with a letter; case-insensitive.
    account: String,
    name: String,
    email: String,
    /// 12–128 characters; common passwords are refused.
    password: String,
}

/// `POST /v1/auth/register`: 201 with the new user and its `Location`.
#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, description = "Registered", body = UserView),
        (status = 409, description = "Account or e-mail taken", body = shared::openapi::ErrorBody),
        (status = 422, description = "Invalid fields", body = shared::openapi::ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn register(
    ctx: web::Data<AuthContext>,
    body: shared::json::Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let new = NewAccount::parse(&body.account, &body.name, &body.email, &body.password)?;
    let user = accounts::create(ctx.db(), new).await?;
    tracing::info!(user_id = user.id, "registered");
    Ok(shared::http::created(
        format!("/v1/users/{}", user.id),
        UserView::from(user),
    ))
}
