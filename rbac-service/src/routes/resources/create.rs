use actix_web::{HttpResponse, web};
use serde::Deserialize;
use shared::ApiError;
use shared::db;
use shared::json::Json;

use super::{ensure_unique, validate};
use crate::context::RbacContext;
use crate::models::{NewResource, Resource};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateResource {
    /// e.g. `trips-detail`
    name: String,
    /// e.g. `/v1/trips/{id}`
    pattern: String,
    /// product, order, marketing, permission, content or other
    category: String,
    #[serde(default)]
    description: String,
    /// Every method needs no sign-in.
    #[serde(default)]
    is_public: bool,
}

/// `POST /v1/resources`
#[utoipa::path(post, path = "/v1/resources", tag = "rbac", security(("bearer" = [])), request_body = CreateResource,
    responses((status = 201, body = Resource), (status = 409, body = shared::openapi::ErrorBody), (status = 422, body = shared::openapi::ErrorBody)))]
pub async fn create_resource(
    ctx: web::Data<RbacContext>,
    body: Json<CreateResource>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let fields = validate(Some(&body.name), Some(&body.pattern), Some(&body.category))?;
    let resource = ctx
        .db()
        .run(move |conn| {
            db::write_transaction(conn, |conn| {
                ensure_unique(conn, None, &fields)?;
                let (Some(name), Some(pattern), Some(category)) =
                    (fields.name, fields.pattern, fields.category)
                else {
                    return Err(ApiError::internal(anyhow::anyhow!(
                        "validated fields missing"
                    )));
                };
                let now = shared::time::now();
                let id = Resource::insert(
                    conn,
                    &NewResource {
                        name,
                        pattern: pattern.as_str().to_owned(),
                        pattern_key: pattern.key().to_owned(),
                        category: category.as_str().to_owned(),
                        description: body.description.trim().to_owned(),
                        is_public: body.is_public,
                        built_in: false,
                        created_at: now,
                        updated_at: now,
                    },
                )?;
                Resource::find(conn, id)
            })
        })
        .await?;
    ctx.policy_changed().await;
    Ok(shared::http::created(
        format!("/v1/resources/{}", resource.id),
        resource,
    ))
}
