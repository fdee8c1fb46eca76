//! The stack under test: auth-service, rbac-service and two gateway replicas, in-process on
//! free ports, sharing one Redis key space; each service with a fresh database (SQLite, or
//! PostgreSQL when `TEST_DATABASE_URL` is set). An admin account (`root`) is a super_admin.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use gateway::ratelimit::{Rate, RateLimits};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::config::{DatabaseSettings, RedisSettings, Secret, ServerSettings};
pub use shared::testing::error_code;
use shared::testing::{RedisServer, ReservedPort, TestDatabase};

/// The proxy address every gateway of the stack trusts (`TRUSTED_PROXIES`).
pub const NGINX: &str = "127.0.0.1/32";

/// `RATE_LIMIT_SYNC` of the stack's gateways, unless a test sets its own.
pub const RATE_LIMIT_SYNC: Duration = Duration::from_millis(20);

pub const PASSWORD: &str = "correct horse battery";
pub const ADMIN: &str = "root";
pub const ADMIN_PASSWORD: &str = "a root password of some length";

/// One RSA key for every test of this binary (generating one takes a while).
pub fn signing_key_pem() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| auth_service::keys::generate_pem().expect("generate a test key"))
}

/// Options for [`Stack::start_with`].
pub struct StackOptions {
    /// Run on a Redis of this test alone (for tests that kill or flush it).
    pub private_redis: bool,
    /// Run on these Redis settings instead (a `SentinelGroup`'s).
    pub redis: Option<RedisSettings>,
    pub idle_timeout: Duration,
    /// The gateways' `CLIENT_IDLE_TIMEOUT`.
    pub client_idle_timeout: Duration,
    /// The gateways' `UPSTREAM_TIMEOUT`.
    pub upstream_timeout: Duration,
    /// auth-service's `SESSION_REFRESH_GRACE`.
    pub refresh_grace: Duration,
    pub extra_routes: Vec<(String, String)>,
    /// Gateway B sends every `/v1` route to an echo server instead of the services, so
    /// decisions can be observed without side effects.
    pub echo_on_b: bool,
    pub rate_limits: RateLimits,
    pub policy_pubsub: bool,
    pub session_cache: gateway::auth::cache::CacheSettings,
    /// Start recommend-service (the trips catalog).
    pub recommend: bool,
    /// Start payment-service with a fake Alipay (and recommend-service for prices).
    pub payments: bool,
    /// WeChat sign-in for auth-service (off by default, as without `WECHAT_APPID`).
    pub wechat: Option<auth_service::config::WeChatSettings>,
    /// Routes for gateway replica `i` only, replacing default routes with the same pattern
    /// (e.g. each gateway's `/v1/chat/*` at its own chat-service replica).
    pub gateway_routes: Vec<Vec<(String, String)>>,
    /// Span export of every part (off by default, as without `OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub otlp: shared::otel::OtlpSettings,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            private_redis: false,
            redis: None,
            idle_timeout: Duration::from_secs(30 * 60),
            client_idle_timeout: shared::server::KEEP_ALIVE,
            upstream_timeout: Duration::from_secs(10),
            refresh_grace: Duration::from_secs(30),
            extra_routes: Vec::new(),
            echo_on_b: false,
            rate_limits: RateLimits {
                anon: Rate::parse("100000/min").unwrap(),
                user: Rate::parse("100000/min").unwrap(),
                login: Rate::parse("100000/min").unwrap(),
                write: Rate::parse("100000/min").unwrap(),
                sync: Some(RATE_LIMIT_SYNC),
            },
            policy_pubsub: true,
            session_cache: Default::default(),
            recommend: false,
            payments: false,
            wechat: None,
            gateway_routes: Vec::new(),
            otlp: Default::default(),
        }
    }
}

