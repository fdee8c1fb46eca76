//! What every handler of rbac-service works with.

use shared::db::Db;
use shared::redis::Redis;

use crate::auth_client::AuthClient;

pub struct RbacContext {
    pub(crate) db: Db,
    pub(crate) redis: Redis,
    pub(crate) auth: AuthClient,
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

    /// Tells the gateways the policy changed.
    pub async fn policy_changed(&self) {
        crate::policy::changed(&self.redis).await;
    }
}
