//! A user's roles when the Redis cache does not hold them: asked from rbac-service, which
//! also refills the cache (only rbac-service writes it; see `shared::policy`).

use std::sync::Arc;
use std::time::Duration;

use shared::policy::UserRolesDocument;
use shared::replicas::Replicas;
use shared::{ApiError, Code};

pub struct RolesSource {
    rbac: Arc<Replicas>,
}

impl RolesSource {
    pub fn new(rbac: Arc<Replicas>) -> Self {
        Self { rbac }
    }

    pub async fn fetch(
        &self,
        client: &reqwest::Client,
        user_id: i64,
    ) -> Result<Vec<i64>, ApiError> {
        let unavailable = |err: reqwest::Error| {
            ApiError::new(
                Code::RolesUnavailable,
                "Permissions cannot be checked right now; retry shortly.",
            )
            .with_source(err)
        };
        let path = format!("/internal/users/{user_id}/roles");
        let document: UserRolesDocument =
            crate::upstreams::get(&self.rbac, client, &path, Duration::from_secs(2))
                .await
                .map_err(unavailable)?
                .error_for_status()
                .map_err(unavailable)?
                .json()
                .await
                .map_err(unavailable)?;
        Ok(document.role_ids)
    }
}
