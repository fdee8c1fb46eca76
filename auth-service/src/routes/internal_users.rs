use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use shared::identity::InternalCaller;
use shared::{ApiError, Code};

use crate::context::AuthContext;
use crate::models::User;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsersQuery {
    /// Comma-separated user ids.
    ids: Option<String>,
    account: Option<String>,
}

#[derive(Serialize)]
struct UserSummary {
    id: i64,
    account: String,
    name: String,
    is_disabled: bool,
}

/// `GET /internal/users?ids=1,2,3` or `?account=x`: who these users are, for other
/// services (rbac-service, chat-service). Unknown ids are left out.
pub async fn internal_users(
    ctx: web::Data<AuthContext>,
    _: InternalCaller,
    query: web::Query<UsersQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let ids: Vec<i64> = match &query.ids {
        Some(ids) => ids
            .split(',')
            .filter(|id| !id.is_empty())
            .map(|id| id.trim().parse())
            .collect::<Result<_, _>>()
            .map_err(|_| {
                ApiError::new(
                    Code::InvalidParameter,
                    "ids must be comma-separated integers",
                )
            })?,
        None => Vec::new(),
    };
    if ids.len() > 500 {
        return Err(ApiError::new(
            Code::TooManyIds,
            "Ask for at most 500 users at once.",
        ));
    }
    let account = query.account.map(|a| a.trim().to_ascii_lowercase());
    let users = ctx
        .db()
        .run(move |conn| {
            let mut users = User::find_many(conn, &ids)?;
            if let Some(account) = account
                && let Some(user) = User::find_by_account(conn, &account)?
            {
                users.push(user);
            }
            Ok(users)
        })
        .await?;
    let results: Vec<UserSummary> = users
        .into_iter()
        .map(|u| UserSummary {
            id: u.id,
            account: u.account,
            name: u.name,
            is_disabled: u.is_disabled,
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "results": results })))
}
