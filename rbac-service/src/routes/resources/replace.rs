use actix_web::{HttpResponse, web};
use serde::Deserialize;
use shared::ApiError;
use shared::db;
use shared::json::Json;

use super::{ensure_unique, validate};
use crate::context::RbacContext;
use crate::models::{Resource, ResourceChanges};

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
    let id = id.into_inner();
    let body = body.into_inner();
    let fields = validate(Some(&body.name), Some(&body.pattern), Some(&body.category))?;
    let resource = ctx
        .db()
        .run(move |conn| {
            db::write_transaction(conn, |conn| {
                Resource::find(conn, id)?;
                ensure_unique(conn, Some(id), &fields)?;
                Resource::update(
                    conn,
                    id,
                    &ResourceChanges {
                        name: fields.name,
                        pattern_key: fields.pattern.as_ref().map(|p| p.key().to_owned()),
                        pattern: fields.pattern.map(|p| p.as_str().to_owned()),
                        category: fields.category.map(|c| c.as_str().to_owned()),
                        description: Some(body.description.trim().to_owned()),
                        is_public: Some(body.is_public),
                        updated_at: Some(shared::time::now()),
                    },
                )?;
                Resource::find(conn, id)
            })
        })
        .await?;
    ctx.policy_changed().await;
    Ok(HttpResponse::Ok().json(resource))
}
