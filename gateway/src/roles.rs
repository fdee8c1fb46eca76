//! A user's roles when the Redis cache does not hold them: asked from rbac-service, which
//! also refills the cache (only rbac-service writes it; see `shared::policy`).

use std::time::Duration;

use shared::policy::UserRolesDocument;
use shared::{ApiError, Code};

pub struct RolesSource {
    base_url: String,
}

impl RolesSource {
    pub fn new(rbac_service_url: &str) -> Self {
        Self {
            base_url: rbac_service_url.trim_end_matches('/').to_owned(),
        }
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
        let document: UserRolesDocument = client
            .get(format!("{}/internal/users/{user_id}/roles", self.base_url))
            .header(shared::trace::TRACEPARENT, shared::trace::traceparent())
            .timeout(Duration::from_secs(2))
            .send()
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
