//! The trip cache: the stale-set race forced deterministically, single flight, and
//! reads surviving a Redis outage.

use std::sync::{Arc, Mutex};

use recommend_service::cache::{CacheMode, FillHook};
use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::sync::oneshot;

use crate::helpers::{ADMIN, Options, TestApp, Who, error_code, spawn_app, spawn_with};

/// A hook that, the first time a reader reaches it, reports `loaded` and waits for
/// `release`.
fn pause_once() -> (FillHook, oneshot::Receiver<()>, oneshot::Sender<()>) {
    let (loaded_tx, loaded_rx) = oneshot::channel::<()>();
    let (release_tx, release_rx) = oneshot::channel::<()>();
    let once = Arc::new(Mutex::new(Some((loaded_tx, release_rx))));
    let hook: FillHook = Arc::new(move |_| {
        let taken = once.lock().unwrap().take();
        Box::pin(async move {
            if let Some((loaded, release)) = taken {
                let _ = loaded.send(());
                let _ = release.await;
            }
        })
    });
    (hook, loaded_rx, release_tx)
}

/// A reader loads the old row, a writer updates (and invalidates), then the reader
/// stores what it loaded. Returns the title served afterwards.
async fn stale_set_interleaving(app: &TestApp) -> String {
    let id = app.trip("Old title", "Lijiang", 100_000).await;
    let path = format!("/v1/trips/{id}");
    let (hook, loaded, release) = pause_once();
    app.ctx.cache().set_fill_hook(Some(hook));

    let reader = tokio::spawn(app.request(Method::GET, &path, Who::Anonymous).send());
    loaded.await.unwrap();
    let (status, body) = app
        .call(
            Method::PATCH,
            &path,
            ADMIN,
            Some(json!({ "title": "New title" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    release.send(()).unwrap();
    let first = reader
        .await
        .unwrap()
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(
        first["title"], "Old title",
        "the reader began before the update"
    );
    app.ctx.cache().set_fill_hook(None);

    let (status, body) = app.get(&path, Who::Anonymous).await;
    assert_eq!(status, StatusCode::OK);
    body["title"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn naive_cache_aside_keeps_a_stale_trip_after_the_stale_set_interleaving() {
    let app = spawn_with(Options {
        mode: CacheMode::Naive,
        ..Options::default()
    })
    .await;
    assert_eq!(
        stale_set_interleaving(&app).await,
        "Old title",
        "the naive scheme is stale"
    );
}

#[tokio::test]
async fn the_versioned_cache_serves_the_update_after_the_stale_set_interleaving() {
    let app = spawn_app().await;
    assert_eq!(stale_set_interleaving(&app).await, "New title");
    let entry = app.ctx.cache().raw_entry(1).await.unwrap().unwrap();
    assert!(
        entry.contains("New title") && !entry.contains("Old title"),
        "{entry}"
    );
}

#[tokio::test]
async fn two_hundred_readers_of_an_expired_hot_trip_cause_one_database_read() {
    let app = spawn_app().await;
    let id = app.trip("Hot trip", "Dali", 50_000).await;
    let (status, _) = app.get(&format!("/v1/trips/{id}"), Who::Anonymous).await;
    assert_eq!(status, StatusCode::OK);
    // The entry expires.
    let key = app.ctx.redis().key(format_args!("trip:{id}"));
    let _: i64 = app
        .ctx
        .redis()
        .query(redis::cmd("DEL").arg(&key))
        .await
        .unwrap();

    let (hook, loaded, release) = pause_once();
    app.ctx.cache().set_fill_hook(Some(hook));
    let before = app.ctx.cache().db_loads();
    let readers: Vec<_> = (0..200)
        .map(|_| {
            let ctx = app.ctx.clone();
            tokio::spawn(async move { ctx.cache().get(id).await })
        })
        .collect();
    loaded.await.unwrap();
    // The leader holds its load open until every reader is waiting on it.
    while app.ctx.cache().waiting(id) < 200 {
        tokio::task::yield_now().await;
    }
    release.send(()).unwrap();
    for reader in readers {
        let trip = reader.await.unwrap().unwrap().unwrap();
        assert_eq!(trip.title, "Hot trip");
    }
    assert_eq!(app.ctx.cache().db_loads() - before, 1);
}

#[tokio::test]
async fn with_redis_down_reads_come_from_the_database_and_writes_are_refused_unchanged() {
    let mut app = spawn_with(Options {
        private_redis: true,
        ..Options::default()
    })
    .await;
    let id = app.trip("Shaxi market", "Dali", 40_000).await;
    let path = format!("/v1/trips/{id}");
    assert_eq!(app.get(&path, Who::Anonymous).await.0, StatusCode::OK);

    app.redis.as_mut().unwrap().stop();
    let (status, trip) = app.get(&path, Who::Anonymous).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(trip["title"], "Shaxi market");
    assert_eq!(app.get("/v1/trips", Who::Anonymous).await.0, StatusCode::OK);
    let (status, ready) = app.get("/readyz", Who::Outsider).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready["checks"]["redis"], "down");

    let (status, body) = app
        .call(
            Method::PATCH,
            &path,
            ADMIN,
            Some(json!({ "title": "Renamed" })),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(error_code(&body), "cache_unavailable");
    assert_eq!(
        app.get(&path, Who::Anonymous).await.1["title"],
        "Shaxi market",
        "nothing changed"
    );

    app.redis.as_mut().unwrap().restart();
    // The connection comes back by itself (with back-off), without a restart.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (status, body) = app
            .call(
                Method::PATCH,
                &path,
                ADMIN,
                Some(json!({ "title": "Renamed" })),
            )
            .await;
        if status == StatusCode::OK {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "did not recover: {status} {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(app.get(&path, Who::Anonymous).await.1["title"], "Renamed");
}
