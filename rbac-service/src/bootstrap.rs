//! Makes `WAYPOINT_ADMIN_ACCOUNT` a super_admin, once.
//!
//! The account is created by auth-service, possibly after rbac-service starts, so this
//! runs in the background and retries until auth-service knows the account. It is a seed
//! item like the others: applied once, never re-applied after an admin changes it.

use std::time::Duration;

use shared::db;

use crate::context::RbacContext;
use crate::models::{Role, UserRoles};
use crate::{role_cache, seed};

pub fn spawn_admin_grant(ctx: actix_web::web::Data<RbacContext>, account: String) {
    tokio::spawn(async move {
        loop {
            match grant_admin(&ctx, &account).await {
                Ok(true) => return,
                Ok(false) => {}
                Err(err) => tracing::debug!(error = %err, "admin grant not possible yet"),
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
}

/// True once done (now or earlier).
async fn grant_admin(ctx: &RbacContext, account: &str) -> Result<bool, shared::ApiError> {
    let Some(user) = ctx.auth().find_account(account).await? else {
        return Ok(false);
    };
    let item = format!("admin:{account}");
    let granted = ctx
        .db()
        .run(move |conn| {
            db::write_transaction(conn, |conn| {
                if !seed::first_time(conn, &item)? {
                    return Ok(None);
                }
                let role = Role::find_by_name(conn, "super_admin")?.ok_or_else(|| {
                    shared::ApiError::internal(anyhow::anyhow!("super_admin role missing"))
                })?;
                UserRoles::grant(conn, user.id, role.id)?;
                Ok(Some(UserRoles::load(conn, user.id)?))
            })
        })
        .await?;
    if let Some(roles) = granted {
        role_cache::publish_or_log(ctx.roles_cache(), &roles).await;
        tracing::info!(
            user_id = roles.user_id,
            "the admin account is a super_admin"
        );
    }
    Ok(true)
}
