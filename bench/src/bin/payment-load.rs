//! `bench/payment`: RSA2 notification verifications per second, and orders created per
//! second through a real gateway (in-process: auth-service, rbac-service, gateway,
//! payment-service, a stub recommend-service; private redis-server; SQLite). Numbers only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use payment_service::alipay::{AppPrivateKey, Params, PublicKey};
use payment_service::config::{AlipaySettings, OrderSettings};
use serde_json::json;
use shared::config::{DatabaseSettings, RedisSettings, Secret, ServerSettings};
use shared::testing::{RedisServer, TestDatabase};

const SECONDS: u64 = 5;
const CONCURRENCY: usize = 32;

#[tokio::main]
async fn main() {
    verify_rate();
    orders_rate().await;
}

/// Parse + verify + merchant checks of a realistic notification, on one core.
fn verify_rate() {
    let alipay_pem = AppPrivateKey::generate_pem().unwrap();
    let alipay = AppPrivateKey::from_pem(&alipay_pem).unwrap();
    let public = PublicKey::from_pem(&alipay.public_key_pem().unwrap()).unwrap();
    let mut form: Vec<(String, String)> = [
        ("gmt_create", "2026-11-26 20:31:02"),
        ("charset", "utf-8"),
        ("gmt_payment", "2026-11-26 20:31:09"),
        ("notify_time", "2026-11-26 20:31:10"),
        ("subject", "丽江古城三日游 ×2"),
        ("sign_type", "RSA2"),
        ("buyer_id", "2088102177846880"),
        ("invoice_amount", "1776.00"),
        ("version", "1.0"),
        ("notify_id", "2026112600222203109046880510000001"),
        ("notify_type", "trade_status_sync"),
        ("out_trade_no", "WP20261126000001"),
        ("total_amount", "1776.00"),
        ("trade_status", "TRADE_SUCCESS"),
        ("trade_no", "2026112622001446880500000001"),
        ("auth_app_id", "2021000000000001"),
        ("receipt_amount", "1776.00"),
        ("point_amount", "0.00"),
        ("app_id", "2021000000000001"),
        ("buyer_pay_amount", "1776.00"),
        ("seller_id", "2088000000000001"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let text = payment_service::alipay::sign::signing_string(
        form.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        payment_service::alipay::sign::NOTIFY_UNSIGNED,
    );
    form.push(("sign".into(), alipay.sign(text.as_bytes()).unwrap()));
    let body = serde_urlencoded::to_string(&form).unwrap();
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < Duration::from_secs(SECONDS) {
        for _ in 0..100 {
            Params::parse(body.as_bytes())
                .unwrap()
                .into_notification(&public, "2021000000000001", "2088000000000001")
                .unwrap();
        }
        n += 100;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    println!("notifications verified (parse + RSA2-2048 verify + checks), 1 thread: {rate:.0}/s");
}

async fn orders_rate() {
    let redis = RedisServer::start();
    let settings = redis.settings();
    let token = shared::random::token_hex(16);
    let recommend = stub_recommend();
    let payment_db = TestDatabase::new();
    let app_key = AppPrivateKey::generate_pem().unwrap();
    let alipay_public = AppPrivateKey::from_pem(&AppPrivateKey::generate_pem().unwrap())
        .unwrap()
        .public_key_pem()
        .unwrap();
    let payment = payment_service::Application::build(payment_service::Settings {
        server: server(&settings, &token, 2),
        database: DatabaseSettings {
            url: payment_db.url.clone(),
            pool_size: 8,
        },
        recommend_service_url: recommend.clone(),
        orders: OrderSettings {
            payment_timeout: Duration::from_secs(1800),
            reconcile_after: Duration::from_secs(180),
            jobs_interval: Duration::from_secs(3600),
            max_quantity: 20,
        },
        alipay: Some(AlipaySettings {
            app_id: "2021000000000001".into(),
            seller_id: "2088000000000001".into(),
            app_private_key_pem: Secret::new(app_key),
            alipay_public_key_pem: alipay_public,
            gateway_url: "http://127.0.0.1:9/gateway.do".into(),
            notify_url: "http://127.0.0.1:9/notify".into(),
            return_url: "http://127.0.0.1:9/return".into(),
            timeout: Duration::from_secs(1),
        }),
    })
    .await
    .unwrap();
    let payment_url = format!("http://127.0.0.1:{}", payment.port());
    tokio::spawn(payment.run_until_stopped());

    let auth_db = TestDatabase::new();
    let auth = auth_service::Application::build(auth_service::Settings {
        server: server(&settings, &token, 1),
        database: DatabaseSettings {
            url: auth_db.url.clone(),
            pool_size: 4,
        },
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
            refresh_grace: Duration::from_secs(30),
        },
        throttle: auth_service::config::ThrottleSettings {
            max_failures_per_account: 5,
            max_failures_per_ip: 20,
            window: Duration::from_secs(900),
        },
        admin: None,
        wechat: None,
    })
    .await
    .unwrap();
    let auth_url = format!("http://127.0.0.1:{}", auth.port());
    tokio::spawn(auth.run_until_stopped());
    let rbac_db = TestDatabase::new();
    let rbac = rbac_service::Application::build(rbac_service::Settings {
        server: server(&settings, &token, 1),
        database: DatabaseSettings {
            url: rbac_db.url.clone(),
            pool_size: 4,
        },
        auth_service_url: auth_url.clone(),
        admin_account: None,
    })
    .await
    .unwrap();
    let rbac_url = format!("http://127.0.0.1:{}", rbac.port());
    tokio::spawn(rbac.run_until_stopped());
    let services = gateway::config::ServiceUrls {
        auth: auth_url,
        rbac: rbac_url,
        payment: payment_url,
        recommend: recommend.clone(),
        chat: "http://127.0.0.1:9".into(),
    };
    let gw = gateway::Application::build(gateway::Settings {
        server: server(&settings, &token, 2),
        routes: gateway::config::default_routes(&services),
        services,
        jwt_issuer: shared::token::DEFAULT_ISSUER.into(),
        jwt_audience: shared::token::DEFAULT_AUDIENCE.into(),
        jwt_leeway: Duration::from_secs(30),
        jwks_refresh_interval: Duration::from_secs(300),
        upstream_timeout: Duration::from_secs(10),
        client_idle_timeout: shared::server::KEEP_ALIVE,
        trusted_proxies: gateway::client_ip::TrustedProxies::none(),
        rate_limits: gateway::ratelimit::RateLimits::default(),
        policy_pubsub: true,
        session_cache: Default::default(),
        docs_dir: "docs".into(),
    })
    .await
    .unwrap();
    let base = format!("http://127.0.0.1:{}", gw.port());
    tokio::spawn(gw.run_until_stopped());

    let http = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..200 {
        if matches!(http.get(format!("{base}/readyz")).send().await, Ok(r) if r.status() == 200) {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(ready, "the gateway did not become ready");
    let password = "correct horse battery";
    http.post(format!("{base}/v1/auth/register"))
        .json(&json!({"account": "bench", "name": "Bench", "email": "bench@example.com", "password": password}))
        .send()
        .await
        .unwrap();
    let login: serde_json::Value = http
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"account": "bench", "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = Arc::new(login["access_token"].as_str().unwrap().to_owned());

    let created = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(SECONDS);
    let started = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (http, base, token) = (http.clone(), base.clone(), token.clone());
            let (created, failed) = (created.clone(), failed.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let response = http
                        .post(format!("{base}/v1/orders"))
                        .bearer_auth(&*token)
                        .json(&json!({"trip_id": 7, "quantity": 1}))
                        .send()
                        .await;
                    match response {
                        Ok(r) if r.status() == 201 => created.fetch_add(1, Ordering::Relaxed),
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    let ok = created.load(Ordering::Relaxed);
    println!(
        "orders created through the gateway ({CONCURRENCY} concurrent, {SECONDS}s, SQLite): {:.0}/s ({ok} created, {} failed)",
        ok as f64 / secs,
        failed.load(Ordering::Relaxed)
    );
}

/// recommend-service's trip endpoint, answering one trip.
/// A part of the bench's stack: a free loopback port, no metrics listener.
fn server(redis: &RedisSettings, token: &str, workers: usize) -> ServerSettings {
    ServerSettings {
        metrics_addr: None,
        workers,
        ..ServerSettings::local(redis, token)
    }
}

fn stub_recommend() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let server = HttpServer::new(|| {
        App::new().route(
            "/internal/trips/{id}",
            web::get().to(|| async {
                HttpResponse::Ok().json(json!({"id": 7, "title": "丽江古城三日游", "destination": "Lijiang", "price_cents": 88800, "status": "on_sale"}))
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    url
}
