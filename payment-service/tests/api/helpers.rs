//! `TestApp`: payment-service on port 0 with a fresh database, a private Redis key space,
//! the fake Alipay (keys: the independent fixtures) and a fake recommend-service.

use std::time::Duration;

use fake_alipay::{FakeAlipay, FakeConfig};
use payment_service::config::{AlipaySettings, OrderSettings};
use payment_service::jobs::Jobs;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use shared::config::{DatabaseSettings, Secret, ServerSettings};
use shared::db::Db;
pub use shared::testing::error_code;
use shared::testing::{RedisServer, ReservedPort, TestDatabase};

use crate::fake_recommend::{FakeRecommend, TRIP};

pub const APP_ID: &str = "2021000000000001";
pub const SELLER_ID: &str = "2088102177840000";
pub const TRAVELLER: i64 = 101;
pub const OTHER_TRAVELLER: i64 = 102;
pub const ADMIN: i64 = 900;
/// The scopes the gateway forwards (`X-User-Scopes`): none, so only one's own orders.
pub const OWN_ORDERS: &str = "";
/// The all-orders scope, as the gateway forwards it to its holders.
pub const ALL_ORDERS: &str = shared::policy::scopes::ALL_ORDERS.name;

pub fn fixture(name: &str) -> String {
    let path = format!("{}/../fixtures/alipay/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"))
}

