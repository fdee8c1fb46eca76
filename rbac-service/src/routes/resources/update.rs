use actix_web::{HttpResponse, web};
use serde::Deserialize;
use shared::db;
use shared::json::Json;
use shared::{ApiError, Code};

use super::{ensure_unique, validate};
use crate::context::RbacContext;
use crate::models::{Resource, ResourceChanges};
use crate::routes::built_in_conflict;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateResource {
    pub(super) name: Option<String>,
    pub(super) pattern: Option<String>,
    pub(super) category: Option<String>,
    pub(super) description: Option<String>,
    pub(super) is_public: Option<bool>,
}

/// `PATCH /v1/resources/{id}`: changes the given fields (none given: answers the resource
/// unchanged). A built-in resource keeps its name, route and public flag (409).
#[utoipa::path(patch, path = "/v1/resources/{id}", tag = "rbac", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = UpdateResource,
    responses((status = 200, body = Resource), (status = 404, body = shared::openapi::ErrorBody),
        (status = 409, body = shared::openapi::ErrorBody), (status = 422, body = shared::openapi::ErrorBody)))]
pub async fn update_resource(
    ctx: web::Data<RbacContext>,
    id: web::Path<i64>,
    body: Json<UpdateResource>,
) -> Result<HttpResponse, ApiError> {
    apply(&ctx, id.into_inner(), body.into_inner()).await
}

/// Changes the fields `body` names (`PUT` names them all), checked as a whole, and tells the
/// gateways.
pub(super) async fn apply(
    ctx: &RbacContext,
    id: i64,
    body: UpdateResource,
) -> Result<HttpResponse, ApiError> {
    let fields = validate(
        body.name.as_deref(),
        body.pattern.as_deref(),
        body.category.as_deref(),
    )?;
    let changes = ResourceChanges {
        name: fields.name.clone(),
        pattern_key: fields.pattern.as_ref().map(|p| p.key().to_owned()),
        pattern: fields.pattern.as_ref().map(|p| p.as_str().to_owned()),
        category: fields.category.map(|c| c.as_str().to_owned()),
        description: body.description.map(|d| d.trim().to_owned()),
        is_public: body.is_public,
        updated_at: Some(shared::time::now()),
    };
    let (resource, changed) = ctx
        .db()
        .run(move |conn| {
            db::write_transaction(conn, |conn| {
                let current = Resource::find(conn, id)?;
                if current.built_in {
                    ensure_built_in_kept(&current, &changes)?;
                }
                if changes.is_empty() {
                    return Ok((current, false));
                }
                ensure_unique(conn, Some(id), &fields)?;
                Resource::update(conn, id, &changes)?;
                Ok((Resource::find(conn, id)?, true))
            })
        })
        .await?;
    if changed {
        ctx.policy_changed().await;
    }
    Ok(HttpResponse::Ok().json(resource))
}

/// 409 when `changes` would rename, repoint or open up the built-in resource `current`
/// (its description and category may change).
fn ensure_built_in_kept(current: &Resource, changes: &ResourceChanges) -> Result<(), ApiError> {
    let differs = |new: Option<&str>, old: &str| new.is_some_and(|new| new != old);
    let field = if differs(changes.name.as_deref(), &current.name) {
        "name"
    } else if differs(changes.pattern.as_deref(), &current.pattern) {
        "pattern"
    } else if changes
        .is_public
        .is_some_and(|new| new != current.is_public)
    {
        "is_public"
    } else {
        return Ok(());
    };
    Err(built_in_conflict(
        Code::BuiltInResource,
        &current.name,
        "its name, route and public flag cannot change",
    )
    .with_details(serde_json::json!({ "field": field })))
}
