//! What every handler of recommend-service works with, behind one cloneable handle.

use std::sync::Arc;

use shared::db::Db;
use shared::identity::Identity;
use shared::redis::Redis;
use shared::{ApiError, Code};

use crate::cache::TripCache;
use crate::engine::Recommender;

pub struct RecommendContext {
    pub(crate) db: Db,
    pub(crate) redis: Redis,
    pub(crate) cache: TripCache,
    pub(crate) recommender: Arc<Recommender>,
    pub(crate) min_profile: usize,
}

impl RecommendContext {
    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn redis(&self) -> &Redis {
        &self.redis
    }

    pub fn cache(&self) -> &TripCache {
        &self.cache
    }

    pub fn recommender(&self) -> &Recommender {
        &self.recommender
    }

    pub fn min_profile(&self) -> usize {
        self.min_profile
    }
}

/// Roles that manage the catalog. The gateway enforces route permissions; this is the
/// service's own check behind it (default deny).
pub const CATALOG_ROLES: [&str; 2] = ["product_admin", "super_admin"];

pub fn require_catalog_admin(who: &Identity) -> Result<(), ApiError> {
    if CATALOG_ROLES.iter().any(|role| who.has_role(role)) {
        Ok(())
    } else {
        Err(ApiError::new(
            Code::Forbidden,
            "Managing trips needs the product_admin role.",
        ))
    }
}
