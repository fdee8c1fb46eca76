//! The first admin account, from `WAYPOINT_ADMIN_ACCOUNT`/`WAYPOINT_ADMIN_PASSWORD`.
//! There is no default admin password anywhere: without these variables no admin exists.

use shared::db::Db;

use crate::accounts::{self, NewAccount};
use crate::config::AdminSettings;
use crate::models::User;

/// Creates the admin account if it does not exist yet; an existing account is never
/// changed (its password may have been changed since).
pub async fn ensure_admin(db: &Db, admin: &AdminSettings) -> anyhow::Result<()> {
    let account = admin.account.trim().to_ascii_lowercase();
    if admin_exists(db, &account).await? {
        return Ok(());
    }
    let new = NewAccount::parse(
        &admin.account,
        "Administrator",
        &admin.email,
        admin.password.expose(),
    )
    .map_err(|err| {
        anyhow::anyhow!(
            "WAYPOINT_ADMIN_*: {err} {}",
            err.details().map(|d| d.to_string()).unwrap_or_default()
        )
    })?;
    match accounts::create(db, new).await {
        Ok(user) => tracing::info!(user_id = user.id, account, "created the admin account"),
        // Another replica starting at the same moment created it first.
        Err(_) if admin_exists(db, &account).await? => {}
        Err(err) => anyhow::bail!("creating the admin account: {err}"),
    }
    Ok(())
}

async fn admin_exists(db: &Db, account: &str) -> anyhow::Result<bool> {
    let account = account.to_owned();
    let existing = db
        .run(move |conn| Ok(User::find_by_account(conn, &account)?))
        .await
        .map_err(|err| anyhow::anyhow!("looking up the admin account: {err}"))?;
    Ok(existing.is_some())
}
