use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use shared::db;
use shared::json::Json;
use shared::{ApiError, Code};

use crate::context::RbacContext;
use crate::domain::Name;
use crate::models::{NewRole, Role};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRole {
    name: String,
    #[serde(default)]
    description: String,
}

/// `POST /v1/roles`: a new, empty role.
#[utoipa::path(post, path = "/v1/roles", tag = "rbac", security(("bearer" = [])), request_body = CreateRole,
    responses((status = 201, body = Role), (status = 409, body = shared::openapi::ErrorBody), (status = 422, body = shared::openapi::ErrorBody)))]
pub async fn create_role(
    ctx: web::Data<RbacContext>,
    body: Json<CreateRole>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let name = Name::parse(&body.name)
        .map_err(|e| ApiError::validation("name", e))?
        .into_inner();
    let role = ctx
        .db()
        .run(move |conn| {
            db::write_transaction(conn, |conn| {
                if Role::find_by_name(conn, &name)?.is_some() {
                    return Err(
                        ApiError::new(Code::NameTaken, "A role with this name exists.")
                            .with_details(json!({ "field": "name" })),
                    );
                }
                let now = shared::time::now();
                let id = Role::insert(
                    conn,
                    &NewRole {
                        name,
                        description: body.description.trim().to_owned(),
                        built_in: false,
                        created_at: now,
                        updated_at: now,
                    },
                )?;
                Role::find(conn, id)
            })
        })
        .await?;
    ctx.policy_changed().await;
    Ok(shared::http::created(
        format!("/v1/roles/{}", role.id),
        role,
    ))
}
