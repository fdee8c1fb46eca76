//! `spawn_app()`: the service in-process on a free port, and ways to call it as a given
//! user (the identity headers the gateway would set).

use std::time::Duration;

use recommend_service::cache::CacheMode;
use recommend_service::context::RecommendContext;
use recommend_service::schedule::RebuildRule;
use recommend_service::{Application, Settings};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::config::{DatabaseSettings, ServerSettings};
pub use shared::testing::error_code;
use shared::testing::{RedisServer, TestDatabase};

pub const ADMIN: Who = Who::User(1, "product_admin");

/// Who calls.
#[derive(Debug, Clone, Copy)]
pub enum Who {
    /// No identity headers (a public request through the gateway).
    Anonymous,
    /// A signed-in user with one role.
    User(i64, &'static str),
    /// Around the gateway: no internal token at all.
    Outsider,
}

pub fn traveller(id: i64) -> Who {
    Who::User(id, "traveller")
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub token: String,
    pub ctx: actix_web::web::Data<RecommendContext>,
    pub db: TestDatabase,
    pub redis: Option<RedisServer>,
    /// Where `/metrics` answers.
    pub metrics_url: String,
}

pub struct Options {
    pub mode: CacheMode,
    /// A Redis of this test alone (for tests that stop it).
    pub private_redis: bool,
    pub min_profile: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            mode: CacheMode::Versioned,
            private_redis: false,
            min_profile: 3,
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_with(Options::default()).await
}

pub async fn spawn_with(options: Options) -> TestApp {
    shared::telemetry::init_for_tests();
    let redis = options.private_redis.then(RedisServer::start);
    let redis_settings = match &redis {
        Some(server) => server.settings(),
        None => RedisServer::shared().settings(),
    };
    let db = TestDatabase::new();
    let token = shared::random::token_hex(16);
    let settings = Settings {
        server: ServerSettings::local(&redis_settings, &token),
        database: DatabaseSettings::local(&db.url),
        cache_ttl: Duration::from_secs(600),
        // Rebuilds happen when a test asks (POST /internal/model/rebuild).
        model_rebuild: RebuildRule {
            check_every: Duration::from_secs(3600),
            spacing: 0,
        },
        min_profile: options.min_profile,
    };
    let app = Application::build_with(settings, options.mode)
        .await
        .expect("recommend-service starts");
    let ctx = app.context();
    let base = format!("http://127.0.0.1:{}", app.port());
    let metrics_url = format!(
        "http://127.0.0.1:{}/metrics",
        app.metrics_port().expect("a metrics listener")
    );
    tokio::spawn(app.run_until_stopped());
    TestApp {
        base,
        http: reqwest::Client::new(),
        token,
        ctx,
        db,
        redis,
        metrics_url,
    }
}

impl TestApp {
    pub fn request(&self, method: Method, path: &str, who: Who) -> reqwest::RequestBuilder {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        match who {
            Who::Outsider => {}
            Who::Anonymous => request = request.header("x-waypoint-internal", &self.token),
            Who::User(id, role) => {
                request = request
                    .header("x-waypoint-internal", &self.token)
                    .header("x-user-id", id.to_string())
                    .header("x-session-id", format!("s{id}"))
                    .header("x-user-roles", role);
            }
        }
        request
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        who: Who,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.request(method, path, who);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str, who: Who) -> (StatusCode, Value) {
        self.call(Method::GET, path, who, None).await
    }

    /// Creates a trip as an admin; returns its id.
    pub async fn trip(&self, title: &str, destination: &str, price_cents: i64) -> i64 {
        let (status, body) = self
            .call(
                Method::POST,
                "/v1/trips",
                ADMIN,
                Some(json!({
                    "title": title,
                    "destination": destination,
                    "price_cents": price_cents,
                    "duration_days": 4,
                    "tags": ["culture"],
                })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_i64().unwrap()
    }

    pub async fn rate(&self, user: i64, trip: i64, score: i64) {
        let (status, body) = self
            .call(
                Method::POST,
                "/v1/ratings",
                traveller(user),
                Some(json!({ "trip_id": trip, "score": score })),
            )
            .await;
        assert!(status.is_success(), "{status} {body}");
    }

    pub async fn rebuild(&self) -> Value {
        let (status, body) = self
            .call(
                Method::POST,
                "/internal/model/rebuild",
                Who::Anonymous,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

/// The names of the fields a 422 names, sorted.
pub fn fields(body: &Value) -> Vec<String> {
    let mut names: Vec<String> = body["error"]["details"]["fields"]
        .as_object()
        .map(|f| f.keys().cloned().collect())
        .unwrap_or_default();
    names.sort();
    names
}
