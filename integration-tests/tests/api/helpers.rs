//! The stack under test: auth-service and two gateway replicas, in-process on free ports,
//! sharing one Redis key space and a fresh database (SQLite, or PostgreSQL when
//! `TEST_DATABASE_URL` is set).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::config::Secret;
use shared::testing::{RedisServer, TestDatabase};

pub const PASSWORD: &str = "correct horse battery";

/// One RSA key for every test of this binary (generating one takes a while).
pub fn signing_key_pem() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| auth_service::keys::generate_pem().expect("generate a test key"))
}

/// Options for [`Stack::start_with`].
pub struct StackOptions {
    /// Run on a Redis of this test alone (for tests that kill or flush it).
    pub private_redis: bool,
    pub idle_timeout: Duration,
    pub extra_routes: Vec<(String, String)>,
    /// Routes for gateway replica `i` only, replacing default routes with the same pattern
    /// (e.g. each gateway's `/v1/chat/*` at its own chat-service replica).
    pub gateway_routes: Vec<Vec<(String, String)>>,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            private_redis: false,
            idle_timeout: Duration::from_secs(30 * 60),
            extra_routes: Vec::new(),
            gateway_routes: Vec::new(),
        }
    }
}

pub struct Stack {
    pub http: reqwest::Client,
    pub auth_url: String,
    pub gateways: Vec<String>,
    pub internal_token: String,
    pub private_redis: Option<RedisServer>,
    pub db: TestDatabase,
    /// The Redis key space of this stack (services joining it use the same prefix).
    pub redis: shared::config::RedisSettings,
}

/// A signed-in user.
pub struct Session {
    pub user_id: i64,
    pub access_token: String,
    pub refresh_token: String,
}

impl Stack {
    pub async fn start() -> Self {
        Self::start_with(StackOptions::default()).await
    }

    pub async fn start_with(options: StackOptions) -> Self {
        shared::telemetry::init_for_tests();
        let private_redis = options.private_redis.then(RedisServer::start);
        let redis_settings = match &private_redis {
            Some(server) => server.settings(),
            None => RedisServer::shared().settings(),
        };
        let db = TestDatabase::new();
        let internal_token = shared::random::token_hex(16);

        let auth = auth_service::Application::build(auth_service::Settings {
            bind_addr: "127.0.0.1:0".into(),
            workers: 1,
            database_url: db.url.clone(),
            database_pool_size: 4,
            redis: redis_settings.clone(),
            internal_token: Secret::new(internal_token.clone()),
            jwt: auth_service::config::JwtSettings {
                private_key_pem: Some(Secret::new(signing_key_pem())),
                private_key_file: "unused".into(),
                issuer: shared::token::DEFAULT_ISSUER.into(),
                audience: shared::token::DEFAULT_AUDIENCE.into(),
                access_token_ttl: Duration::from_secs(900),
            },
            sessions: auth_service::config::SessionSettings {
                idle_timeout: options.idle_timeout,
                absolute_lifetime: Duration::from_secs(7 * 86_400),
            },
            throttle: auth_service::config::ThrottleSettings {
                max_failures_per_account: 5,
                max_failures_per_ip: 20,
                window: Duration::from_secs(900),
            },
            admin: None,
        })
        .await
        .expect("auth-service starts");
        let auth_url = format!("http://127.0.0.1:{}", auth.port());
        tokio::spawn(auth.run_until_stopped());

        // No chat-service unless a test routes to one.
        let mut routes = gateway::config::default_routes(&auth_url, "http://127.0.0.1:9");
        for (pattern, upstream) in &options.extra_routes {
            routes.push(gateway::upstreams::RouteEntry {
                pattern: pattern.clone(),
                upstream: upstream.clone(),
            });
        }
        let mut gateways = Vec::new();
        for i in 0..2 {
            let mut routes = routes.clone();
            if let Some(own) = options.gateway_routes.get(i) {
                routes.retain(|r| !own.iter().any(|(pattern, _)| *pattern == r.pattern));
                routes.extend(own.iter().map(|(pattern, upstream)| {
                    gateway::upstreams::RouteEntry {
                        pattern: pattern.clone(),
                        upstream: upstream.clone(),
                    }
                }));
            }
            let app = gateway::Application::build(gateway::Settings {
                bind_addr: "127.0.0.1:0".into(),
                workers: 1,
                redis: redis_settings.clone(),
                internal_token: Secret::new(internal_token.clone()),
                auth_service_url: auth_url.clone(),
                chat_service_url: "http://127.0.0.1:9".into(),
                routes,
                jwt_issuer: shared::token::DEFAULT_ISSUER.into(),
                jwt_audience: shared::token::DEFAULT_AUDIENCE.into(),
                jwt_leeway: Duration::from_secs(30),
                jwks_refresh_interval: Duration::from_secs(300),
                upstream_timeout: Duration::from_secs(10),
                trusted_proxies: 1,
            })
            .await
            .expect("gateway starts");
            gateways.push(format!("http://127.0.0.1:{}", app.port()));
            tokio::spawn(app.run_until_stopped());
        }

        let stack = Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            auth_url,
            gateways,
            internal_token,
            private_redis,
            db,
            redis: redis_settings,
        };
        for gateway in &stack.gateways {
            stack.wait_ready(gateway).await;
        }
        stack
    }

    async fn wait_ready(&self, base: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ready = self.http.get(format!("{base}/readyz")).send().await;
            if matches!(ready, Ok(r) if r.status() == StatusCode::OK) {
                return;
            }
            assert!(Instant::now() < deadline, "{base} did not become ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Gateway replica `i` ("A" is 0, "B" is 1).
    pub fn gw(&self, i: usize) -> &str {
        &self.gateways[i]
    }

    /// A request through gateway `i`.
    pub fn request(&self, i: usize, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.gw(i)))
    }

    pub async fn call(
        &self,
        i: usize,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.request(i, method, path);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
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

    pub async fn register(&self, account: &str) -> i64 {
        let (status, body) = self
            .call(
                0,
                Method::POST,
                "/v1/auth/register",
                None,
                Some(json!({
                    "account": account,
                    "name": account,
                    "email": format!("{account}@example.com"),
                    "password": PASSWORD,
                })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_i64().unwrap()
    }

    pub async fn login_via(&self, i: usize, account: &str, password: &str) -> (StatusCode, Value) {
        self.call(
            i,
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({ "account": account, "password": password })),
        )
        .await
    }

    pub async fn sign_up_and_in(&self, account: &str) -> Session {
        let user_id = self.register(account).await;
        let (status, body) = self.login_via(0, account, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        Session {
            user_id,
            access_token: body["access_token"].as_str().unwrap().to_owned(),
            refresh_token: body["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn me(&self, i: usize, token: &str) -> StatusCode {
        self.call(i, Method::GET, "/v1/auth/me", Some(token), None)
            .await
            .0
    }

    /// The private Redis of this test (see [`StackOptions::private_redis`]).
    pub fn redis(&mut self) -> &mut RedisServer {
        self.private_redis
            .as_mut()
            .expect("this test needs private_redis")
    }
}

/// Asserts the common error shape and returns the code.
pub fn error_code(body: &Value) -> &str {
    assert!(
        body["error"]["message"].is_string(),
        "not the error shape: {body}"
    );
    assert!(
        body["error"]["details"].is_object(),
        "not the error shape: {body}"
    );
    body["error"]["code"].as_str().expect("error code")
}
