//! The trip cache: the stale-set race forced deterministically, single flight, and
//! reads surviving a Redis outage.

use std::sync::{Arc, Mutex};

use recommend_service::cache::{CacheMode, FillHook, WriteHook, WriteStep};
use recommend_service::models::Trip;
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

/// Renames the trip at `path` as an admin.
async fn rename(app: &TestApp, path: &str, title: &str) -> (StatusCode, serde_json::Value) {
    app.call(Method::PATCH, path, ADMIN, Some(json!({ "title": title })))
        .await
}

/// A reader loads the old row, a writer updates (and invalidates), then the reader
/// stores what it loaded. Returns the title served afterwards.
pub async fn stale_set_interleaving(app: &TestApp) -> String {
    let id = app.trip("Old title", "Lijiang", 100_000).await;
    let path = format!("/v1/trips/{id}");
    let (hook, loaded, release) = pause_once();
    app.ctx.cache().set_fill_hook(Some(hook));

    let reader = tokio::spawn(app.request(Method::GET, &path, Who::Anonymous).send());
    loaded.await.unwrap();
    let (status, body) = rename(app, &path, "New title").await;
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

/// A meeting point in a writer: the test hears when the writer arrives and tells it when
/// to go on.
struct Stop {
    arrived: oneshot::Receiver<()>,
    go: oneshot::Sender<()>,
}

fn stop() -> (Stop, (oneshot::Sender<()>, oneshot::Receiver<()>)) {
    let (arrived_tx, arrived) = oneshot::channel();
    let (go, go_rx) = oneshot::channel();
    (Stop { arrived, go }, (arrived_tx, go_rx))
}

/// Stops the first writer to set its pre-commit fence, and the second writer to commit.
fn stop_first_fence_and_second_commit() -> (WriteHook, Stop, Stop) {
    let (fenced, fenced_side) = stop();
    let (committed, committed_side) = stop();
    let fenced_side = Arc::new(Mutex::new(Some(fenced_side)));
    let committed_side = Arc::new(Mutex::new(Some(committed_side)));
    let commits = Arc::new(Mutex::new(0));
    let hook: WriteHook = Arc::new(move |step, _| {
        let taken = match step {
            WriteStep::Fenced => fenced_side.lock().unwrap().take(),
            WriteStep::Committed => {
                let mut commits = commits.lock().unwrap();
                *commits += 1;
                if *commits == 2 {
                    committed_side.lock().unwrap().take()
                } else {
                    None
                }
            }
        };
        Box::pin(async move {
            if let Some((arrived, go)) = taken {
                let _ = arrived.send(());
                let _ = go.await;
            }
        })
    });
    (hook, fenced, committed)
}

/// Two admins change a trip at once; Redis goes away just after the second commits, so
/// nothing that writer does after its commit reaches the cache. A reader that loaded the
/// first admin's version in between must not be able to cache it.
#[tokio::test]
async fn a_reader_between_two_writers_cannot_cache_the_first_when_redis_fails_after_the_second() {
    let mut app = spawn_with(Options {
        private_redis: true,
        ..Options::default()
    })
    .await;
    let id = app.trip("Original", "Lijiang", 100_000).await;
    let path = format!("/v1/trips/{id}");
    let (write_hook, second_fenced, second_committed) = stop_first_fence_and_second_commit();
    app.ctx.cache().set_write_hook(Some(write_hook));
    let send_rename = |title: &'static str| {
        app.request(Method::PATCH, &path, ADMIN)
            .json(&json!({ "title": title }))
            .send()
    };

    // The second writer fences while the trip is at its first version, then waits.
    let second = tokio::spawn(send_rename("Second"));
    second_fenced.arrived.await.unwrap();
    // The first writer fences and commits in full.
    let first = send_rename("First").await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    // A reader misses and loads the first writer's version.
    let (fill_hook, loaded, release_reader) = pause_once();
    app.ctx.cache().set_fill_hook(Some(fill_hook));
    let reader = tokio::spawn(app.request(Method::GET, &path, Who::Anonymous).send());
    loaded.await.unwrap();
    // The second writer commits; Redis restarts (keeping its data) before it goes on.
    second_fenced.go.send(()).unwrap();
    second_committed.arrived.await.unwrap();
    let redis = app.redis.as_mut().unwrap();
    assert!(redis.command(&["SAVE"]).contains("OK"));
    redis.stop();
    second_committed.go.send(()).unwrap();
    let second = second.await.unwrap().unwrap();
    assert_eq!(second.status(), StatusCode::OK);
    app.redis.as_mut().unwrap().restart();
    wait_for_redis(&app).await;
    // The reader now offers the first writer's version to the cache.
    release_reader.send(()).unwrap();
    let read = reader.await.unwrap().unwrap();
    assert_eq!(
        read.json::<serde_json::Value>().await.unwrap()["title"],
        "First"
    );
    app.ctx.cache().set_fill_hook(None);
    app.ctx.cache().set_write_hook(None);

    let (status, body) = app.get(&path, Who::Anonymous).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["title"], "Second",
        "the cache must not serve the first version"
    );
}

/// A writer overtaken by other commits after every fence gives up rather than commit a
/// version its fence does not cover.
#[tokio::test]
async fn a_writer_overtaken_after_every_fence_is_refused_with_503_and_changes_nothing() {
    let app = spawn_app().await;
    let id = app.trip("Original", "Lijiang", 100_000).await;
    let ctx = app.ctx.clone();
    let overtake: WriteHook = Arc::new(move |step, id| {
        let ctx = ctx.clone();
        Box::pin(async move {
            if step == WriteStep::Fenced {
                // Another change commits between this writer's fence and its transaction.
                ctx.db()
                    .run(move |conn| Ok(Trip::refresh_rating(conn, id)?))
                    .await
                    .unwrap();
            }
        })
    });
    app.ctx.cache().set_write_hook(Some(overtake));
    let path = format!("/v1/trips/{id}");
    let (status, body) = rename(&app, &path, "Renamed").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(error_code(&body), "trip_busy");
    app.ctx.cache().set_write_hook(None);
    assert_eq!(app.get(&path, Who::Anonymous).await.1["title"], "Original");
}

/// Polls until the service's own Redis connection answers again.
async fn wait_for_redis(app: &TestApp) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app
        .ctx
        .redis()
        .query::<String>(&redis::cmd("PING"))
        .await
        .is_err()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "Redis did not come back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
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

    let (status, body) = rename(&app, &path, "Renamed").await;
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
        let (status, body) = rename(&app, &path, "Renamed").await;
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