pub struct Stack {
    pub http: reqwest::Client,
    pub auth_url: String,
    pub rbac_url: String,
    /// payment- and recommend-service, when the options started them.
    pub payment_url: Option<String>,
    pub recommend_url: Option<String>,
    /// recommend-service's database, when the options started it.
    pub recommend_db_url: Option<String>,
    pub gateways: Vec<String>,
    /// Gateway `i`'s drained stop (see [`Stack::gateway_stopper`]); replaced when it restarts.
    gateway_stoppers: std::sync::Mutex<Vec<shared::server::Stopper>>,
    /// What gateway `i` was started with, to start it again ([`Stack::restart_gateway`]).
    gateway_settings: Vec<gateway::Settings>,
    pub internal_token: String,
    pub admin_token: String,
    pub redis_settings: RedisSettings,
    pub private_redis: Option<RedisServer>,
    pub rbac: std::sync::Arc<dyn shared::server::Halt>,
    pub alipay: Option<fake_alipay::FakeAlipay>,
    pub db: TestDatabase,
    pub rbac_db: TestDatabase,
    _other_dbs: Vec<TestDatabase>,
    /// Each started part's `/metrics` URL: (`auth-service`, …, `gateway-0`, `gateway-1`).
    pub metrics: Vec<(String, String)>,
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
        let redis_settings = match (&options.redis, &private_redis) {
            (Some(settings), _) => settings.clone(),
            (None, Some(server)) => server.settings(),
            (None, None) => RedisServer::shared().settings(),
        };
        let db = TestDatabase::new();
        let rbac_db = TestDatabase::new();
        let internal_token = shared::random::token_hex(16);

        let auth = auth_service::Application::build(auth_settings(
            &db,
            &redis_settings,
            &internal_token,
            &options,
        ))
        .await
        .expect("auth-service starts");
        let auth_url = format!("http://127.0.0.1:{}", auth.port());
        let mut metrics = vec![("auth-service".to_owned(), metrics_url(auth.metrics_port()))];
        tokio::spawn(auth.run_until_stopped());

        let mut settings = rbac_settings(&rbac_db, &redis_settings, &internal_token, &auth_url);
        settings.server.otlp = options.otlp.clone();
        let rbac = rbac_service::Application::build(settings)
            .await
            .expect("rbac-service starts");
        let rbac_url = format!("http://127.0.0.1:{}", rbac.port());
        metrics.push(("rbac-service".into(), metrics_url(rbac.metrics_port())));
        let rbac_handle = rbac.halt();
        tokio::spawn(rbac.run_until_stopped());

