use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use shared::db;
use shared::json::Json;
use shared::{ApiError, Code};

use crate::context::AuthContext;
use crate::domain::{DisplayName, Email};
use crate::models::{User, UserChanges, UserView};

/// Only these fields; roles and passwords are not set here (unknown fields are a 422).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    name: Option<String>,
    email: Option<String>,
    /// Disabling ends every session of the user at once.
    is_disabled: Option<bool>,
}

/// `PATCH /v1/users/{id}`: for admins. No field given (`{}`, or only nulls) answers the user
/// unchanged.
#[utoipa::path(patch, path = "/v1/users/{id}", tag = "users", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = UpdateUser,
    responses((status = 200, body = UserView), (status = 404, body = shared::openapi::ErrorBody),
        (status = 409, body = shared::openapi::ErrorBody), (status = 422, body = shared::openapi::ErrorBody)))]
#[tracing::instrument(skip_all, fields(target_user = *id))]
pub async fn update_user(
    ctx: web::Data<AuthContext>,
    id: web::Path<i64>,
    body: Json<UpdateUser>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let body = body.into_inner();
    let (name, email) = match (
        body.name.as_deref().map(DisplayName::parse).transpose(),
        body.email.as_deref().map(Email::parse).transpose(),
    ) {
        (Ok(name), Ok(email)) => (name, email),
        (name, email) => {
            return Err(ApiError::validation_fields(
                [("name", name.err()), ("email", email.err())]
                    .into_iter()
                    .filter_map(|(field, err)| err.map(|e| (field.to_owned(), e))),
            ));
        }
    };
    let disabling = body.is_disabled == Some(true);
    let user = ctx
        .db()
        .run(move |conn| {
            db::write_transaction(conn, |conn| {
                let current = User::find(conn, id).map_err(|_| ApiError::not_found("user"))?;
                if let Some(email) = &email
                    && current.email.as_deref() != Some(email.as_str())
                    && User::email_taken(conn, email.as_str())?
                {
                    return Err(ApiError::new(
                        Code::EmailTaken,
                        "This e-mail address is already registered.",
                    )
                    .with_details(json!({ "field": "email" })));
                }
                if name.is_none() && email.is_none() && body.is_disabled.is_none() {
                    // Nothing named (`{}` or only nulls): an UPDATE without a column is an
                    // error in SQL, and there is nothing to write anyway.
                    return Ok(current);
                }
                User::update(
                    conn,
                    id,
                    &UserChanges {
                        name: name.map(DisplayName::into_inner),
                        email: email.map(|e| Some(e.into_inner())),
                        is_disabled: body.is_disabled,
                    },
                )?;
                Ok(User::find(conn, id)?)
            })
        })
        .await?;
    if disabling {
        let ended = ctx.end_sessions(id, None, "account_disabled").await?;
        tracing::info!(ended, "account disabled; sessions ended");
    }
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}
