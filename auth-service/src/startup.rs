//! Building and running auth-service: connect, migrate, bootstrap, serve.

use actix_web::{HttpServer, web};
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
        let metrics_port = metrics.serve(settings.server.metrics_addr.as_deref())?;
        let spans = shared::otel::Spans::start(&settings.server.otlp, "auth-service")?;
        let context = web::Data::new(AuthContext {
            sessions: SessionStore::new(redis.clone(), &settings.sessions),
            throttle: LoginThrottle::new(redis.clone(), settings.throttle.clone()),
            tokens: TokenIssuer::new(key, &settings.jwt),
            db,
            redis,
            metrics: crate::metrics::AuthMetrics::new(&metrics),
            wechat,
        });
        let internal_token = settings.server.internal_token.clone();
        let listener = shared::server::bind(&settings.server.bind_addr)?;
        let drain = shared::server::Drain::from_env()?;
        let app_drain = drain.clone();
        let app_spans = spans.clone();
        let server = HttpServer::new(move || {
            shared::server::app(
                context.clone(),
                metrics.clone(),
                internal_token.clone(),
                app_drain.clone(),
                app_spans.clone(),
                routes::config,
            )
        });
        let running = shared::server::serve(server, listener, settings.server.workers, &drain)?
            .with_metrics_port(metrics_port)
            .with_spans(spans);
        tracing::info!(port = running.port(), "auth-service listening");
        Ok(running)
    }
}