        // Gateway A's address is fixed first: Alipay's notifications are sent there.
        let reserved = [ReservedPort::new(), ReservedPort::new()];
        let gateway_ports = reserved.each_ref().map(ReservedPort::port);
        let mut other_dbs = Vec::new();
        let mut recommend_db_url = None;
        let recommend_url = if options.recommend || options.payments {
            let db = TestDatabase::new();
            let mut settings =
                recommend_settings("127.0.0.1:0", &db.url, &redis_settings, &internal_token);
            settings.server.otlp = options.otlp.clone();
            let app = recommend_service::Application::build(settings)
                .await
                .expect("recommend-service starts");
            recommend_db_url = Some(db.url.clone());
            other_dbs.push(db);
            let url = format!("http://127.0.0.1:{}", app.port());
            metrics.push(("recommend-service".into(), metrics_url(app.metrics_port())));
            tokio::spawn(app.run_until_stopped());
            Some(url)
        } else {
            None
        };
        let (payment_url, alipay) = if options.payments {
            let public = format!("http://127.0.0.1:{}/v1/payments/alipay", gateway_ports[0]);
            let (url, alipay, db, metrics_port) = start_payments(
                &redis_settings,
                &internal_token,
                recommend_url.as_deref().unwrap_or_default(),
                &public,
                &options.otlp,
            )
            .await;
            other_dbs.push(db);
            metrics.push(("payment-service".into(), metrics_url(metrics_port)));
            (Some(url), Some(alipay))
        } else {
            (None, None)
        };
        // Services a test does not start are routed to a closed port (503).
        let absent = shared::testing::REFUSING_URL.to_owned();
        let services = gateway::config::ServiceUrls {
            auth: auth_url.clone(),
            rbac: rbac_url.clone(),
            payment: payment_url.clone().unwrap_or_else(|| absent.clone()),
            recommend: recommend_url.clone().unwrap_or_else(|| absent.clone()),
            chat: absent.clone(),
        };
        let mut routes = gateway::config::default_routes(&services);
        for (pattern, upstream) in &options.extra_routes {
            routes.push(gateway::upstreams::RouteEntry {
                pattern: pattern.clone(),
                upstream: upstream.clone(),
            });
        }
        let mut gateways = Vec::new();
        let mut gateway_stoppers = Vec::new();
        let mut gateway_settings = Vec::new();
        for (replica, reservation) in reserved.into_iter().enumerate() {
            let routes = if replica == 1 && options.echo_on_b {
                vec![gateway::upstreams::RouteEntry {
                    pattern: "/v1/*".into(),
                    upstream: start_echo(),
                }]
            } else {
                let mut routes = routes.clone();
                if let Some(own) = options.gateway_routes.get(replica) {
                    routes.retain(|r| !own.iter().any(|(pattern, _)| *pattern == r.pattern));
                    routes.extend(own.iter().map(|(pattern, upstream)| {
                        gateway::upstreams::RouteEntry {
                            pattern: pattern.clone(),
                            upstream: upstream.clone(),
                        }
                    }));
                }
                routes
            };
            let bind_addr = format!("127.0.0.1:{}", reservation.port());
            let settings = gateway::Settings {
                server: ServerSettings {
                    bind_addr,
                    ..server(&redis_settings, &internal_token, &options.otlp)
                },
                services: services.clone(),
                routes,
                jwt_issuer: shared::token::DEFAULT_ISSUER.into(),
                jwt_audience: shared::token::DEFAULT_AUDIENCE.into(),
                jwt_leeway: Duration::from_secs(30),
                jwks_refresh_interval: Duration::from_secs(300),
                upstream_timeout: options.upstream_timeout,
                client_idle_timeout: options.client_idle_timeout,
                // The test client stands in for nginx: it connects from 127.0.0.1 and
                // names the client in X-Forwarded-For. Other loopback addresses
                // (127.0.0.2, …) are callers reaching a gateway directly.
                trusted_proxies: NGINX.parse().unwrap(),
                rate_limits: options.rate_limits.clone(),
                policy_pubsub: options.policy_pubsub,
                session_cache: options.session_cache,
                docs_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/../docs").into(),
            };
            let app = gateway::Application::build_on(reservation.into_listener(), settings.clone())
                .await
                .expect("gateway starts");
            gateway_settings.push(settings);
            gateways.push(format!("http://127.0.0.1:{}", app.port()));
            gateway_stoppers.push(app.stopper());
            metrics.push((
                format!("gateway-{replica}"),
                metrics_url(app.metrics_port()),
            ));
            tokio::spawn(app.run_until_stopped());
        }