pub struct TestOptions {
    pub payment_timeout: Duration,
    /// Where Alipay sends notifications and returns (default: the service, through a
    /// stand-in for the gateway).
    pub public_base: Option<String>,
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            payment_timeout: Duration::from_secs(30 * 60),
            public_base: None,
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub token: String,
    pub jobs: Jobs,
    pub alipay: FakeAlipay,
    pub recommend: FakeRecommend,
    pub db: Db,
    pub _database: TestDatabase,
    /// The service's `/metrics`.
    pub metrics: String,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(TestOptions::default()).await
    }

    pub async fn spawn_with(options: TestOptions) -> Self {
        shared::telemetry::init_for_tests();
        let database = TestDatabase::new();
        let token = shared::random::token_hex(16);
        let recommend = FakeRecommend::start(&token);
        let mut fake = FakeConfig::new(
            fixture("app_public.pem"),
            fixture("alipay_private_pkcs8.pem"),
        );
        fake.seller_id = SELLER_ID.into();
        fake.retry_delay = Duration::from_millis(20);
        let alipay = FakeAlipay::start(fake).expect("fake Alipay starts");

        // The notify and return URLs name the gateway stand-in in front of the service:
        // both ports are bound before the service is built.
        let reservation = ReservedPort::new();
        let bind_addr = format!("127.0.0.1:{}", reservation.port());
        let standin = ReservedPort::new();
        let standin_base = format!("http://127.0.0.1:{}", standin.port());
        crate::gateway_standin::start(
            standin.into_listener(),
            format!("http://{bind_addr}"),
            token.clone(),
        );
        let public_base = options.public_base.clone().unwrap_or(standin_base);
        let settings = payment_service::Settings {
            server: ServerSettings {
                bind_addr,
                workers: 2,
                ..ServerSettings::local(&RedisServer::shared().settings(), &token)
            },
            database: DatabaseSettings {
                url: database.url.clone(),
                pool_size: 8,
            },
            recommend_service_url: recommend.url.clone(),
            orders: OrderSettings {
                payment_timeout: options.payment_timeout,
                reconcile_after: Duration::from_secs(180),
                // Tests run the jobs themselves, at chosen times.
                jobs_interval: Duration::from_secs(3600),
                max_quantity: 20,
            },
            alipay: Some(AlipaySettings {
                app_id: APP_ID.into(),
                seller_id: SELLER_ID.into(),
                app_private_key_pem: Secret::new(fixture("app_private_pkcs1.pem")),
                alipay_public_key_pem: fixture("alipay_public.pem"),
                gateway_url: alipay.gateway_url(),
                notify_url: format!("{public_base}/v1/payments/alipay/notify"),
                return_url: format!("{public_base}/v1/payments/alipay/return"),
                timeout: Duration::from_secs(5),
            }),
        };
        let app = payment_service::Application::build_on(reservation.into_listener(), settings)
            .await
            .expect("payment-service starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let jobs = app.jobs();
        let metrics = format!(
            "http://127.0.0.1:{}/metrics",
            app.metrics_port().expect("a metrics listener")
        );
        tokio::spawn(app.run_until_stopped());
        let db = Db::connect(&database.url, 2, payment_service::startup::MIGRATIONS).unwrap();
        Self {
            base,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            token,
            jobs,
            alipay,
            recommend,
            db,
            _database: database,
            metrics,
        }
    }

    /// The service's metrics now.
    pub async fn scrape(&self) -> shared::testing::Scraped {
        let text = self.http.get(&self.metrics).send().await.unwrap().text();
        shared::testing::Scraped::parse(&text.await.unwrap())
    }

    /// A request as the gateway forwards it for `user` holding `scopes`.
    pub fn request(
        &self,
        method: Method,
        path: &str,
        user: i64,
        scopes: &str,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .header("x-waypoint-internal", &self.token)
            .header("x-user-id", user.to_string())
            .header("x-session-id", "test-session")
            .header(shared::identity::names::USER_SCOPES, scopes)
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        user: i64,
        scopes: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.request(method, path, user, scopes);
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await.expect("request sent")).await
    }

    /// A pending order of `quantity` × the test trip, for `user`.
    pub async fn order(&self, user: i64, trip_id: i64, quantity: i32) -> Value {
        let (status, body) = self
            .call(
                Method::POST,
                "/v1/orders",
                user,
                OWN_ORDERS,
                Some(serde_json::json!({"trip_id": trip_id, "quantity": quantity})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// An order whose cashier page the buyer opened, so Alipay knows the trade.
    pub async fn opened_order(&self, user: i64) -> Value {
        let order = self.order(user, TRIP, 2).await;
        let url = self.pay_url(user, order["id"].as_i64().unwrap()).await;
        let page = self.http.get(&url).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(html.contains("Pay ¥"), "{html}");
        order
    }

    pub async fn pay_url(&self, user: i64, order_id: i64) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                &format!("/v1/orders/{order_id}/pay"),
                user,
                OWN_ORDERS,
                Some(serde_json::json!({"channel": "page"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["url"].as_str().unwrap().to_owned()
    }

    /// The traveller cancels their order `id`.
    pub async fn cancel(&self, id: i64) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            &format!("/v1/orders/{id}/cancel"),
            TRAVELLER,
            OWN_ORDERS,
            None,
        )
        .await
    }

    pub async fn get_order(&self, id: i64) -> Value {
        let (status, body) = self
            .call(
                Method::GET,
                &format!("/v1/orders/{id}"),
                ADMIN,
                ALL_ORDERS,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Posts a notification form (as Alipay does) and returns the answer text.
    pub async fn notify(&self, form: &[(String, String)]) -> String {
        self.notify_raw(serde_urlencoded::to_string(form).unwrap())
            .await
    }

    pub async fn notify_raw(&self, body: String) -> String {
        self.http
            .post(format!("{}/v1/payments/alipay/notify", self.base))
            // As the gateway forwards Alipay's POST.
            .header("x-waypoint-internal", &self.token)
            .header(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body(body)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// How many events of `order_id` had `outcome`.
    pub async fn events(&self, order_id: i64, outcome: &'static str) -> i64 {
        self.db
            .run(move |conn| {
                Ok(payment_service::models::event::count(
                    conn, order_id, outcome,
                )?)
            })
            .await
            .unwrap()
    }

    /// Runs SQL (one or more statements, on one connection) on the service's database
    /// (test set-up only).
    pub async fn sql(&self, statements: String) {
        self.db
            .run(move |conn| {
                use diesel::connection::SimpleConnection;
                conn.batch_execute(&statements)?;
                Ok(())
            })
            .await
            .unwrap();
    }

    pub fn is_postgres(&self) -> bool {
        self._database.is_postgres()
    }
}

pub async fn read(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Replaces (or adds) `key` in a form.
pub fn set(form: &mut Vec<(String, String)>, key: &str, value: &str) {
    match form.iter_mut().find(|(k, _)| k == key) {
        Some(entry) => entry.1 = value.to_owned(),
        None => form.push((key.to_owned(), value.to_owned())),
    }
}
