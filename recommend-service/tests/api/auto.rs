//! `strategy=auto` serves the ranking that won on the service's own held-out data (each
//! traveller's most recent ratings), and the model's version info and metrics say which
//! won and by how much.

use std::collections::BTreeSet;

use recommend_service::models::{NewRating, NewTrip};
use recommend_service::ranking::Source;
use recommend_service::recommend::Strategy;
use recommend_service::recommend::generate::{Generated, blockbusters, bundles, twins};
use recommend_service::schema::{ratings, trips};
use reqwest::StatusCode;
use serde_json::Value as Json;
use shared::ApiError;
use shared::db::write_transaction;
use shared::testing::Scraped;

use crate::helpers::{TestApp, error_code, spawn_app, traveller};
use crate::recommendations::trip_ids;

/// Writes `data` as on-sale trips and ratings given at their timestamps.
async fn seed(app: &TestApp, data: Vec<Generated>) {
    use diesel::prelude::*;
    let ids: BTreeSet<i64> = data.iter().map(|g| g.item).collect();
    app.ctx
        .db()
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let now = shared::time::now();
                for id in ids {
                    diesel::insert_into(trips::table)
                        .values(NewTrip {
                            id: Some(id),
                            title: format!("Trip {id}"),
                            destination: "Yunnan".into(),
                            description: String::new(),
                            price_cents: 10_000,
                            duration_days: 3,
                            tags: "[]".into(),
                            status: "on_sale".into(),
                            created_at: now,
                            updated_at: now,
                        })
                        .execute(conn)?;
                }
                for g in &data {
                    let at = chrono::DateTime::from_timestamp(g.timestamp, 0)
                        .unwrap()
                        .naive_utc();
                    diesel::insert_into(ratings::table)
                        .values(NewRating {
                            user_id: g.user,
                            trip_id: g.item,
                            score: i32::from(g.stars),
                            created_at: at,
                            updated_at: at,
                        })
                        .execute(conn)?;
                }
                Ok::<_, ApiError>(())
            })
        })
        .await
        .unwrap();
}

async fn scrape(app: &TestApp) -> Scraped {
    let response = app.http.get(&app.metrics_url).send().await.unwrap();
    Scraped::parse(&response.text().await.unwrap())
}

/// The one sample of a gauge (of one strategy).
fn gauge(scraped: &Scraped, metric: &str, strategy: Option<&str>) -> f64 {
    let samples = scraped
        .samples()
        .iter()
        .filter(|s| s.metric == metric)
        .filter(|s| strategy.is_none_or(|v| s.labels.get("strategy") == Some(v)))
        .count();
    assert_eq!(samples, 1, "{metric} {strategy:?}");
    let labels: Vec<(&str, &str)> = strategy.map(|v| ("strategy", v)).into_iter().collect();
    scraped.value(metric, &labels)
}

