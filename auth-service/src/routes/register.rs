use actix_web::{HttpResponse, web};
use serde::Deserialize;
use shared::ApiError;

use crate::accounts::{self, NewAccount};
use crate::context::AuthContext;
use crate::models::UserView;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    account: String,
    name: String,
    email: String,
    password: String,
}

/// `POST /v1/auth/register`: 201 with the new user and its `Location`.
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
