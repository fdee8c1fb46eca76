use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use shared::db;
use shared::json::Json;
use shared::{ApiError, Code};

use crate::context::RbacContext;
use crate::domain::Name;
use crate::models::{Role, RoleChanges};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRole {
    name: Option<String>,
    description: Option<String>,
}

/// `PATCH /v1/roles/{id}`: a built-in role keeps its name; no field given answers the role
/// unchanged.
#[utoipa::path(patch, path = "/v1/roles/{id}", tag = "rbac", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = UpdateRole,
    responses((status = 200, body = Role), (status = 404, body = shared::openapi::ErrorBody),
        (status = 409, body = shared::openapi::ErrorBody), (status = 422, body = shared::openapi::ErrorBody)))]
pub async fn update_role(
    ctx: web::Data<RbacContext>,
    id: web::Path<i64>,
    body: Json<UpdateRole>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let body = body.into_inner();
    let name = body
        .name
        .as_deref()
        .map(Name::parse)
        .transpose()
        .map_err(|e| ApiError::validation("name", e))?
        .map(Name::into_inner);
    let renamed = name.is_some();
    let role = ctx
        .db()
        .run(move |conn| {
            db::write_transaction(conn, |conn| {
                let role = Role::find(conn, id)?;
                if let Some(name) = &name
                    && *name != role.name
                {
                    if role.built_in {
                        return Err(ApiError::new(
                            Code::BuiltInRole,
                            "A built-in role cannot be renamed.",
                        ));
                    }
                    if Role::find_by_name(conn, name)?.is_some() {
                        return Err(ApiError::new(
                            Code::NameTaken,
                            "A role with this name exists.",
                        )
                        .with_details(json!({ "field": "name" })));
                    }
                }
                if name.is_none() && body.description.is_none() {
                    return Ok(role);
                }
                Role::update(
                    conn,
                    id,
                    &RoleChanges {
                        name,
                        description: body.description.map(|d| d.trim().to_owned()),
                        updated_at: Some(shared::time::now()),
                    },
                )?;
                Role::find(conn, id)
            })
        })
        .await?;
    if renamed {
        ctx.policy_changed().await;
    }
    Ok(HttpResponse::Ok().json(role))
}