/// What the rebuild report, a list and the metrics say about auto's choice: the report's
/// `auto`, checked against the others.
async fn rebuilt_and_served(app: &TestApp, user: i64, winner: &str) -> (Json, Json) {
    let report = app.rebuild().await;
    let auto = &report["auto"];
    assert_eq!(auto["strategy"], winner, "{report}");
    assert_eq!(auto["held_out"][0]["strategy"], winner, "{report}");
    let margin = auto["margin"].as_f64().unwrap();
    let runner_up = auto["held_out"][1]["precision_at_10"].as_f64().unwrap();
    let best = auto["held_out"][0]["precision_at_10"].as_f64().unwrap();
    assert!(
        margin > 0.0 && (best - runner_up - margin).abs() < 1e-9,
        "{report}"
    );

    let (status, list) = app.get("/v1/recommendations", traveller(user)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["strategy"], winner, "{list}");
    assert_eq!(list["model_version"], report["version"]);
    assert_eq!(&list["model_auto"], auto);

    let scraped = scrape(app).await;
    for strategy in ["item", "user", "ease", "rp3"] {
        let chosen = gauge(&scraped, "recommend_auto_choice", Some(strategy));
        assert_eq!(chosen, f64::from(strategy == winner), "{strategy}");
    }
    let exposed = gauge(&scraped, "recommend_auto_margin", None);
    assert!((exposed - margin).abs() < 1e-9, "{exposed} vs {margin}");
    let precision = gauge(&scraped, "recommend_auto_held_out_precision", Some(winner));
    assert!((precision - best).abs() < 1e-9);
    (report, list)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_similar_travellers_predict_best_auto_serves_user_based_lists_and_keeps_the_choice() {
    let app = spawn_app().await;
    seed(&app, twins()).await;
    let (report, auto_list) = rebuilt_and_served(&app, 1, "user").await;
    assert_eq!(
        report["auto"]["users"], 120,
        "the twins; the 3-star raters hold out nothing relevant"
    );
    assert!(
        report["auto"]["beta"].as_f64().is_some(),
        "rp3 was a candidate"
    );
    let (_, user_list) = app
        .get("/v1/recommendations?strategy=user", traveller(1))
        .await;
    assert_eq!(trip_ids(&auto_list), trip_ids(&user_list));
    assert_eq!(auto_list["results"][0]["source"], "user");

    // The next rebuild on the same data keeps the choice instead of paying for it again.
    let again = app.rebuild().await;
    assert_eq!(again["version"], report["version"].as_u64().unwrap() + 1);
    assert_eq!(again["auto"], report["auto"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_trips_go_together_auto_serves_ease_lists_that_complete_what_a_traveller_began() {
    let app = spawn_app().await;
    seed(&app, bundles()).await;
    rebuilt_and_served(&app, 1, "ease").await;
    completes_the_first_bundle(&app, "ease").await;
}

/// A new traveller who took three trips of the first bundle is offered the fourth first,
/// from `served`'s lists; returns the list.
async fn completes_the_first_bundle(app: &TestApp, served: &str) -> Json {
    for trip in 1..=3 {
        app.rate(5_000, trip, 5).await;
    }
    let (_, list) = app.get("/v1/recommendations", traveller(5_000)).await;
    assert_eq!(list["strategy"], served, "{list}");
    assert_eq!(trip_ids(&list)[0], 4, "{list}");
    assert_eq!(list["results"][0]["source"], served);
    let reason = list["results"][0]["reason"].as_str().unwrap();
    assert!(reason.starts_with("because you rated Trip "), "{reason}");
    list
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_popular_trips_are_never_what_travellers_liked_auto_serves_rp3_and_keeps_its_beta() {
    let app = spawn_app().await;
    seed(&app, blockbusters()).await;
    let (report, _) = rebuilt_and_served(&app, 1, "rp3").await;
    let beta = report["auto"]["beta"].as_f64().unwrap();
    assert!(beta > 0.5, "famous trips are penalised: {report}");
    served_rp3(&app, beta);
    let list = completes_the_first_bundle(&app, "rp3").await;

    // The next rebuild keeps the choice, β included, and still serves rp3's lists.
    let again = app.rebuild().await;
    assert_eq!(again["auto"], report["auto"]);
    served_rp3(&app, beta);
    let (_, kept) = app.get("/v1/recommendations", traveller(5_000)).await;
    assert_eq!(kept["model_version"], again["version"]);
    assert_eq!(trip_ids(&kept), trip_ids(&list), "{kept}");
    // rp3 is fitted only while auto serves it: it is no strategy to ask for.
    let (status, refused) = app
        .get("/v1/recommendations?strategy=rp3", traveller(5_000))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(error_code(&refused), "validation_failed", "{refused}");
}

/// The model behind `auto`'s lists is RP3beta with the β the choice learned.
fn served_rp3(app: &TestApp, beta: f64) {
    let snapshot = app.ctx.recommender().snapshot();
    let served = snapshot.model(Source::Rp3);
    assert_eq!(served.strategy, Strategy::Rp3);
    assert!((f64::from(served.learned.beta) - beta).abs() < 1e-6);
}
