//! What every handler of recommend-service works with, behind one cloneable handle.

use std::sync::Arc;

use shared::db::Db;
use shared::redis::Redis;

use crate::cache::TripCache;
use crate::engine::Recommender;

pub struct RecommendContext {
    pub(crate) db: Db,
    pub(crate) redis: Redis,
    pub(crate) cache: TripCache,
    pub(crate) recommender: Arc<Recommender>,
    pub(crate) min_profile: usize,
    /// The model rebuild loop, reported by `/readyz`.
    pub(crate) tasks: shared::tasks::Tasks,
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