        let mut stack = Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            auth_url,
            rbac_url,
            payment_url,
            recommend_url,
            recommend_db_url,
            gateways,
            gateway_stoppers: std::sync::Mutex::new(gateway_stoppers),
            gateway_settings,
            internal_token,
            admin_token: String::new(),
            redis_settings,
            private_redis,
            rbac: rbac_handle,
            alipay,
            db,
            rbac_db,
            _other_dbs: other_dbs,
            metrics,
        };
        for gateway in &stack.gateways {
            stack.wait_ready(gateway).await;
        }
        stack.admin_token = stack.admin_session().await;
        stack
    }

    /// Stops gateway `i` the drained way, as SIGTERM does.
    pub fn gateway_stopper(&self, i: usize) -> shared::server::Stopper {
        self.gateway_stoppers.lock().unwrap()[i].clone()
    }

    /// Stops gateway `i` the drained way (as SIGTERM does) and starts it again on its port
    /// once the old one no longer listens, as a deploy does; returns when it is ready.
    /// (The new one's `/metrics` port is a new one.)
    pub async fn restart_gateway(&self, i: usize) {
        let stopping = {
            let stopper = self.gateway_stopper(i);
            tokio::spawn(async move { stopper.stop().await })
        };
        let settings = self.gateway_settings[i].clone();
        wait_until_closed(&settings.server.bind_addr).await;
        let app = gateway::Application::build(settings)
            .await
            .expect("gateway starts again");
        self.gateway_stoppers.lock().unwrap()[i] = app.stopper();
        tokio::spawn(app.run_until_stopped());
        self.wait_ready(&self.gateways[i]).await;
        // The old one finishes what it had in its own time.
        drop(stopping);
    }

    /// A chat-service replica on `listener`, using this stack's Redis, rbac- and
    /// auth-service, and the chat database `db`.
    pub async fn start_chat_replica(&self, listener: std::net::TcpListener, db: &TestDatabase) {
        let bind_addr = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
        let app = chat_service::Application::build_on(
            listener,
            chat_service::Settings {
                server: ServerSettings {
                    bind_addr,
                    ..ServerSettings::local(&self.redis_settings, &self.internal_token)
                },
                database: DatabaseSettings::local(&db.url),
                directory: chat_service::config::DirectorySettings {
                    rbac_service_url: self.rbac_url.clone(),
                    auth_service_url: self.auth_url.clone(),
                    cache_ttl: Duration::from_millis(100),
                    timeout: Duration::from_secs(2),
                },
                socket: chat_service::config::SocketSettings {
                    session_check_interval: Duration::from_millis(100),
                    ..Default::default()
                },
            },
        )
        .await
        .expect("chat-service starts");
        tokio::spawn(app.run_until_stopped());
    }

    async fn wait_ready(&self, base: &str) {
        self.eventually(
            Duration::from_secs(10),
            &format!("{base} ready"),
            || async {
                let ready = self.http.get(format!("{base}/readyz")).send().await;
                matches!(ready, Ok(r) if r.status() == StatusCode::OK)
            },
        )
        .await;
    }

    /// Signs the admin in once rbac-service has made them a super_admin.
    async fn admin_session(&self) -> String {
        let members = format!("{}/internal/roles/super_admin/users", self.rbac_url);
        self.eventually(Duration::from_secs(10), "admin is super_admin", || async {
            let response = self
                .http
                .get(&members)
                .header("x-waypoint-internal", &self.internal_token)
                .send()
                .await;
            match response {
                Ok(r) => r
                    .json::<Value>()
                    .await
                    .is_ok_and(|v| v["user_ids"].as_array().is_some_and(|ids| !ids.is_empty())),
                Err(_) => false,
            }
        })
        .await;
        let (status, body) = self.login_via(0, ADMIN, ADMIN_PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// Polls `check` until it holds, failing the test after `within`.
    pub async fn eventually<F, Fut>(&self, within: Duration, what: &str, mut check: F) -> Duration
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let started = Instant::now();
        loop {
            if check().await {
                return started.elapsed();
            }
            assert!(started.elapsed() < within, "not within {within:?}: {what}");
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

    /// A call as the admin, which must succeed with `expected`.
    pub async fn admin(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        expected: StatusCode,
    ) -> Value {
        let (status, response) = self
            .call(0, method.clone(), path, Some(&self.admin_token), body)
            .await;
        assert_eq!(status, expected, "{method} {path}: {response}");
        response
    }

    /// A POST as the admin, which must create (201); the created record.
    pub async fn admin_create(&self, path: &str, body: Value) -> Value {
        self.admin(Method::POST, path, Some(body), StatusCode::CREATED)
            .await
    }

    /// A DELETE as the admin, which must succeed (204).
    pub async fn admin_delete(&self, path: &str) {
        self.admin(Method::DELETE, path, None, StatusCode::NO_CONTENT)
            .await;
    }

    /// Starts a second rbac-service on this stack's rbac database and drops it: what a
    /// restart does to the database (migrations, seeding), while the first one keeps serving.
    pub async fn start_rbac_again(&self) {
        let again = rbac_service::Application::build(rbac_settings(
            &self.rbac_db,
            &self.redis_settings,
            &self.internal_token,
            &self.auth_url,
        ))
        .await
        .expect("rbac-service starts again");
        drop(again);
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

    /// The id of a role by name.
    pub async fn role_id(&self, name: &str) -> i64 {
        let roles = self
            .admin(
                Method::GET,
                &format!("/v1/roles?name={name}"),
                None,
                StatusCode::OK,
            )
            .await;
        roles["results"][0]["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("no role {name}"))
    }

    /// The roles `user_id` holds, as the admin API lists them.
    async fn held_roles(&self, user_id: i64) -> Vec<Value> {
        let held = self
            .admin(
                Method::GET,
                &format!("/v1/users/{user_id}/roles"),
                None,
                StatusCode::OK,
            )
            .await;
        held["results"].as_array().unwrap().clone()
    }

    /// The names of the roles `user_id` holds, sorted.
    pub async fn role_names(&self, user_id: i64) -> Vec<String> {
        let mut names: Vec<String> = self
            .held_roles(user_id)
            .await
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    }

    /// Gives `user_id` exactly the named roles.
    pub async fn set_roles(&self, user_id: i64, names: &[&str]) {
        let held = self.held_roles(user_id).await;
        for role in &held {
            if !names.contains(&role["name"].as_str().unwrap()) {
                let path = format!("/v1/users/{user_id}/roles/{}", role["id"]);
                self.admin(Method::DELETE, &path, None, StatusCode::NO_CONTENT)
                    .await;
            }
        }
        for name in names {
            let already = held.iter().any(|r| r["name"] == *name);
            if !already {
                let role_id = self.role_id(name).await;
                let body = json!({ "role_id": role_id });
                self.admin(
                    Method::POST,
                    &format!("/v1/users/{user_id}/roles"),
                    Some(body),
                    StatusCode::CREATED,
                )
                .await;
            }
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

fn auth_settings(
    db: &TestDatabase,
    redis: &RedisSettings,
    token: &str,
    options: &StackOptions,
) -> auth_service::Settings {
    auth_service::Settings {
        server: server(redis, token, &options.otlp),
        database: DatabaseSettings::local(&db.url),
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
            refresh_grace: options.refresh_grace,
        },
        throttle: auth_service::config::ThrottleSettings {
            max_failures_per_account: 5,
            max_failures_per_ip: 20,
            window: Duration::from_secs(900),
        },
        admin: Some(auth_service::config::AdminSettings {
            account: ADMIN.into(),
            password: Secret::new(ADMIN_PASSWORD),
            email: "root@waypoint.local".into(),
        }),
        wechat: options.wechat.clone(),
    }
}

/// recommend-service's settings in a test stack, listening on `bind_addr`.
pub fn recommend_settings(
    bind_addr: &str,
    database_url: &str,
    redis: &RedisSettings,
    internal_token: &str,
) -> recommend_service::Settings {
    recommend_service::Settings {
        server: ServerSettings {
            bind_addr: bind_addr.into(),
            ..ServerSettings::local(redis, internal_token)
        },
        database: DatabaseSettings::local(database_url),
        cache_ttl: Duration::from_secs(60),
        // Tests want a view's effect soon: fits as often as the interval allows.
        model_rebuild: recommend_service::schedule::RebuildRule {
            check_every: Duration::from_millis(200),
            spacing: 0,
        },
        min_profile: 3,
    }
}

pub fn rbac_settings(
    db: &TestDatabase,
    redis: &RedisSettings,
    token: &str,
    auth_url: &str,
) -> rbac_service::Settings {
    rbac_service::Settings {
        server: ServerSettings::local(redis, token),
        database: DatabaseSettings::local(&db.url),
        auth_service_url: auth_url.into(),
        admin_account: Some(ADMIN.into()),
    }
}

/// A test part's server settings (free loopback port, one worker), its spans sent to `otlp`.
fn server(redis: &RedisSettings, token: &str, otlp: &shared::otel::OtlpSettings) -> ServerSettings {
    ServerSettings {
        otlp: otlp.clone(),
        ..ServerSettings::local(redis, token)
    }
}

/// The `/metrics` URL of a part started with `METRICS_ADDR=127.0.0.1:0`.
fn metrics_url(port: Option<u16>) -> String {
    format!(
        "http://127.0.0.1:{}/metrics",
        port.expect("a metrics listener")
    )
}

/// The Alipay test keys made independently with openssl (see `fixtures/README.md`).
pub fn alipay_fixture(name: &str) -> String {
    let path = format!("{}/../fixtures/alipay/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"))
}

pub const ALIPAY_APP_ID: &str = "2021000000000001";
pub const ALIPAY_SELLER_ID: &str = "2088000000000001";

/// payment-service and a fake Alipay that notifies `public/notify` (gateway A).
async fn start_payments(
    redis: &RedisSettings,
    token: &str,
    recommend_url: &str,
    public: &str,
    otlp: &shared::otel::OtlpSettings,
) -> (String, fake_alipay::FakeAlipay, TestDatabase, Option<u16>) {
    let mut fake = fake_alipay::FakeConfig::new(
        alipay_fixture("app_public.pem"),
        alipay_fixture("alipay_private_pkcs8.pem"),
    );
    fake.app_id = ALIPAY_APP_ID.into();
    fake.seller_id = ALIPAY_SELLER_ID.into();
    fake.retry_delay = Duration::from_millis(20);
    let alipay = fake_alipay::FakeAlipay::start(fake).expect("fake Alipay starts");
    let db = TestDatabase::new();
    let app = payment_service::Application::build(payment_service::Settings {
        server: server(redis, token, otlp),
        database: DatabaseSettings::local(&db.url),
        recommend_service_url: recommend_url.into(),
        orders: payment_service::config::OrderSettings {
            payment_timeout: Duration::from_secs(1800),
            reconcile_after: Duration::from_secs(180),
            jobs_interval: Duration::from_millis(200),
            max_quantity: 20,
        },
        alipay: Some(payment_service::config::AlipaySettings {
            app_id: ALIPAY_APP_ID.into(),
            seller_id: ALIPAY_SELLER_ID.into(),
            app_private_key_pem: Secret::new(alipay_fixture("app_private_pkcs8.pem")),
            alipay_public_key_pem: alipay_fixture("alipay_public.pem"),
            gateway_url: format!("{}/gateway.do", alipay.base_url()),
            notify_url: format!("{public}/notify"),
            return_url: format!("{public}/return"),
            timeout: Duration::from_secs(5),
        }),
    })
    .await
    .expect("payment-service starts");
    let url = format!("http://127.0.0.1:{}", app.port());
    let metrics_port = app.metrics_port();
    tokio::spawn(app.run_until_stopped());
    (url, alipay, db, metrics_port)
}

/// A stack whose two gateways send `/v1/trips/*` to `replicas` (base URLs separated by
/// `|`).
pub async fn stack_with_trips_at(replicas: String) -> Stack {
    let own = vec![("/v1/trips/*".to_owned(), replicas)];
    Stack::start_with(StackOptions {
        gateway_routes: vec![own.clone(), own],
        ..Default::default()
    })
    .await
}

/// A service of raw TCP on a free loopback port, each connection handed to `serve`: its
/// base URL, and how many connections it has accepted.
pub fn start_raw_service<F, Serving>(
    serve: F,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>)
where
    F: Fn(tokio::net::TcpStream) -> Serving + Send + 'static,
    Serving: std::future::Future<Output = ()> + Send + 'static,
{
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    let accepted = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve(stream));
        }
    });
    (url, accepted)
}

/// A server answering every request with 200 and what it received (method, path, the
/// identity headers), standing in for services not under test.
pub fn start_echo() -> String {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(|| {
        App::new().default_service(actix_web::web::to(|req: HttpRequest| async move {
            let header = |name: &str| {
                req.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            HttpResponse::Ok().json(json!({
                "method": req.method().as_str(),
                "path": req.path(),
                "user_id": header("x-user-id"),
                "roles": header("x-user-roles"),
                "scopes": header(shared::identity::names::USER_SCOPES),
                "traceparent": header(shared::trace::TRACEPARENT),
            }))
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    format!("http://127.0.0.1:{port}")
}

/// One HTTP/1.1 exchange with the path sent exactly as given (HTTP clients resolve `..`
/// and `%2e` before sending; path-smuggling tests must not).
pub async fn raw_request(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (u16, String) {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request =
        format!("{method} {path} HTTP/1.1\r\nHost: waypoint\r\nConnection: close\r\n{auth}\r\n");
    raw_exchange(base, request.as_bytes()).await
}

/// Sends `request` byte for byte (malformed ones too, which HTTP clients refuse to send)
/// and returns the status and the whole response as text: head and, when it says how
/// long it is, body (a server may linger before closing after an error).
pub async fn raw_exchange(base: &str, request: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut response = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut chunk = [0u8; 8192];
    while !response_complete(&response) {
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => response.extend_from_slice(&chunk[..n]),
            Ok(_) => break,
            Err(_) => panic!("no complete response within 10 s to {base}"),
        }
    }
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// Whether `response` holds a head and as much body as its `Content-Length` announces.
fn response_complete(response: &[u8]) -> bool {
    let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    String::from_utf8_lossy(&response[..end])
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .is_some_and(|length| response.len() - end - 4 >= length)
}

/// How `cargo xtask up` and docker compose list each gateway replica in nginx's upstream
/// (see `nginx/waypoint.conf.template`).
const GATEWAY_SERVER_PARAMS: &str = "max_fails=2 fail_timeout=2s";

/// nginx in front of the given gateways, configured from the repository's template.
pub struct Nginx {
    pub base: String,
    child: Option<std::process::Child>,
    _dir: tempfile::TempDir,
}

impl Nginx {
    pub fn start(gateways: &[&str]) -> Self {
        Self::start_on(ReservedPort::new(), gateways)
    }

    /// nginx on a reserved port (for a public URL that must be known before the stack
    /// starts), released only as nginx is spawned.
    pub fn start_on(reservation: ReservedPort, gateways: &[&str]) -> Self {
        let port = reservation.port();
        let dir = tempfile::tempdir().unwrap();
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let servers: Vec<String> = gateways
            .iter()
            .map(|g| {
                let addr = g.trim_start_matches("http://");
                format!("server {addr} {GATEWAY_SERVER_PARAMS};")
            })
            .collect();
        let site = std::fs::read_to_string(format!("{root}/nginx/waypoint.conf.template"))
            .unwrap()
            .replace("${GATEWAY_SERVERS}", &servers.join(" "))
            .replace("${LISTEN}", &format!("127.0.0.1:{port}"))
            .replace("${WEB_ROOT}", &format!("{root}/nginx/welcome"));
        let tmp = dir.path().display().to_string();
        let conf = format!(
            "worker_processes 1;\npid {tmp}/nginx.pid;\nerror_log stderr error;\nevents {{ worker_connections 256; }}\n\
             http {{\n access_log off;\n client_body_temp_path {tmp};\n proxy_temp_path {tmp};\n{site}}}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
        let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("nginx");
        let conf_path = dir.path().join("nginx.conf").display().to_string();
        reservation.release();
        let child = shared::testing::spawn_tied(
            nginx,
            &[
                "-p",
                &tmp,
                "-c",
                &conf_path,
                "-e",
                "stderr",
                "-g",
                "daemon off;",
            ],
        );
        // nginx writes its pid file only once its port is bound: a port someone else took
        // in the meantime fails here instead of sending the test to a stranger.
        let pid_file = dir.path().join("nginx.pid");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !pid_file.exists() || std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            base: format!("http://127.0.0.1:{port}"),
            child: Some(child),
            _dir: dir,
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            shared::testing::stop_tied(child);
        }
    }
}

/// A concrete path for a route pattern: every `{param}` becomes `1`.
pub fn concrete(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|s| if s.starts_with('{') { "1" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// Returns once nothing listens on `addr` (a stopped replica's port, to start the next
/// one on), failing the test after 20 s.
pub async fn wait_until_closed(addr: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "{addr} never stopped listening"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
