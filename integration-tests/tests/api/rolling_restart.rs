//! A gateway leaving (SIGTERM) says so on `/readyz` before it stops listening; and a
//! deploy, short: nginx in front of two gateways in front of two recommend-service
//! replicas, under a steady load of reads and idempotent writes, each recommend replica
//! then each gateway stopped (the drained way, as on SIGTERM) and started again in turn.
//! Not one request may fail. (`cargo xtask rolling-restart` restarts every part of a
//! fleet of processes under a heavier load.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use shared::testing::{ReservedPort, TestDatabase};

use crate::helpers::{Nginx, Stack, StackOptions, recommend_settings, wait_until_closed};
use crate::trip_catalog::create_trip;

/// The load's bounds, whatever happens to the restarts.
const MAX_REQUESTS: usize = 4_000;
const MAX_LOAD_TIME: Duration = Duration::from_secs(120);

async fn start_replica(stack: &Stack, port: u16, db: &TestDatabase) -> shared::server::Stopper {
    let settings = recommend_settings(
        &format!("127.0.0.1:{port}"),
        &db.url,
        &stack.redis_settings,
        &stack.internal_token,
    );
    let app = recommend_service::Application::build(settings)
        .await
        .expect("recommend-service starts");
    let stopper = app.stopper();
    tokio::spawn(app.run_until_stopped());
    stopper
}

/// What the load saw: requests sent, and each failure (a 5xx or no answer).
#[derive(Default)]
struct Tally {
    sent: usize,
    failures: Vec<String>,
}

#[tokio::test]
async fn restarting_each_replica_in_turn_fails_no_request() {
    let reserved = [ReservedPort::new(), ReservedPort::new()];
    let ports = [reserved[0].port(), reserved[1].port()];
    let replicas = format!(
        "http://127.0.0.1:{}|http://127.0.0.1:{}",
        ports[0], ports[1]
    );
    let own = vec![("/v1/trips/*".to_owned(), replicas)];
    let stack = Arc::new(
        Stack::start_with(StackOptions {
            gateway_routes: vec![own.clone(), own],
            ..Default::default()
        })
        .await,
    );
    let db = TestDatabase::new();
    for reservation in reserved {
        reservation.release();
    }
    let mut stoppers = Vec::new();
    for port in ports {
        stoppers.push(start_replica(&stack, port, &db).await);
    }
    let trip = create_trip(&stack, &stack.admin_token, "Tiger Leaping Gorge", 9_900).await;
    let favourite = format!("/v1/trips/{}/favourite", trip["id"]);
    let alice = stack.sign_up_and_in("alice").await;

    let nginx = Nginx::start(&[stack.gw(0), stack.gw(1)]);
    let (trips, favourite) = (
        format!("{}/v1/trips", nginx.base),
        format!("{}{favourite}", nginx.base),
    );

    let done = Arc::new(AtomicBool::new(false));
    let load = {
        let (stack, done) = (stack.clone(), done.clone());
        tokio::spawn(async move {
            let mut tally = Tally::default();
            let started = Instant::now();
            while !done.load(Ordering::Relaxed)
                && tally.sent < MAX_REQUESTS
                && started.elapsed() < MAX_LOAD_TIME
            {
                let i = tally.sent;
                let request = if i % 2 == 0 {
                    stack.http.get(&trips)
                } else {
                    stack
                        .http
                        .post(&favourite)
                        .bearer_auth(&alice.access_token)
                        .header("Idempotency-Key", format!("fav-{i}"))
                };
                tally.sent += 1;
                match request.send().await {
                    Ok(r) if r.status().is_server_error() => {
                        let status = r.status();
                        let body = r.text().await.unwrap_or_default();
                        tally.failures.push(format!("#{i}: {status} {body}"));
                    }
                    Ok(r) => assert!(
                        matches!(r.status(), StatusCode::OK | StatusCode::NO_CONTENT),
                        "#{i}: {}",
                        r.status()
                    ),
                    Err(err) => tally.failures.push(format!("#{i}: {err}")),
                }
            }
            tally
        })
    };

    tokio::time::sleep(Duration::from_millis(300)).await;
    for (replica, port) in ports.into_iter().enumerate() {
        let stopping = {
            let stopper = stoppers[replica].clone();
            tokio::spawn(async move { stopper.stop().await })
        };
        // Its listener closes after the grace; a new process takes the port then, while
        // the old one finishes what it had.
        wait_until_closed(&format!("127.0.0.1:{port}")).await;
        stoppers[replica] = start_replica(&stack, port, &db).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        drop(stopping);
    }
    for gateway in 0..2 {
        stack.restart_gateway(gateway).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    done.store(true, Ordering::Relaxed);
    let tally = load.await.unwrap();
    assert!(tally.sent >= 20, "the load ran: {} requests", tally.sent);
    assert!(
        tally.failures.is_empty(),
        "{} of {} requests failed: {:?}",
        tally.failures.len(),
        tally.sent,
        tally.failures
    );
}

#[tokio::test]
async fn a_stopping_gateway_is_unready_before_its_listener_closes() {
    let stack = Stack::start().await;
    let gateway = stack.gw(1).to_owned();
    let stopper = stack.gateway_stopper(1);
    let started = Instant::now();
    let stopping = tokio::spawn(async move { stopper.stop().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let readyz = stack
        .http
        .get(format!("{gateway}/readyz"))
        .send()
        .await
        .expect("still listening during the grace");
    assert_eq!(readyz.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(readyz.headers()["connection"], "close");
    let body: serde_json::Value = readyz.json().await.unwrap();
    assert_eq!(body["checks"]["draining"], "down");
    // Meanwhile it still serves, and the other gateway is unaffected.
    let (status, _) = stack.call(1, Method::GET, "/v1/trips", None, None).await;
    assert_ne!(status, StatusCode::NOT_FOUND);
    let ready = stack
        .http
        .get(format!("{}/readyz", stack.gw(0)))
        .send()
        .await;
    assert_eq!(ready.unwrap().status(), StatusCode::OK);

    tokio::time::timeout(Duration::from_secs(30), stopping)
        .await
        .expect("stopped within grace and timeout")
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the grace was kept"
    );
    assert!(
        stack
            .http
            .get(format!("{gateway}/readyz"))
            .send()
            .await
            .is_err()
    );
}
