//! Building and running chat-service: connect, migrate, start the fan-out and upkeep
//! tasks, serve.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpServer, web};
use diesel_migrations::embed_migrations;
use shared::db::{Db, Migrations};
use shared::redis::Redis;
use shared::tasks::Tasks;

use crate::config::Settings;
use crate::context::ChatContext;
use crate::directory::Directory;
use crate::metrics::ChatMetrics;
use crate::presence::Presence;
use crate::routes;
use crate::sessions::SessionCheck;
use crate::tickets::Tickets;
use crate::writer::MessageWriter;
use crate::ws::fanout::{self, Fanout};
use crate::ws::hub::{Hub, Stop};
use crate::ws::upkeep;

pub const MIGRATIONS: Migrations = Migrations {
    sqlite: embed_migrations!("migrations/sqlite"),
    postgres: embed_migrations!("migrations/postgres"),
};

/// Builds chat-service, started: its port, its drained stop and `run_until_stopped`.
pub struct Application;

/// Stops a running replica (see `shared::server::Drain`): when the grace is over its
/// sockets get a close frame (1001, going away) so that clients resume on another replica,
/// then the server stops.
pub use shared::server::Stopper;

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<shared::server::Running> {
        let listener = shared::server::bind(&settings.server.bind_addr)?;
        Self::build_on(listener, settings).await
    }

    /// The service on a listener bound beforehand, for a caller that must know the port
    /// before the service is built (`settings.server.bind_addr` is not used).
    pub async fn build_on(
        listener: TcpListener,
        settings: Settings,
    ) -> anyhow::Result<shared::server::Running> {
        let db = Db::open(
            settings.database.url.clone(),
            settings.database.pool_size,
            MIGRATIONS,
        )
        .await?;
        let redis = Redis::connect(&settings.server.redis)?;
        let upkeep_redis = Redis::connect(&settings.server.redis)?;
        let socket = settings.socket.clone();
        let replica = shared::random::token_hex(6);
        let (hub, subscriptions) = Hub::new(replica.clone(), socket.outbound_queue);
        let hub = Arc::new(hub);
        let tasks = Tasks::default();
        let metrics = shared::metrics::Metrics::for_listener(
            "chat-service",
            settings.server.metrics_addr.as_deref(),
        );
        metrics.observe_db(&db);
        metrics.observe_redis(&redis);
        metrics.observe_redis(&upkeep_redis);
        let presence = Presence::new(upkeep_redis.clone(), socket.presence_ttl);
        let chat_metrics = ChatMetrics::new(&metrics, &hub, &presence);
        let writer = MessageWriter::start(
            db.clone(),
            Fanout::new(redis.clone()),
            &tasks,
            chat_metrics.stored(),
        );
        let metrics_port = metrics.serve(settings.server.metrics_addr.as_deref())?;
        let spans = shared::otel::Spans::start(&settings.server.otlp, "chat-service")?;
        let ctx = Arc::new(ChatContext {
            directory: Directory::new(&settings.directory, settings.server.internal_token.clone())?,
            tickets: Tickets::new(redis.clone(), socket.ticket_ttl),
            // The periodic checks and refreshes send thousands of commands at once: on a
            // connection of their own they never hold up a publish queued behind them.
            sessions: SessionCheck::new(upkeep_redis.clone()),
            presence,
            fanout: Fanout::new(redis.clone()),
            hub: hub.clone(),
            writer,
            socket: socket.clone(),
            db,
            redis: redis.clone(),
            tasks: tasks.clone(),
            metrics: chat_metrics,
        });
        let subscriptions = Arc::new(tokio::sync::Mutex::new(subscriptions));
        tasks.supervise("fanout-subscriber", move || {
            fanout::run_subscriber(redis.clone(), hub.clone(), subscriptions.clone())
        });
        let upkeep_ctx = ctx.clone();
        tasks.supervise("upkeep", move || upkeep::run(upkeep_ctx.clone()));

        let data = web::Data::from(ctx.clone());
        let internal_token = settings.server.internal_token.clone();
        let user_timeout = socket.tcp_user_timeout;
        let drain = shared::server::Drain::from_env()?;
        let app_drain = drain.clone();
        let app_spans = spans.clone();
        let server = HttpServer::new(move || {
            shared::server::app(
                data.clone(),
                metrics.clone(),
                internal_token.clone(),
                app_drain.clone(),
                app_spans.clone(),
                routes::config,
            )
        })
        .on_connect(move |connection, _| {
            // A peer that stops reading leaves sent data unacknowledged: the kernel gives
            // up on the connection after this long instead of holding it forever.
            if let Some(stream) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
                let _ = socket2::SockRef::from(stream).set_tcp_user_timeout(Some(user_timeout));
            }
        });
        let running = shared::server::serve(server, listener, settings.server.workers, &drain)?;
        tracing::info!(port = running.port(), replica, "chat-service listening");
        let goodbye = move || -> futures_util::future::BoxFuture<'static, ()> {
            let ctx = ctx.clone();
            Box::pin(async move {
                ctx.hub().stop_all(Stop::GoingAway);
                // Bounded by the drain's timeout.
                while ctx.hub().counts().0 > 0 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        };
        Ok(running
            .with_goodbye(Arc::new(goodbye))
            .with_metrics_port(metrics_port)
            .with_spans(spans)
            .with_tasks(tasks))
    }
}
