//! Building and running recommend-service: connect, migrate, serve, rebuild in the
//! background.

use std::sync::Arc;

use actix_web::web;
use diesel_migrations::embed_migrations;
use shared::db::{Db, Migrations};
use shared::redis::Redis;
use shared::server::Running;
use shared::tasks::Tasks;

use crate::cache::{CacheMode, TripCache};
use crate::config::Settings;
use crate::context::RecommendContext;
use crate::engine::Recommender;
use crate::metrics::RecommendMetrics;
use crate::routes;

pub const MIGRATIONS: Migrations = Migrations {
    sqlite: embed_migrations!("migrations/sqlite"),
    postgres: embed_migrations!("migrations/postgres"),
};

/// recommend-service, started (its port, its drained stop: see [`Running`]), with its
/// shared state for tests.
pub struct Application {
    running: Running,
    context: web::Data<RecommendContext>,
}

impl std::ops::Deref for Application {
    type Target = Running;

    fn deref(&self) -> &Running {
        &self.running
    }
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with(settings, CacheMode::Versioned).await
    }

    /// Builds with a given cache scheme (tests compare the naive one).
    pub async fn build_with(settings: Settings, mode: CacheMode) -> anyhow::Result<Self> {
        let db = connect_db(&settings).await?;
        let redis = Redis::connect(&settings.server.redis)?;
        let metrics = shared::metrics::Metrics::for_listener(
            "recommend-service",
            settings.server.metrics_addr.as_deref(),
        );
        metrics.observe_db(&db);
        metrics.observe_redis(&redis);
        let own = RecommendMetrics::register(&metrics);
        let recommender =
            Arc::new(Recommender::new(db.clone(), redis.clone()).with_metrics(own.clone()));
        let tasks = Tasks::default();
        let (model, rebuild) = (recommender.clone(), settings.model_rebuild);
        tasks.supervise("model-rebuild", move || model.clone().run(rebuild));
        let context = web::Data::new(RecommendContext {
            cache: TripCache::new(db.clone(), redis.clone(), settings.cache_ttl, mode)
                .with_metrics(own),
            db,
            redis,
            recommender,
            min_profile: settings.min_profile,
            tasks,
        });
        let listener = shared::server::bind(&settings.server.bind_addr)?;
        let running = shared::server::serve_service(
            "recommend-service",
            &settings.server,
            listener,
            context.clone(),
            metrics,
            routes::config,
        )?
        .with_tasks(context.tasks.clone());
        Ok(Self { running, context })
    }

    /// The shared state, for tests (cache hooks, forced rebuilds).
    pub fn context(&self) -> web::Data<RecommendContext> {
        self.context.clone()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.running.run_until_stopped().await
    }
}

/// Opens the database and brings its schema up to date.
pub async fn connect_db(settings: &Settings) -> anyhow::Result<Db> {
    Db::open(
        settings.database.url.clone(),
        settings.database.pool_size,
        MIGRATIONS,
    )
    .await
}
