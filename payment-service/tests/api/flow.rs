//! The whole way through a real gateway and auth-service: a traveller orders, pays at
//! the (fake) Alipay cashier, Alipay notifies through the gateway's public route, the
//! browser returns; another traveller sees nothing of it.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::config::Secret;
use shared::testing::{RedisServer, TestDatabase, free_port};

use crate::fake_recommend::TRIP;
use crate::helpers::{TestApp, TestOptions, error_code, read};

struct Edge {
    gateway: String,
    http: reqwest::Client,
    _auth_db: TestDatabase,
}

impl Edge {
    async fn start(gateway_port: u16, app: &TestApp) -> Self {
        let redis = RedisServer::shared().settings();
        let auth_db = TestDatabase::new();
        let auth = auth_service::Application::build(auth_service::Settings {
            bind_addr: "127.0.0.1:0".into(),
            workers: 1,
            database_url: auth_db.url.clone(),
            database_pool_size: 4,
            redis: redis.clone(),
            internal_token: Secret::new(app.token.clone()),
            jwt: auth_service::config::JwtSettings {
                private_key_pem: Some(Secret::new(auth_service::keys::generate_pem().unwrap())),
                private_key_file: "unused".into(),
                issuer: shared::token::DEFAULT_ISSUER.into(),
                audience: shared::token::DEFAULT_AUDIENCE.into(),
                access_token_ttl: Duration::from_secs(900),
            },
            sessions: auth_service::config::SessionSettings {
                idle_timeout: Duration::from_secs(1800),
                absolute_lifetime: Duration::from_secs(86_400),
            },
            throttle: auth_service::config::ThrottleSettings {
                max_failures_per_account: 5,
                max_failures_per_ip: 20,
                window: Duration::from_secs(900),
            },
            admin: None,
        })
        .await
        .unwrap();
        let auth_url = format!("http://127.0.0.1:{}", auth.port());
        tokio::spawn(auth.run_until_stopped());
        let mut routes = gateway::config::default_routes(&auth_url);
        routes.extend(gateway::config::payment_routes(&app.base));
        let gw = gateway::Application::build(gateway::Settings {
            bind_addr: format!("127.0.0.1:{gateway_port}"),
            workers: 1,
            redis,
            internal_token: Secret::new(app.token.clone()),
            auth_service_url: auth_url,
            routes,
            jwt_issuer: shared::token::DEFAULT_ISSUER.into(),
            jwt_audience: shared::token::DEFAULT_AUDIENCE.into(),
            jwt_leeway: Duration::from_secs(30),
            jwks_refresh_interval: Duration::from_secs(300),
            upstream_timeout: Duration::from_secs(10),
            trusted_proxies: 0,
        })
        .await
        .unwrap();
        tokio::spawn(gw.run_until_stopped());
        let edge = Self {
            gateway: format!("http://127.0.0.1:{gateway_port}"),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            _auth_db: auth_db,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !matches!(edge.http.get(format!("{}/readyz", edge.gateway)).send().await, Ok(r) if r.status() == 200)
        {
            assert!(
                Instant::now() < deadline,
                "the gateway did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        edge
    }

    async fn sign_up(&self, account: &str) -> String {
        let password = "correct horse battery";
        let (status, body) = self
            .send(
                reqwest::Method::POST,
                "/v1/auth/register",
                None,
                Some(json!({
                    "account": account, "name": account,
                    "email": format!("{account}@example.com"), "password": password,
                })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = self
            .send(
                reqwest::Method::POST,
                "/v1/auth/login",
                None,
                Some(json!({"account": account, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.gateway));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await.unwrap()).await
    }
}

#[tokio::test]
async fn a_traveller_orders_pays_at_the_cashier_and_the_notification_through_the_gateway_marks_it_paid()
 {
    let gateway_port = free_port();
    let app = TestApp::spawn_with(TestOptions {
        public_base: Some(format!("http://127.0.0.1:{gateway_port}")),
        ..TestOptions::default()
    })
    .await;
    let edge = Edge::start(gateway_port, &app).await;
    let lily = edge.sign_up("lily").await;
    let mallory = edge.sign_up("mallory").await;

    let (status, order) = edge
        .send(
            reqwest::Method::POST,
            "/v1/orders",
            Some(&lily),
            Some(json!({"trip_id": TRIP, "quantity": 2})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let id = order["id"].as_i64().unwrap();
    let no = order["out_trade_no"].as_str().unwrap().to_owned();
    let (status, pay) = edge
        .send(
            reqwest::Method::POST,
            &format!("/v1/orders/{id}/pay"),
            Some(&lily),
            Some(json!({"channel": "page"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{pay}");

    // The buyer's browser: the cashier page, then the Pay button.
    let cashier = edge
        .http
        .get(pay["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(cashier.text().await.unwrap().contains("Pay ¥1776.00"));
    let paid = edge
        .http
        .post(format!("{}/cashier/pay", app.alipay.base_url()))
        .form(&[("out_trade_no", no.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), StatusCode::SEE_OTHER);
    let return_url = paid.headers()["location"].to_str().unwrap().to_owned();
    assert!(return_url.starts_with(&format!("{}/v1/payments/alipay/return?", edge.gateway)));

    // Alipay's notification arrives through the gateway's public route; then its duplicate.
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.alipay.attempts(&no).len() < 2 {
        assert!(
            Instant::now() < deadline,
            "no notification: {:?}",
            app.alipay.attempts(&no)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        app.alipay
            .attempts(&no)
            .iter()
            .all(|a| a.answer == "success")
    );
    let (status, seen) = edge
        .send(
            reqwest::Method::GET,
            &format!("/v1/orders/{id}"),
            Some(&lily),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seen["status"], "paid");
    assert_eq!(app.events(id, "paid").await, 1);

    // The browser's return, without a token: the state, never a change by itself.
    let back = edge
        .http
        .get(&return_url)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), StatusCode::OK);
    assert!(back.text().await.unwrap().contains("Payment received"));
    let (status, body) = read(edge.http.get(&return_url).send().await.unwrap()).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("paid"))
    );
    let forged = return_url.replace("total_amount=1776.00", "total_amount=0.01");
    let (status, body) = read(edge.http.get(&forged).send().await.unwrap()).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_signature")
    );

    // Another traveller: 404, as if it did not exist; without a token: 401.
    for path in [
        format!("/v1/orders/{id}"),
        format!("/v1/orders/{id}/cancel"),
    ] {
        let method = if path.ends_with("cancel") {
            reqwest::Method::POST
        } else {
            reqwest::Method::GET
        };
        let (status, body) = edge.send(method, &path, Some(&mallory), None).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
    }
    let (_, list) = edge
        .send(reqwest::Method::GET, "/v1/orders", Some(&mallory), None)
        .await;
    assert_eq!(list["count"], 0);
    let (status, _) = edge
        .send(reqwest::Method::GET, "/v1/orders", None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
