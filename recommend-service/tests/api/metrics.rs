//! recommend-service's own metrics, read with a real parser of the exposition after real
//! traffic: trip cache outcomes, refused fills, rebuilds, their time and the model version.

use reqwest::StatusCode;
use shared::testing::Scraped;

use crate::cache::stale_set_interleaving;
use crate::helpers::{TestApp, Who, spawn_app, traveller};

async fn scrape(app: &TestApp) -> Scraped {
    let response = app.http.get(&app.metrics_url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    Scraped::parse(&response.text().await.unwrap())
}

const CACHE: &str = "recommend_trip_cache_total";

#[tokio::test]
async fn trip_reads_count_a_miss_then_a_hit() {
    let app = spawn_app().await;
    let id = app.trip("Tiger Leaping Gorge", "Lijiang", 90_000).await;
    let before = scrape(&app).await;
    for _ in 0..2 {
        let (status, _) = app.get(&format!("/v1/trips/{id}"), Who::Anonymous).await;
        assert_eq!(status, StatusCode::OK);
    }
    let after = scrape(&app).await;
    for result in ["miss", "hit"] {
        let moved =
            after.value(CACHE, &[("result", result)]) - before.value(CACHE, &[("result", result)]);
        assert_eq!(moved, 1.0, "{result}");
    }
    assert_eq!(after.value(CACHE, &[("result", "fill_refused")]), 0.0);
}

#[tokio::test]
async fn a_fill_refused_for_a_newer_version_is_counted() {
    let app = spawn_app().await;
    assert_eq!(stale_set_interleaving(&app).await, "New title");
    let after = scrape(&app).await;
    assert_eq!(after.value(CACHE, &[("result", "fill_refused")]), 1.0);
}

#[tokio::test]
async fn rebuilds_report_their_count_time_and_the_served_version() {
    let app = spawn_app().await;
    let trip = app.trip("Erhai Lake", "Dali", 50_000).await;
    app.rate(7, trip, 5).await;
    let first = app.rebuild().await;
    let second = app.rebuild().await;
    assert_eq!(second["version"], first["version"].as_u64().unwrap() + 1);
    let scraped = scrape(&app).await;
    let rebuilds = scraped.value("recommend_model_rebuilds_total", &[("outcome", "ok")]);
    // The background loop may have rebuilt once at start as well.
    assert!(rebuilds >= 2.0, "{rebuilds}");
    assert_eq!(
        scraped.value("recommend_model_fit_seconds_count", &[("outcome", "ok")]),
        rebuilds,
        "one observation per rebuild"
    );
    let (status, body) = app.get("/v1/recommendations", traveller(7)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let version = scraped.value("recommend_model_version", &[]);
    assert_eq!(version, second["version"].as_f64().unwrap());
    assert_eq!(body["model_version"].as_f64().unwrap(), version);
}
