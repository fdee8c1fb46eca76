//! Building and running auth-service: connect, migrate, bootstrap, serve.

use actix_web::web;
use diesel_migrations::embed_migrations;
use shared::db::{Db, Migrations};
use shared::redis::Redis;

use crate::config::Settings;
use crate::context::AuthContext;
use crate::keys::SigningKey;
use crate::sessions::SessionStore;
use crate::throttle::LoginThrottle;
use crate::tokens::TokenIssuer;
use crate::wechat::WeChat;
use crate::wechat::state::FlowStore;
use crate::{bootstrap, routes};

pub const MIGRATIONS: Migrations = Migrations {
    sqlite: embed_migrations!("migrations/sqlite"),
    postgres: embed_migrations!("migrations/postgres"),
};

/// Builds auth-service, started: its port, its drained stop and `run_until_stopped`.
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
        let jwt = settings.jwt.clone();
        let key = tokio::task::spawn_blocking(move || SigningKey::load_or_generate(&jwt)).await??;
        if let Some(admin) = &settings.admin {
            bootstrap::ensure_admin(&db, admin).await?;
        }

        let wechat = match settings.wechat.clone() {
            Some(wechat) => Some(WeChat::new(wechat, FlowStore::new(redis.clone()))?),
            None => None,
        };
        let metrics = shared::metrics::Metrics::for_listener(
            "auth-service",
            settings.server.metrics_addr.as_deref(),
        );
        metrics.observe_db(&db);
        metrics.observe_redis(&redis);
        let context = web::Data::new(AuthContext {
            sessions: SessionStore::new(redis.clone(), &settings.sessions),
            throttle: LoginThrottle::new(redis.clone(), settings.throttle.clone()),
            tokens: TokenIssuer::new(key, &settings.jwt),
            db,
            redis,
            metrics: crate::metrics::AuthMetrics::new(&metrics),
            wechat,
        });
        let listener = shared::server::bind(&settings.server.bind_addr)?;
        shared::server::serve_service(
            "auth-service",
            &settings.server,
            listener,
            context,
            metrics,
            routes::config,
        )
    }
}
