//! Building and running rbac-service: connect, migrate, seed, serve.

use actix_web::web;
use diesel_migrations::embed_migrations;
use shared::db::{Db, Migrations};
use shared::redis::Redis;

use crate::auth_client::AuthClient;
use crate::config::Settings;
use crate::context::RbacContext;
use crate::role_cache::RolesCache;
use crate::{bootstrap, routes, seed};

pub const MIGRATIONS: Migrations = Migrations {
    sqlite: embed_migrations!("migrations/sqlite"),
    postgres: embed_migrations!("migrations/postgres"),
};

/// Builds rbac-service, started: its port, its drained stop and `run_until_stopped`.
pub struct Application;

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<shared::server::Running> {
        let db = Db::open(
            settings.database.url.clone(),
            settings.database.pool_size,
            MIGRATIONS,
        )
        .await?;
        let redis = Redis::connect(&settings.server.redis)?;
        let seeded = db
            .run(seed::apply)
            .await
            .map_err(|err| anyhow::anyhow!("seeding: {err:?}"))?;
        let metrics = shared::metrics::Metrics::for_listener(
            "rbac-service",
            settings.server.metrics_addr.as_deref(),
        );
        metrics.observe_db(&db);
        metrics.observe_redis(&redis);
        let context = web::Data::new(RbacContext {
            auth: AuthClient::new(
                &settings.auth_service_url,
                settings.server.internal_token.expose(),
            )?,
            roles_cache: RolesCache::new(redis.clone(), &metrics),
            policy_changes: metrics.counter(
                "rbac_policy_changes",
                "Policy changes by how far the news got: published, unpublished, not_bumped",
            ),
            db,
            redis,
        });
        if seeded {
            context.policy_changed().await;
        }
        if let Some(account) = &settings.admin_account {
            bootstrap::spawn_admin_grant(context.clone(), account.clone());
        }

        let listener = shared::server::bind(&settings.server.bind_addr)?;
        shared::server::serve_service(
            "rbac-service",
            &settings.server,
            listener,
            context,
            metrics,
            routes::config,
        )
    }
}
