//! What every handler of rbac-service works with.

use shared::db::Db;
use shared::redis::Redis;

use crate::auth_client::AuthClient;
use crate::role_cache::RolesCache;

pub struct RbacContext {
    pub(crate) db: Db,
    pub(crate) redis: Redis,
    pub(crate) auth: AuthClient,
    pub(crate) roles_cache: RolesCache,
    /// `rbac_policy_changes_total` by outcome.
    pub(crate) policy_changes: shared::metrics::CounterFamily,
}

impl RbacContext {
    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn redis(&self) -> &Redis {
        &self.redis
    }

    pub fn auth(&self) -> &AuthClient {
        &self.auth
    }

    pub fn roles_cache(&self) -> &RolesCache {
        &self.roles_cache
    }

    /// Tells the gateways the policy changed.
    pub async fn policy_changed(&self) {
        let outcome = crate::policy::changed(&self.redis).await;
        let labels = vec![("outcome", outcome)];
        self.policy_changes.get_or_create(&labels).inc();
    }
}
