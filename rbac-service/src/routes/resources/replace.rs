use actix_web::{HttpResponse, web};
use serde::Deserialize;
use shared::ApiError;
use shared::json::Json;

use super::update::UpdateResource;
use crate::context::RbacContext;
use crate::models::Resource;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceResource {
    name: String,
    pattern: String,
    category: String,
    description: String,
    is_public: bool,
}

/// `PUT /v1/resources/{id}`: replaces every field.
#[utoipa::path(put, path = "/v1/resources/{id}", tag = "rbac", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = ReplaceResource,
    responses((status = 200, body = Resource), (status = 404, body = shared::openapi::ErrorBody),
        (status = 409, body = shared::openapi::ErrorBody), (status = 422, body = shared::openapi::ErrorBody)))]
pub async fn replace_resource(
    ctx: web::Data<RbacContext>,
    id: web::Path<i64>,
    body: Json<ReplaceResource>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let every_field = UpdateResource {
        name: Some(body.name),
        pattern: Some(body.pattern),
        category: Some(body.category),
        description: Some(body.description),
        is_public: Some(body.is_public),
    };
    super::update::apply(&ctx, id.into_inner(), every_field).await
}
