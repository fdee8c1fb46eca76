//! Building and running payment-service: connect, migrate, load the Alipay keys, serve,
//! and run the background jobs beside the server.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use diesel_migrations::embed_migrations;
use shared::db::{Db, Migrations};
use shared::redis::Redis;
use shared::server::Running;
use shared::tasks::Tasks;
use tokio::sync::Notify;

use crate::alipay::{AlipayClient, AlipayConfig, AppPrivateKey, PublicKey};
use crate::config::{AlipaySettings, Settings};
use crate::context::PaymentContext;
use crate::jobs::Jobs;
use crate::recommend::RecommendClient;
use crate::routes;

pub const MIGRATIONS: Migrations = Migrations {
    sqlite: embed_migrations!("migrations/sqlite"),
    postgres: embed_migrations!("migrations/postgres"),
};

/// payment-service, started (its port, its drained stop: see [`Running`]), with the
/// background jobs that run beside the server once it runs.
pub struct Application {
    running: Running,
    jobs: Jobs,
    jobs_interval: Duration,
    tasks: Tasks,
}

impl std::ops::Deref for Application {
    type Target = Running;

    fn deref(&self) -> &Running {
        &self.running
    }
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = shared::server::bind(&settings.server.bind_addr)?;
        Self::build_on(listener, settings).await
    }

    /// The service on a listener bound beforehand, for a caller that must know the port
    /// before the service is built (`settings.server.bind_addr` is not used).
    pub async fn build_on(listener: TcpListener, settings: Settings) -> anyhow::Result<Self> {
        let db = Db::open(
            settings.database.url.clone(),
            settings.database.pool_size,
            MIGRATIONS,
        )
        .await?;
        let redis = Redis::connect(&settings.server.redis)?;
        let http = outbound_client()?;
        let alipay = match &settings.alipay {
            Some(alipay) => Some(AlipayClient::new(alipay_config(alipay)?, http.clone())),
            None => {
                tracing::warn!(
                    "no Alipay keys configured (ALIPAY_APP_PRIVATE_KEY, ALIPAY_PUBLIC_KEY): \
                     orders cannot be paid"
                );
                None
            }
        };
        let metrics = shared::metrics::Metrics::for_listener(
            "payment-service",
            settings.server.metrics_addr.as_deref(),
        );
        metrics.observe_db(&db);
        metrics.observe_redis(&redis);
        let context = Arc::new(PaymentContext {
            db,
            redis,
            alipay,
            recommend: RecommendClient::new(
                &settings.recommend_service_url,
                settings.server.internal_token.clone(),
                http,
            )?,
            orders: settings.orders.clone(),
            signals_queued: Arc::new(Notify::new()),
            tasks: Tasks::default(),
            orders_moved: metrics.counter("payment_orders", "Orders by state transition"),
            notifications: metrics.counter(
                "payment_notifications",
                "Alipay notifications: verified (by outcome) or refused (by reason)",
            ),
            flags: metrics.counter(
                "payment_reconciliation_flags",
                "Orders flagged for an order_admin (a payment after a close, a second trade), \
                 by what reported it: notification or query",
            ),
            outbox_depth: metrics.single_gauge(
                "payment_outbox_depth",
                "Purchase signals not yet delivered to recommend-service",
            ),
            outbox_age: metrics.single_gauge(
                "payment_outbox_oldest_age_seconds",
                "Age of the oldest undelivered purchase signal (0 when none waits)",
            ),
        });
        let jobs = Jobs::new(context.clone());
        let tasks = context.tasks.clone();
        let running = shared::server::serve_service(
            "payment-service",
            &settings.server,
            listener,
            web::Data::from(context),
            metrics,
            routes::config,
        )?
        .with_tasks(tasks.clone());
        Ok(Self {
            running,
            jobs,
            jobs_interval: settings.orders.jobs_interval,
            tasks,
        })
    }

    /// The background jobs, to run a step at a chosen time (tests).
    pub fn jobs(&self) -> Jobs {
        self.jobs.clone()
    }

    /// Serves until stopped, running the background jobs beside the server.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let (jobs, interval) = (self.jobs, self.jobs_interval);
        self.tasks
            .supervise("jobs", move || jobs.clone().run_forever(interval));
        self.running.run_until_stopped().await
    }
}

/// Builds the Alipay client's configuration; a bad key stops the start.
pub fn alipay_config(settings: &AlipaySettings) -> anyhow::Result<AlipayConfig> {
    let app_private_key = AppPrivateKey::from_pem(settings.app_private_key_pem.expose())
        .map_err(|err| anyhow::anyhow!("ALIPAY_APP_PRIVATE_KEY: {err}"))?;
    let alipay_public_key = PublicKey::from_pem(&settings.alipay_public_key_pem)
        .map_err(|err| anyhow::anyhow!("ALIPAY_PUBLIC_KEY: {err}"))?;
    Ok(AlipayConfig {
        app_id: settings.app_id.clone(),
        seller_id: settings.seller_id.clone(),
        app_private_key,
        alipay_public_key,
        gateway_url: settings.gateway_url.clone(),
        notify_url: settings.notify_url.clone(),
        return_url: settings.return_url.clone(),
        timeout: settings.timeout,
    })
}

fn outbound_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(15))
        .pool_idle_timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}
